import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_RETAIN,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_NETWORK,
  ANNOTATION_SPECIFIED_SUBNET,
  LABEL_NETWORK_TYPE,
  LABEL_SPECIFIED_NETWORK,
  LABEL_SPECIFIED_SUBNET,
} from '../api/index.ts';
import { TEST_DEFAULTS, ipInstance, namespace, network, pod, storeOf, subnet } from '../webhook/testdata.ts';
import { PodSelectionError } from './errors.ts';
import { selectPodNetwork } from './select.ts';
import type { PodLike, SelectionDefaults } from './types.ts';

const store = storeOf({
  networks: [
    network('underlay1', { type: 'Underlay', mode: 'VLAN', netID: 100, nodeSelector: { rack: 'a' } }),
    network('underlay2', { type: 'Underlay', nodeSelector: { rack: 'b' } }),
    network('overlay', { type: 'Overlay', netID: 4 }),
  ],
  subnets: [
    subnet('u1-v4', 'underlay1', { version: '4', cidr: '10.0.0.0/24', gateway: '10.0.0.1' }),
    subnet('u1-v6', 'underlay1', { version: '6', cidr: 'fd00::/64', gateway: 'fd00::1' }),
    subnet('u2-v4', 'underlay2', { version: '4', cidr: '10.1.0.0/24', gateway: '10.1.0.1' }),
    subnet('u2-v6', 'underlay2', { version: '6', cidr: 'fd01::/64', gateway: 'fd01::1' }),
    subnet('ov-v4', 'overlay', { version: '4', cidr: '100.64.0.0/16' }),
  ],
  ipinstances: [
    ipInstance('ns1', '10.0.0.7', { network: 'underlay1', subnet: 'u1-v4', podName: 'web-0' }),
    ipInstance('ns1', 'fd00::7', { network: 'underlay1', subnet: 'u1-v6', podName: 'web-0' }),
    ipInstance('ns1', '10.0.0.8', { network: 'underlay1', subnet: 'u1-v4', podName: 'web-1' }),
    ipInstance('ns1', '10.0.0.9', { network: 'underlay1', subnet: 'u1-v4', podName: 'web-2', terminating: true }),
    ipInstance('ns1', '10.0.0.10', { network: 'underlay1', subnet: 'u1-v4', podName: 'bad-0' }),
    ipInstance('ns1', '10.0.0.11', { network: 'underlay1', subnet: 'u1-v4', podName: 'bad-0' }),
  ],
});

const sts = { kind: 'StatefulSet', name: 'web' };

function select(p: PodLike, ns = namespace('ns1'), defaults: SelectionDefaults = TEST_DEFAULTS) {
  return selectPodNetwork(p, 'ns1', ns, store, defaults);
}

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof PodSelectionError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a PodSelectionError');
}

describe('selectPodNetwork (SPEC §4.4)', () => {
  it('uses the defaults when nothing is specified anywhere', () => {
    expect(select(pod('ns1', 'p'))).toEqual({
      network: '',
      subnets: [],
      networkType: 'Underlay',
      ipFamily: 'IPv4Only',
      retainedIPExist: false,
      source: 'defaults',
    });
  });

  it('takes retained IPs first: a re-created stateful pod keeps network and family (DualStack from v4+v6)', () => {
    const p = pod('ns1', 'web-0', {
      owner: sts,
      annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'overlay', [ANNOTATION_IP_FAMILY]: 'IPv4' },
    });
    expect(select(p)).toEqual({
      network: 'underlay1',
      subnets: [],
      networkType: 'Underlay',
      ipFamily: 'DualStack',
      networkNodeSelector: { rack: 'a' },
      retainedIPExist: true,
      source: 'retained-ips',
    });
    expect(select(pod('ns1', 'web-1', { owner: sts }))).toMatchObject({ ipFamily: 'IPv4Only', retainedIPExist: true });
  });

  it('ignores retained IPs of non-stateful pods, with ip-retain=false, and terminating ones', () => {
    expect(select(pod('ns1', 'web-0'))).toMatchObject({ retainedIPExist: false, source: 'defaults' });
    expect(select(pod('ns1', 'web-0', { owner: { kind: 'ReplicaSet', name: 'x' } }))).toMatchObject({
      retainedIPExist: false,
    });
    expect(select(pod('ns1', 'web-0', { owner: sts, annotations: { [ANNOTATION_IP_RETAIN]: 'f' } }))).toMatchObject({
      retainedIPExist: false,
    });
    // unparsable ip-retain ⇒ default (true)
    expect(select(pod('ns1', 'web-0', { owner: sts, annotations: { [ANNOTATION_IP_RETAIN]: 'yes' } }))).toMatchObject({
      retainedIPExist: true,
    });
    expect(select(pod('ns1', 'web-2', { owner: sts }))).toMatchObject({ retainedIPExist: false });
    expect(select(pod('ns1', 'web-0', { owner: sts }), undefined, { ...TEST_DEFAULTS, ipRetain: false })).toMatchObject(
      { retainedIPExist: false },
    );
  });

  it('refuses two retained IPs of one family', () => {
    expect(failure(() => select(pod('ns1', 'bad-0', { owner: sts })))).toEqual({
      code: 'retained-ips',
      message:
        'pod ns1/bad-0 holds two retained IPv4 IPInstances (10-0-0-10, 10-0-0-11); two retained addresses must be one IPv4 and one IPv6',
    });
  });

  it('reads the pod before the namespace, with no per-field merge', () => {
    const ns = namespace('ns1', {
      annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'underlay2', [ANNOTATION_IP_FAMILY]: 'DualStack' },
    });
    expect(select(pod('ns1', 'p', { annotations: { [ANNOTATION_NETWORK_TYPE]: 'overlay' } }), ns)).toEqual({
      network: '',
      subnets: [],
      networkType: 'Overlay',
      ipFamily: 'IPv4Only',
      retainedIPExist: false,
      source: 'pod',
    });
    expect(select(pod('ns1', 'p'), ns)).toMatchObject({
      network: 'underlay2',
      networkType: 'Underlay',
      ipFamily: 'DualStack',
      networkNodeSelector: { rack: 'b' },
      source: 'namespace',
    });
  });

  it('prefers the annotation over the label for network, subnet and type', () => {
    const p = pod('ns1', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'underlay1', [ANNOTATION_SPECIFIED_SUBNET]: 'u1-v4' },
      labels: {
        [LABEL_SPECIFIED_NETWORK]: 'underlay2',
        [LABEL_SPECIFIED_SUBNET]: 'u2-v4',
        [LABEL_NETWORK_TYPE]: 'Overlay',
      },
    });
    // type from the label (no annotation) mismatches underlay1
    expect(failure(() => select(p))).toEqual({
      code: 'network-type-mismatch',
      message:
        'pod ns1/p label networking.alibaba.com/network-type "Overlay" mismatches network underlay1 of type Underlay (specified network type mismatch)',
    });
    const q = pod('ns1', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'underlay1', [ANNOTATION_NETWORK_TYPE]: 'underlay' },
      labels: { [LABEL_SPECIFIED_NETWORK]: 'underlay2', [LABEL_NETWORK_TYPE]: 'Overlay' },
    });
    expect(select(q)).toMatchObject({ network: 'underlay1', networkType: 'Underlay' });
    const labelsOnly = pod('ns1', 'p', { labels: { [LABEL_SPECIFIED_SUBNET]: 'u2-v4' } });
    expect(select(labelsOnly)).toMatchObject({ network: 'underlay2', subnets: ['u2-v4'], source: 'pod' });
  });

  it('reads ip-family from the annotation only', () => {
    const p = pod('ns1', 'p', { labels: { [ANNOTATION_IP_FAMILY]: 'DualStack' } });
    expect(select(p)).toMatchObject({ ipFamily: 'IPv4Only', source: 'defaults' });
    expect(select(pod('ns1', 'p', { annotations: { [ANNOTATION_IP_FAMILY]: 'ipv6' } }))).toMatchObject({
      ipFamily: 'IPv6Only',
    });
  });

  it('accepts "<v4>/<v6>" subnets of one network and implies the network', () => {
    const p = pod('ns1', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'u1-v4/u1-v6', [ANNOTATION_IP_FAMILY]: 'DualStack' },
    });
    expect(select(p)).toEqual({
      network: 'underlay1',
      subnets: ['u1-v4', 'u1-v6'],
      networkType: 'Underlay',
      ipFamily: 'DualStack',
      networkNodeSelector: { rack: 'a' },
      retainedIPExist: false,
      source: 'pod',
    });
  });

  it.each([
    [
      'u1-v6/u1-v4',
      'subnet-order',
      'pod ns1/p annotation networking.alibaba.com/specified-subnet "u1-v6/u1-v4": the first subnet u1-v6 is IPv6; with two names the first must be the IPv4 subnet and the second the IPv6 subnet ("<v4subnet>/<v6subnet>")',
    ],
    [
      'u1-v4/u2-v4',
      'subnet-order',
      'pod ns1/p annotation networking.alibaba.com/specified-subnet "u1-v4/u2-v4": the second subnet u2-v4 is IPv4; with two names the first must be the IPv4 subnet and the second the IPv6 subnet ("<v4subnet>/<v6subnet>")',
    ],
    [
      'u1-v4/u2-v6',
      'subnet-network-mismatch',
      'pod ns1/p annotation networking.alibaba.com/specified-subnet "u1-v4/u2-v6": subnet u1-v4 is in network underlay1 but subnet u2-v6 is in network underlay2; both subnets must be in the same network',
    ],
    [
      'nope',
      'subnet-not-found',
      'pod ns1/p annotation networking.alibaba.com/specified-subnet "nope": subnet nope not found',
    ],
    [
      'a/b/c',
      'subnet-count',
      'pod ns1/p annotation networking.alibaba.com/specified-subnet "a/b/c" names 3 subnets; at most two are allowed: "<subnet>" or "<v4subnet>/<v6subnet>"',
    ],
    [
      'u1-v4/',
      'subnet-count',
      'pod ns1/p annotation networking.alibaba.com/specified-subnet "u1-v4/" has an empty subnet name; use "<subnet>" or "<v4subnet>/<v6subnet>"',
    ],
  ])('refuses specified-subnet %s (%s)', (value, code, message) => {
    const p = pod('ns1', 'p', { annotations: { [ANNOTATION_SPECIFIED_SUBNET]: value } });
    expect(failure(() => select(p))).toEqual({ code, message });
  });

  it('refuses a specified network that differs from the subnet network, or does not exist', () => {
    const p = pod('ns1', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'underlay2', [ANNOTATION_SPECIFIED_SUBNET]: 'u1-v4' },
    });
    expect(failure(() => select(p))).toEqual({
      code: 'network-subnet-conflict',
      message:
        'pod ns1/p annotation networking.alibaba.com/specified-network "underlay2" conflicts with pod ns1/p annotation networking.alibaba.com/specified-subnet "u1-v4": subnet u1-v4 belongs to network underlay1',
    });
    const q = pod('ns1', 'p', { annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'ghost' } });
    expect(failure(() => select(q))).toEqual({
      code: 'network-not-found',
      message:
        'pod ns1/p annotation networking.alibaba.com/specified-network "ghost": specified network ghost not found',
    });
  });

  it('inherits the type of the specified network and checks a given type against it', () => {
    expect(select(pod('ns1', 'p', { annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'overlay' } }))).toMatchObject({
      networkType: 'Overlay',
      networkNodeSelector: {},
    });
    const p = pod('ns1', 'p', {
      annotations: { [ANNOTATION_SPECIFIED_NETWORK]: 'overlay', [ANNOTATION_NETWORK_TYPE]: 'Underlay' },
    });
    expect(failure(() => select(p)).code).toBe('network-type-mismatch');
  });

  it('refuses invalid type and family, naming the source (annotation or environment)', () => {
    expect(failure(() => select(pod('ns1', 'p', { annotations: { [ANNOTATION_NETWORK_TYPE]: 'vlan' } })))).toEqual({
      code: 'invalid-network-type',
      message:
        'pod ns1/p annotation networking.alibaba.com/network-type "vlan" is not a network type: use Underlay, Overlay or GlobalBGP',
    });
    expect(failure(() => select(pod('ns1', 'p', { annotations: { [ANNOTATION_IP_FAMILY]: 'v4' } })))).toEqual({
      code: 'invalid-ip-family',
      message:
        'pod ns1/p annotation networking.alibaba.com/ip-family "v4" is not an IP family: use IPv4 (IPv4Only), IPv6 (IPv6Only) or DualStack',
    });
    expect(failure(() => select(pod('ns1', 'p'), undefined, { ...TEST_DEFAULTS, networkType: 'Fabric' }))).toEqual({
      code: 'invalid-network-type',
      message: 'environment DEFAULT_NETWORK_TYPE "Fabric" is not a network type: use Underlay, Overlay or GlobalBGP',
    });
  });

  it('uses the namespace when the pod says nothing, with namespace wording in errors', () => {
    const ns = namespace('ns1', { labels: { [LABEL_SPECIFIED_SUBNET]: 'u1-v6/u1-v4' } });
    expect(failure(() => select(pod('ns1', 'p'), ns)).message).toBe(
      'namespace ns1 label networking.alibaba.com/specified-subnet "u1-v6/u1-v4": the first subnet u1-v6 is IPv6; with two names the first must be the IPv4 subnet and the second the IPv6 subnet ("<v4subnet>/<v6subnet>")',
    );
  });
});
