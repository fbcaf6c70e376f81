/**
 * The admission rules against objects of any shape (issue #5/#6 hardening). The API server decodes Pods strictly, but
 * mutating webhooks see custom resources before their schema is checked, and a misrouted webhook configuration can
 * send any kind: every rule must return a Decision for every input, never throw (a throw is an "internal error"
 * denial of a Pod whose webhook fails closed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_POOL,
  ANNOTATION_IP_RETAIN,
  ANNOTATION_MAC_POOL,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_NETWORK,
  ANNOTATION_SPECIFIED_SUBNET,
} from '../../api/index.ts';
import type { AdmissionOperation } from '../admission.ts';
import { TEST_DEFAULTS, network, node, storeOf, subnet } from '../testdata.ts';
import { admissionHandlers } from './index.ts';
import { DEFAULT_IPINSTANCE_ADMIN_GROUPS, DEFAULT_IPINSTANCE_WRITERS } from './ipinstance.ts';
import { request } from './request.testkit.ts';

const handlers = admissionHandlers(
  storeOf({
    networks: [
      network('under', { type: 'Underlay', mode: 'VLAN', netID: 10, nodeSelector: { zone: 'a' } }),
      network('over', { type: 'Overlay', netID: 4 }),
    ],
    subnets: [
      subnet('under-v4', 'under', { version: '4', cidr: '10.0.0.0/24', gateway: '10.0.0.1' }),
      subnet('over-v4', 'over', { version: '4', cidr: '10.1.0.0/16' }),
    ],
    nodes: [node('n1', { zone: 'a' })],
  }),
  {
    defaults: TEST_DEFAULTS,
    ipInstancePolicy: { allowedUsers: DEFAULT_IPINSTANCE_WRITERS, adminGroups: DEFAULT_IPINSTANCE_ADMIN_GROUPS },
  },
);

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('under', 'over', 'under-v4', '10.0.0.5', 'IPv4', 'DualStack', 'Overlay', '10.0.0.0/24', '-1', ''),
);
const annotations = fc.dictionary(
  fc.constantFrom(
    ANNOTATION_SPECIFIED_NETWORK,
    ANNOTATION_SPECIFIED_SUBNET,
    ANNOTATION_NETWORK_TYPE,
    ANNOTATION_IP_FAMILY,
    ANNOTATION_IP_POOL,
    ANNOTATION_MAC_POOL,
    ANNOTATION_IP_RETAIN,
  ),
  anyValue,
);
const specKeys = [
  'type',
  'mode',
  'netID',
  'nodeSelector',
  'network',
  'range',
  'config',
  'address',
  'binding',
  'nodeName',
  'containers',
  'version',
  'cidr',
  'start',
  'end',
  'gateway',
  'excludeIPs',
  'reservedIPs',
];
const spec = fc.oneof(
  fc.dictionary(
    fc.constantFrom(...specKeys),
    fc.oneof(anyValue, fc.dictionary(fc.constantFrom(...specKeys), anyValue)),
  ),
  anyValue,
);
const shaped = fc.record(
  {
    apiVersion: anyValue,
    kind: anyValue,
    metadata: fc.oneof(
      fc.record(
        {
          name: anyValue,
          namespace: anyValue,
          annotations: fc.oneof(annotations, anyValue),
          labels: fc.oneof(annotations, anyValue),
          ownerReferences: fc.oneof(
            fc.array(fc.record({ kind: anyValue, name: anyValue }, { requiredKeys: [] })),
            anyValue,
          ),
        },
        { requiredKeys: [] },
      ),
      anyValue,
    ),
    spec,
    status: anyValue,
  },
  { requiredKeys: [] },
);
const object = fc.oneof(shaped, fc.jsonValue({ maxDepth: 4 }), fc.constant(undefined));
const kinds = ['Network', 'Subnet', 'IPInstance', 'Pod'] as const;
const operations: AdmissionOperation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

describe('admission rules on objects of any shape', () => {
  it.each(kinds)('%s: validate and mutate return a Decision and never throw', (kind) => {
    fc.assert(
      fc.property(fc.constantFrom(...operations), object, object, (op, obj, old) => {
        const req = request(kind, op, obj, old);
        expect(typeof handlers.validate(req).allowed).toBe('boolean');
        expect(typeof handlers.mutate(req).allowed).toBe('boolean');
      }),
      { numRuns: 400 },
    );
  });
});
