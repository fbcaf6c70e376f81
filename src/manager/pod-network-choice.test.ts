import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_HANDLED_BY_WEBHOOK,
  ANNOTATION_IP_FAMILY,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_NETWORK,
  HANDLED_BY_WEBHOOK_VALUE,
  LABEL_BGP_NETWORK_ATTACHMENT,
  type Network,
} from '../api/index.ts';
import { network, node, storeOf } from '../webhook/testdata.ts';
import { PodAllocationError, choosePodNetwork, type PodNetworkChoice, type PodSettings } from './pod-network-choice.ts';

const settings: PodSettings = {
  defaultNetworkType: 'Underlay',
  defaultIPFamily: 'IPv4Only',
  statefulWorkloadKinds: ['StatefulSet'],
  defaultIPRetain: true,
};

const terminating = network('a-underlay', { type: 'Underlay', nodeSelector: { rack: 'a' } });
terminating.metadata.deletionTimestamp = new Date('2026-01-01T00:00:00Z');
const networks: Network[] = [
  terminating,
  network('b-underlay', { type: 'Underlay', nodeSelector: { rack: 'a' } }),
  network('c-underlay', { type: 'Underlay', nodeSelector: { rack: 'a' } }),
  network('other-rack', { type: 'Underlay', nodeSelector: { rack: 'z' } }),
  network('gbgp', { type: 'GlobalBGP' }),
];

/** The choice for a pod `ns1/p` on a node labelled `nodeLabels`, or the refusal message. */
function choose(annotations: Record<string, string>, nodeLabels: Record<string, string>): PodNetworkChoice | string {
  const pod: V1Pod = {
    metadata: { namespace: 'ns1', name: 'p', annotations },
    spec: { nodeName: 'n', containers: [] },
  };
  const view = { namespace: undefined, node: node('n', nodeLabels), networks, selection: storeOf({ networks }) };
  try {
    return choosePodNetwork(pod, view, settings);
  } catch (err) {
    if (err instanceof PodAllocationError) return err.message;
    throw err;
  }
}

describe('choosePodNetwork (SPEC §4.5)', () => {
  it('underlay: the first live underlay network by name whose nodeSelector matches the node', () => {
    expect(choose({}, { rack: 'a' })).toEqual({
      network: 'b-underlay',
      subnets: [],
      family: 'IPv4Only',
      networkType: 'Underlay',
    });
    expect(choose({}, { rack: 'q' })).toBe('unable to find underlay network for node n, should check webhook liveness');
  });

  it('a specified network must exist and hold the node', () => {
    expect(choose({ [ANNOTATION_SPECIFIED_NETWORK]: 'c-underlay' }, { rack: 'a' })).toBe(
      'different network selection between controller(b-underlay) and webhook(c-underlay): ' +
        'node n is not in network c-underlay',
    );
    expect(choose({ [ANNOTATION_SPECIFIED_NETWORK]: 'nope' }, { rack: 'a' })).toMatch(/nope.*not found/);
  });

  it('GlobalBGP needs the node attachment label unless the webhook handled the pod, which is taken at its word', () => {
    const bgp = { [ANNOTATION_NETWORK_TYPE]: 'GlobalBGP' };
    expect(choose(bgp, {})).toBe('unable to find GlobalBGP network for node n');
    expect(choose(bgp, { [LABEL_BGP_NETWORK_ATTACHMENT]: 'true' })).toMatchObject({ network: 'gbgp' });
    const handled = {
      ...bgp,
      [ANNOTATION_HANDLED_BY_WEBHOOK]: HANDLED_BY_WEBHOOK_VALUE,
      [ANNOTATION_IP_FAMILY]: 'IPv6',
    };
    expect(choose(handled, {})).toEqual({ network: 'gbgp', subnets: [], family: 'IPv6Only', networkType: 'GlobalBGP' });
    expect(choose({ ...handled, [ANNOTATION_SPECIFIED_NETWORK]: 'c-underlay' }, {})).toMatchObject({
      network: 'c-underlay',
    });
    expect(choose({ ...handled, [ANNOTATION_IP_FAMILY]: 'IPv5' }, {})).toBe('invalid ip family "IPv5"');
  });
});
