import { describe, expect, it } from 'vitest';
import type { Subnet, SubnetSpec } from '../../api/index.ts';
import { ipInstance, network, storeOf, subnet } from '../testdata.ts';
import { request } from './request.testkit.ts';
import { validateSubnet } from './subnet.ts';

const store = storeOf({
  networks: [
    network('vlan', { type: 'Underlay', mode: 'VLAN', netID: 100, nodeSelector: { rack: 'a' } }),
    network('vlan-noid', { type: 'Underlay', mode: 'VLAN', nodeSelector: { rack: 'b' } }),
    network('bgp', {
      type: 'Underlay',
      mode: 'BGP',
      netID: 65001,
      nodeSelector: { rack: 'c' },
      config: { bgpPeers: [{ asn: 65000, address: '10.255.0.1' }] },
    }),
    network('overlay', { type: 'Overlay', netID: 4 }),
  ],
  subnets: [
    subnet('existing', 'vlan', {
      version: '4',
      cidr: '10.0.0.0/24',
      gateway: '10.0.0.1',
      start: '10.0.0.10',
      end: '10.0.0.100',
    }),
    subnet('ov6', 'overlay', { version: '6', cidr: 'fd00:1::/64' }),
  ],
  ipinstances: [
    ipInstance('ns', '10.0.0.50', { network: 'vlan', subnet: 'existing', podName: 'web-0', nodeName: 'n1' }),
    ipInstance('ns', '10.0.0.90', { network: 'vlan', subnet: 'existing', podName: 'web-1' }),
  ],
});

function create(name: string, net: string, range: SubnetSpec['range'], extra: Partial<SubnetSpec> = {}) {
  return validateSubnet(request('Subnet', 'CREATE', subnet(name, net, range, extra)), store);
}

const v4 = (cidr: string, more: Partial<SubnetSpec['range']> = {}): SubnetSpec['range'] => ({
  version: '4',
  cidr,
  ...more,
});

describe('validateSubnet CREATE (SPEC §5.3, D1, D9, D10)', () => {
  it.each<[string, string, SubnetSpec['range'], Partial<SubnetSpec>?]>([
    ['a VLAN subnet with gateway', 'vlan', v4('10.1.0.0/24', { gateway: '10.1.0.1' })],
    ['an IPv4 /8 (no size cap, D1)', 'overlay', v4('11.0.0.0/8')],
    ['an IPv6 /64 (no size cap, D1)', 'overlay', { version: '6', cidr: 'fd00:2::/64' }],
    ['a /30', 'overlay', v4('10.9.0.0/30')],
    [
      'a VLAN subnet with its own id 4094 on a network without id',
      'vlan-noid',
      v4('10.2.0.0/24', { gateway: '10.2.0.1' }),
      { netID: 4094 },
    ],
    ['a subnet with start = end', 'overlay', v4('10.3.0.0/24', { start: '10.3.0.5', end: '10.3.0.5' })],
    ['autoNatOutgoing on overlay', 'overlay', v4('10.4.0.0/24'), { config: { autoNatOutgoing: false } }],
    [
      'the same CIDR in the same network with disjoint ranges',
      'vlan',
      v4('10.0.0.0/24', { gateway: '10.0.0.1', start: '10.0.0.101', end: '10.0.0.200' }),
    ],
  ])('accepts %s', (_, net, range, extra) => {
    expect(create('new', net, range, extra)).toEqual({ allowed: true });
  });

  it.each<[string, string, SubnetSpec['range'], Partial<SubnetSpec>, string, string[]]>([
    [
      'start after end',
      'overlay',
      v4('10.5.0.0/24', { start: '10.0.0.9', end: '10.0.0.5' }),
      {},
      'subnet.range.address',
      ['spec.range.start 10.0.0.9 is not in CIDR 10.5.0.0/24', 'spec.range.end 10.0.0.5 is not in CIDR 10.5.0.0/24'],
    ],
    [
      'end before start',
      'overlay',
      v4('10.0.0.0/16', { start: '10.0.0.9', end: '10.0.0.5' }),
      {},
      'subnet.range.order',
      ['spec.range.end 10.0.0.5 is before spec.range.start 10.0.0.9'],
    ],
    [
      'end before the default start',
      'overlay',
      v4('10.6.0.0/24', { end: '10.6.0.0' }),
      {},
      'subnet.range.order',
      ['spec.range.end 10.6.0.0 is before the default start 10.6.0.1 (network address + 1)'],
    ],
    [
      'a /32',
      'overlay',
      v4('10.7.0.1/32'),
      {},
      'subnet.range.prefix',
      [
        'spec.range.cidr 10.7.0.1/32 is too small to allocate from: a subnet needs at least 4 addresses (prefix /30 or shorter for IPv4)',
      ],
    ],
    [
      'a /31',
      'overlay',
      v4('10.7.0.0/31'),
      {},
      'subnet.range.prefix',
      [
        'spec.range.cidr 10.7.0.0/31 is too small to allocate from: a subnet needs at least 4 addresses (prefix /30 or shorter for IPv4)',
      ],
    ],
    [
      'a /128',
      'overlay',
      { version: '6', cidr: 'fd00:9::1/128' },
      {},
      'subnet.range.prefix',
      [
        'spec.range.cidr fd00:9::1/128 is too small to allocate from: a subnet needs at least 4 addresses (prefix /126 or shorter for IPv6)',
      ],
    ],
    [
      'a /127',
      'overlay',
      { version: '6', cidr: 'fd00:9::/127' },
      {},
      'subnet.range.prefix',
      [
        'spec.range.cidr fd00:9::/127 is too small to allocate from: a subnet needs at least 4 addresses (prefix /126 or shorter for IPv6)',
      ],
    ],
    [
      'a CIDR with host bits',
      'overlay',
      v4('10.8.0.1/24'),
      {},
      'subnet.range.cidr',
      [
        'spec.range.cidr 10.8.0.1/24 is not standard: it should start from 10.8.0.0 but starts from 10.8.0.1 (use 10.8.0.0/24)',
      ],
    ],
    [
      'a CIDR of the other family',
      'overlay',
      v4('fd00:3::/64'),
      {},
      'subnet.range.cidr',
      ['spec.range.cidr fd00:3::/64 is IPv6 but spec.range.version is "4"'],
    ],
    [
      'gateway of the other family and outside addresses',
      'overlay',
      v4('10.10.0.0/24', { gateway: 'fd00::1', reservedIPs: ['10.10.0.5', '10.11.0.5'], excludeIPs: ['x'] }),
      {},
      'subnet.range.address',
      [
        'spec.range.gateway fd00::1 is IPv6 but spec.range.version is "4"',
        'spec.range.excludeIPs[0] "x" is not a valid IP address: an IPv4 address must have exactly four dot-separated decimal parts (got 1)',
        'spec.range.reservedIPs[1] 10.11.0.5 is not in CIDR 10.10.0.0/24',
      ],
    ],
    [
      'a range with nothing allocatable',
      'overlay',
      v4('10.12.0.0/24', { start: '10.12.0.1', end: '10.12.0.2', gateway: '10.12.0.1', excludeIPs: ['10.12.0.2'] }),
      {},
      'subnet.range.empty',
      [
        'spec.range [10.12.0.1, 10.12.0.2] has no allocatable address: every address in it is the gateway or in spec.range.excludeIPs (subnet should have at least one available IP)',
      ],
    ],
    [
      'a VLAN subnet without gateway',
      'vlan',
      v4('10.13.0.0/24'),
      {},
      'subnet.gateway.required',
      ['spec.range.gateway is empty: must assign gateway for a vlan subnet'],
    ],
    [
      'VLAN id 4095 on the subnet',
      'vlan-noid',
      v4('10.14.0.0/24', { gateway: '10.14.0.1' }),
      { netID: 4095 },
      'network.net-id.range',
      ['spec.netID 4095 is not a valid VLAN id: must be 0–4094'],
    ],
    [
      'no VLAN id anywhere',
      'vlan-noid',
      v4('10.15.0.0/24', { gateway: '10.15.0.1' }),
      {},
      'subnet.net-id.required',
      [
        'spec.netID is null and network vlan-noid has no netID: must have valid Net ID (a VLAN id 0–4094 on the subnet or its network)',
      ],
    ],
    [
      'a VLAN id different from the network',
      'vlan',
      v4('10.16.0.0/24', { gateway: '10.16.0.1' }),
      { netID: 200 },
      'subnet.net-id.inconsistent',
      ['spec.netID 200 differs from netID 100 of network vlan: have inconsistent Net ID with network'],
    ],
    [
      'netID and autoNatOutgoing on BGP',
      'bgp',
      v4('10.17.0.0/24'),
      { netID: 5, config: { autoNatOutgoing: true } },
      'subnet.net-id.forbidden',
      [
        'spec.netID 5 must be null for a subnet of BGP network bgp',
        'spec.config.autoNatOutgoing true is only allowed on Overlay subnets, not on BGP network bgp',
      ],
    ],
    [
      'netID on overlay',
      'overlay',
      v4('10.18.0.0/24'),
      { netID: 4 },
      'subnet.net-id.forbidden',
      ['spec.netID 4 must be null for a subnet of VXLAN network overlay'],
    ],
    [
      'a CIDR overlapping a subnet of another network',
      'overlay',
      v4('10.0.0.0/16'),
      {},
      'subnet.overlap',
      [
        'spec.range.cidr 10.0.0.0/16 overlaps CIDR 10.0.0.0/24 of existing subnet existing (network vlan): different but overlapping CIDRs are not supported',
      ],
    ],
    [
      'the same CIDR in another network',
      'overlay',
      v4('10.0.0.0/24'),
      {},
      'subnet.overlap',
      [
        'spec.range.cidr 10.0.0.0/24 is already used by subnet existing of network vlan: subnets of different networks cannot share a CIDR',
      ],
    ],
    [
      'the same CIDR in the same network with overlapping ranges',
      'vlan',
      v4('10.0.0.0/24', { gateway: '10.0.0.1', start: '10.0.0.100', end: '10.0.0.200' }),
      {},
      'subnet.overlap',
      [
        'spec.range [10.0.0.100, 10.0.0.200] overlaps with existing subnet existing [10.0.0.10, 10.0.0.100] at 10.0.0.100',
      ],
    ],
    [
      'an IPv6 /64 inside an existing IPv6 /64 of another network',
      'vlan',
      { version: '6', cidr: 'fd00:1::/64', gateway: 'fd00:1::1' },
      {},
      'subnet.overlap',
      [
        'spec.range.cidr fd00:1::/64 is already used by subnet ov6 of network overlay: subnets of different networks cannot share a CIDR',
      ],
    ],
  ])('refuses %s', (_, net, range, extra, rule, reasons) => {
    expect(create('new', net, range, extra)).toEqual({ allowed: false, rule, reasons });
  });

  it('treats an excluded shared address as no overlap (interval arithmetic, D9)', () => {
    const range = v4('10.0.0.0/24', {
      gateway: '10.0.0.1',
      start: '10.0.0.100',
      end: '10.0.0.200',
      excludeIPs: ['10.0.0.100'],
    });
    expect(create('new', 'vlan', range)).toEqual({ allowed: true });
  });

  it('refuses a subnet without a parent', () => {
    expect(create('new', '', v4('10.20.0.0/24'))).toEqual({
      allowed: false,
      rule: 'subnet.network.required',
      reasons: ['spec.network is empty: must have parent network'],
    });
    expect(create('new', 'ghost', v4('10.20.0.0/24'))).toEqual({
      allowed: false,
      rule: 'subnet.network.missing',
      reasons: ['spec.network ghost: parent network ghost does not exist'],
    });
  });
});

describe('validateSubnet UPDATE (SPEC §5.3)', () => {
  const old = store.getSubnet('existing') as Subnet;
  const update = (spec: SubnetSpec) => validateSubnet(request('Subnet', 'UPDATE', { ...old, spec }, old), store);

  it('allows reservedIPs, private and a range change that keeps every IPInstance', () => {
    expect(update({ ...old.spec, range: { ...old.spec.range, reservedIPs: ['10.0.0.20'] } })).toEqual({
      allowed: true,
    });
    expect(update({ ...old.spec, config: { private: true } })).toEqual({ allowed: true });
    expect(update({ ...old.spec, range: { ...old.spec.range, end: '10.0.0.95' } })).toEqual({ allowed: true });
  });

  it('refuses a range change that would strand allocated or reserved addresses', () => {
    expect(update({ ...old.spec, range: { ...old.spec.range, end: '10.0.0.60', excludeIPs: ['10.0.0.50'] } })).toEqual({
      allowed: false,
      rule: 'subnet.range.strand',
      reasons: [
        'spec.range [10.0.0.10, 10.0.0.60] excluding 1 excludeIPs would strand IPInstances ns/10-0-0-50 (10.0.0.50, pod web-0), ns/10-0-0-90 (10.0.0.90, pod web-1) of subnet existing: release those addresses first',
      ],
    });
  });

  it('refuses changes of immutable fields', () => {
    expect(update({ ...old.spec, network: 'overlay' })).toEqual({
      allowed: false,
      rule: 'subnet.immutable',
      reasons: ['spec.network is immutable: vlan cannot change to overlay'],
    });
    expect(
      update({ ...old.spec, netID: 100, range: { ...old.spec.range, cidr: '10.0.0.0/23', gateway: '10.0.0.254' } }),
    ).toEqual({
      allowed: false,
      rule: 'subnet.immutable',
      reasons: [
        'spec.range.cidr is immutable: "10.0.0.0/24" cannot change to "10.0.0.0/23"',
        'spec.range.gateway is immutable: "10.0.0.1" cannot change to "10.0.0.254"',
        'spec.netID is immutable: null cannot change to 100',
      ],
    });
  });

  it('refuses autoNatOutgoing appearing on a VLAN subnet', () => {
    expect(update({ ...old.spec, config: { autoNatOutgoing: true } })).toMatchObject({ rule: 'subnet.auto-nat' });
  });
});

describe('validateSubnet DELETE (SPEC §5.3)', () => {
  it('refuses while IPInstances (allocated or reserved) use the subnet', () => {
    const old = store.getSubnet('existing');
    expect(validateSubnet(request('Subnet', 'DELETE', undefined, old), store)).toEqual({
      allowed: false,
      rule: 'subnet.delete.in-use',
      reasons: [
        'subnet existing still has using ips: ns/10-0-0-50, ns/10-0-0-90 (2 IPInstances); they are released when their pods or StatefulSets are deleted',
      ],
    });
    expect(validateSubnet(request('Subnet', 'DELETE', undefined, store.getSubnet('ov6')), store)).toEqual({
      allowed: true,
    });
  });
});
