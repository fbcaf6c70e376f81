import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_POOL,
  ANNOTATION_MAC_POOL,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_NETWORK,
  ANNOTATION_SPECIFIED_SUBNET,
  LABEL_WEBHOOK_IGNORE,
} from '../../api/index.ts';
import type { SelectionDefaults } from '../../selection/index.ts';
import type { Decision } from '../decision.ts';
import { TEST_DEFAULTS, ipInstance, namespace, network, pod, storeOf, subnet } from '../testdata.ts';
import { mutatePod, validatePod } from './pod.ts';
import { request } from './request.testkit.ts';

const store = storeOf({
  networks: [
    network('u1', { type: 'Underlay', netID: 100, nodeSelector: { rack: 'a' } }),
    network('u2', { type: 'Underlay', nodeSelector: { rack: 'b' } }),
    network(
      'overlay',
      { type: 'Overlay', netID: 4 },
      {
        statistics: { total: 10, used: 10, available: 0 },
        ipv6Statistics: { total: 10, used: 1, available: 9 },
        dualStackStatistics: { available: 0 },
      },
    ),
  ],
  subnets: [
    subnet('v4', 'u1', { version: '4', cidr: '10.0.0.0/24', gateway: '10.0.0.1', excludeIPs: ['10.0.0.99'] }),
    subnet('v6', 'u1', { version: '6', cidr: 'fd00::/64', gateway: 'fd00::1' }),
    subnet('u2-v4', 'u2', { version: '4', cidr: '10.1.0.0/24', gateway: '10.1.0.1' }),
    subnet('ov4', 'overlay', { version: '4', cidr: '100.64.0.0/16' }),
  ],
  ipinstances: [ipInstance('ns', '10.0.0.7', { network: 'u1', subnet: 'v4', podName: 'web-0' })],
  namespaces: [namespace('ns'), namespace('tenant', { annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'u2' } })],
});

const sts = { kind: 'StatefulSet', name: 'web' };

function validate(p: object, defaults: SelectionDefaults = TEST_DEFAULTS) {
  return validatePod(request('Pod', 'CREATE', p), store, defaults);
}
function mutate(p: object, defaults: SelectionDefaults = TEST_DEFAULTS) {
  return mutatePod(request('Pod', 'CREATE', p), store, defaults);
}
function patchOf(d: Decision): Operation[] {
  if (!d.allowed || !d.patch) throw new Error(`expected an allowed decision with a patch, got ${JSON.stringify(d)}`);
  return d.patch;
}

describe('validatePod (SPEC §5.4, D2)', () => {
  it('accepts a DualStack pod with "<v4>/<v6>" subnets and refuses the names swapped', () => {
    const ok = pod('ns', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'v4/v6', [ANNOTATION_IP_FAMILY]: 'DualStack' },
    });
    expect(validate(ok)).toEqual({ allowed: true });
    const swapped = pod('ns', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'v6/v4', [ANNOTATION_IP_FAMILY]: 'DualStack' },
    });
    expect(validate(swapped)).toEqual({
      allowed: false,
      rule: 'pod.selection.subnet-order',
      reasons: [
        'pod ns/p annotation networking.alibaba.com/specified-subnet "v6/v4": the first subnet v6 is IPv6; with two names the first must be the IPv4 subnet and the second the IPv6 subnet ("<v4subnet>/<v6subnet>")',
      ],
    });
  });

  it('accepts a multi-entry ip-pool entry by entry (D2)', () => {
    const p = pod('ns', 'web-1', {
      owner: sts,
      annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'u1', [ANNOTATION_IP_POOL]: '10.0.0.10,10.0.0.11' },
    });
    expect(validate(p)).toEqual({ allowed: true });
    const dual = pod('ns', 'web-1', {
      owner: sts,
      annotations: {
        [ANNOTATION_SPECIFIED_SUBNET]: 'v4/v6',
        [ANNOTATION_IP_FAMILY]: 'DualStack',
        [ANNOTATION_IP_POOL]: '10.0.0.10/fd00::10,10.0.0.11/fd00::11',
      },
    });
    expect(validate(dual)).toEqual({ allowed: true });
  });

  it('names each bad ip-pool entry: empty, unparsable, wrong shape, outside, gateway, excluded, repeated', () => {
    const pool = '10.0.0.10,,10.0.0.300,fd00::5,10.2.0.1,10.0.0.1,10.0.0.99,10.0.0.10,10.0.0.12/fd00::12';
    const p = pod('ns', 'web-1', {
      owner: sts,
      annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'v4', [ANNOTATION_IP_POOL]: pool },
    });
    const head = `pod ns/web-1 annotation networking.alibaba.com/ip-pool ${JSON.stringify(pool)}`;
    expect(validate(p)).toEqual({
      allowed: false,
      rule: 'pod.ip-pool.entry',
      reasons: [
        `${head}: entry 2 "" is empty; remove the extra comma`,
        `${head}: entry 3 "10.0.0.300": "10.0.0.300" is not a valid IP address`,
        `${head}: entry 4 "fd00::5" does not fit ip-family IPv4Only: each entry must be one IPv4 address`,
        `${head}: entry 5 "10.2.0.1": 10.2.0.1 is not in any of the specified subnets v4`,
        `${head}: entry 6 "10.0.0.1": 10.0.0.1 is the gateway of subnet v4`,
        `${head}: entry 7 "10.0.0.99": 10.0.0.99 is in spec.range.excludeIPs of subnet v4`,
        `${head}: entry 8 "10.0.0.10": 10.0.0.10 is already used by entry 1`,
        `${head}: entry 9 "10.0.0.12/fd00::12" does not fit ip-family IPv4Only: each entry must be one IPv4 address`,
      ],
    });
  });

  it('refuses a DualStack ip-pool entry whose halves are not IPv4/IPv6', () => {
    const p = pod('ns', 'web-0', {
      owner: sts,
      annotations: {
        [ANNOTATION_SPECIFIED_NETWORK]: 'u1',
        [ANNOTATION_IP_FAMILY]: 'DualStack',
        [ANNOTATION_IP_POOL]: 'fd00::10/10.0.0.10',
      },
    });
    expect(validate(p)).toEqual({
      allowed: false,
      rule: 'pod.ip-pool.entry',
      reasons: [
        'pod ns/web-0 annotation networking.alibaba.com/ip-pool "fd00::10/10.0.0.10": entry 1 "fd00::10/10.0.0.10": a two-address entry must be "<IPv4>/<IPv6>"',
      ],
    });
  });

  it('requires a specified network or subnet for an ip-pool', () => {
    const p = pod('ns', 'web-1', { owner: sts, annotations: { [ANNOTATION_IP_POOL]: '10.0.0.10' } });
    expect(validate(p)).toEqual({
      allowed: false,
      rule: 'pod.ip-pool.unspecified',
      reasons: [
        'pod ns/web-1 annotation networking.alibaba.com/ip-pool "10.0.0.10" needs networking.alibaba.com/specified-network or networking.alibaba.com/specified-subnet on the pod: ip pool and network(subnet) must be specified at the same time',
      ],
    });
  });

  it('checks the mac-pool format', () => {
    const p = pod('ns', 'p', { annotations: { [ANNOTATION_MAC_POOL]: '02:12:34:00:00:01,,zz' } });
    const d = validate(p);
    expect(d).toMatchObject({ allowed: false, rule: 'pod.mac-pool' });
    expect(d.allowed === false && 'reasons' in d ? d.reasons : []).toEqual([
      'pod ns/p annotation networking.alibaba.com/mac-pool "02:12:34:00:00:01,,zz": entry 2 is empty; remove the extra comma',
      expect.stringMatching(
        /^pod ns\/p annotation networking.alibaba.com\/mac-pool "02:12:34:00:00:01,,zz": entry 3 "zz" is not a valid MAC address: /,
      ),
    ]);
  });

  it('refuses a pod whose retained address is in another network or subnet', () => {
    const p = pod('ns', 'web-0', { owner: sts, annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'u2' } });
    expect(validate(p)).toEqual({
      allowed: false,
      rule: 'pod.assigned-ip.network',
      reasons: [
        'pod ns/web-0 has assigned ip 10.0.0.7 (IPInstance 10-0-0-7) of network u1, cannot assign to another network u2',
      ],
    });
    const q = pod('ns', 'web-0', {
      owner: sts,
      annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'v6', [ANNOTATION_IP_FAMILY]: 'IPv6' },
    });
    expect(validate(q)).toMatchObject({ rule: 'pod.assigned-ip.subnet' });
  });

  it('refuses subnets that do not fit the ip-family', () => {
    const p = pod('ns', 'p', { annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'v6' } });
    expect(validate(p)).toEqual({
      allowed: false,
      rule: 'pod.subnet.family',
      reasons: [
        'pod ns/p annotation networking.alibaba.com/specified-subnet "v6": subnet v6 is IPv6 but ip-family is IPv4Only',
      ],
    });
    const q = pod('ns', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'v4', [ANNOTATION_IP_FAMILY]: 'DualStack' },
    });
    expect(validate(q)).toMatchObject({ rule: 'pod.subnet.family' });
  });

  it('refuses a network type that mismatches the specified network, and unknown networks', () => {
    const p = pod('ns', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'u1', [ANNOTATION_NETWORK_TYPE]: 'Overlay' },
    });
    expect(validate(p)).toEqual({
      allowed: false,
      rule: 'pod.network-type.mismatch',
      reasons: [
        'pod ns/p annotation networking.alibaba.com/network-type "Overlay" mismatches network u1 of type Underlay (specified network type mismatch)',
      ],
    });
    expect(validate(pod('ns', 'p', { annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'nope' } }))).toEqual({
      allowed: false,
      rule: 'pod.network.missing',
      reasons: [
        'pod ns/p annotation networking.alibaba.com/specified-network "nope": specified network nope not found',
      ],
    });
  });

  it('refuses Overlay pods when the overlay network reports no free address of the family', () => {
    const p = pod('ns', 'p', { annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay' } });
    expect(validate(p)).toEqual({
      allowed: false,
      rule: 'pod.network.capacity',
      reasons: [
        'pod ns/p: network overlay has no free ipv4 address (status.statistics.available 0): lacking ipv4 addresses by network type Overlay',
      ],
    });
    const v6 = pod('ns', 'p', {
      annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay', [ANNOTATION_IP_FAMILY]: 'IPv6' },
    });
    expect(validate(v6)).toEqual({ allowed: true });
    const g = pod('ns', 'p', { annotations: { [ANNOTATION_NETWORK_TYPE]: 'GlobalBGP' } });
    expect(validate(g)).toEqual({
      allowed: false,
      rule: 'pod.network.missing',
      reasons: ['pod ns/p network type GlobalBGP: no network found by type GlobalBGP'],
    });
  });

  it('skips ignored and host-network pods and non-CREATE operations', () => {
    const bad = { [ANNOTATION_SPECIFIED_NETWORK]: 'nope' };
    expect(validate(pod('ns', 'p', { annotations: bad, labels: { [LABEL_WEBHOOK_IGNORE]: 'true' } }))).toEqual({
      allowed: true,
      reason: 'skipped',
    });
    expect(validate(pod('ns', 'p', { annotations: bad, hostNetwork: true }))).toEqual({
      allowed: true,
      reason: 'skipped',
    });
    const upd = validatePod(request('Pod', 'UPDATE', pod('ns', 'p', { annotations: bad })), store, TEST_DEFAULTS);
    expect(upd).toEqual({ allowed: true, reason: 'by pass' });
  });
});

describe('mutatePod (SPEC §5.5)', () => {
  it('writes the §3.2 annotations and the network nodeSelector plus the quota selector', () => {
    const p = pod('ns', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'v4/v6', [ANNOTATION_IP_FAMILY]: 'dualstack' },
      nodeSelector: { disk: 'ssd' },
    });
    const d = mutate(p);
    if (!d.allowed || !d.patch) throw new Error('expected a patch');
    expect(d.patch).toHaveLength(6);
    expect(fastJsonPatch.applyPatch(structuredClone(p), d.patch).newDocument).toEqual({
      ...p,
      metadata: {
        ...p.metadata,
        annotations: {
          'networking.alibaba.com/specified-subnet': 'v4/v6',
          'networking.alibaba.com/specified-network': 'u1',
          'networking.alibaba.com/network-type': 'Underlay',
          'networking.alibaba.com/ip-family': 'DualStack',
          'networking.alibaba.com/handled-by-webhook': 'true',
        },
      },
      spec: {
        nodeSelector: { disk: 'ssd', rack: 'a', 'networking.alibaba.com/dualstack-address-quota': 'nonempty' },
      },
    });
  });

  it('steers unspecified underlay pods by the attachment label and overlay pods to overlay nodes', () => {
    const patch = patchOf(mutate(pod('ns', 'p')));
    expect(patch).toContainEqual({
      op: 'add',
      path: '/spec/nodeSelector',
      value: {
        'networking.alibaba.com/underlay-network-attachment': 'true',
        'networking.alibaba.com/ipv4-address-quota': 'nonempty',
      },
    });
    expect(patch).toContainEqual({
      op: 'add',
      path: '/metadata/annotations',
      value: {
        'networking.alibaba.com/network-type': 'Underlay',
        'networking.alibaba.com/ip-family': 'IPv4Only',
        'networking.alibaba.com/handled-by-webhook': 'true',
      },
    });
    expect(patchOf(mutate(pod('ns', 'p'), { ...TEST_DEFAULTS, networkType: 'Overlay' }))).toContainEqual({
      op: 'add',
      path: '/spec/nodeSelector',
      value: { 'networking.alibaba.com/overlay-network-attachment': 'true' },
    });
  });

  it('uses the namespace and omits the quota selector when the pod holds retained addresses', () => {
    expect(patchOf(mutate(pod('tenant', 'p')))).toContainEqual({
      op: 'add',
      path: '/spec/nodeSelector',
      value: { rack: 'b', 'networking.alibaba.com/ipv4-address-quota': 'nonempty' },
    });
    expect(patchOf(mutate(pod('ns', 'web-0', { owner: sts })))).toContainEqual({
      op: 'add',
      path: '/spec/nodeSelector',
      value: { rack: 'a' },
    });
  });

  it('only adds the network-unavailable toleration to host-network pods', () => {
    expect(mutate(pod('ns', 'p', { hostNetwork: true }))).toEqual({
      allowed: true,
      patch: [
        {
          op: 'add',
          path: '/spec/tolerations',
          value: [{ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' }],
        },
      ],
    });
  });

  it('denies with the selection message when the pod cannot be placed', () => {
    expect(mutate(pod('ns', 'p', { annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'v6/v4' } }))).toMatchObject({
      allowed: false,
      rule: 'pod.selection.subnet-order',
    });
  });
});
