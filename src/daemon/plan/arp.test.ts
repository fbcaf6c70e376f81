import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IPInstance, Network, Subnet } from '../../api/index.ts';
import { NETWORKING_API_VERSION } from '../../api/index.ts';
import { diffArpEnhancement, isEnhancedAddress, type ActualFlaggedAddress } from '../apply/diff.ts';
import { planArpEnhancement, type ArpEnhancementInput } from './arp.ts';
import { planNode } from './node.ts';
import type { LinkFacts, NodeFacts, PlanOptions } from './types.ts';

const network = (name: string, spec: Network['spec'], nodeList: string[]): Network => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'Network',
  metadata: { name },
  spec,
  status: { nodeList },
});

const subnet = (name: string, net: string, version: '4' | '6', cidr: string, gateway: string): Subnet => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'Subnet',
  metadata: { name },
  spec: { network: net, range: { version, cidr, gateway } },
});

const instance = (name: string, ip: string, sub: string, net = 'vlan', node = 'n1', netID: number | null = 0) =>
  ({
    apiVersion: NETWORKING_API_VERSION,
    kind: 'IPInstance',
    metadata: { name, namespace: 'default', labels: {} },
    spec: {
      network: net,
      subnet: sub,
      address: { version: ip.includes(':') ? '6' : '4', ip, mac: '02:12:34:00:00:01', netID },
      binding: {
        referredObject: { kind: 'Pod', name, uid: 'u' },
        nodeName: node,
        podUID: `uid-${name}`,
        podName: name,
      },
    },
  }) as IPInstance;

const eth0 = (extra: LinkFacts['addresses'] = []): LinkFacts => ({
  name: 'eth0',
  mtu: 1500,
  mac: '0a:00:00:00:00:01',
  addresses: [{ family: 4, ip: '192.168.56.11', prefixLength: 24, global: true, scope: 'global' }, ...extra],
});

const NETWORKS = [
  network('vlan', { type: 'Underlay', mode: 'VLAN', netID: 0 }, ['n1']),
  network('vlan7', { type: 'Underlay', mode: 'VLAN', netID: 7 }, ['n1']),
  network('other', { type: 'Underlay', mode: 'VLAN', netID: 0 }, ['n2']),
  network('ov', { type: 'Overlay', netID: 4 }, []),
];
const SUBNETS = [
  subnet('s230', 'vlan', '4', '10.230.0.0/24', '10.230.0.1'),
  subnet('s231', 'vlan', '4', '10.231.0.0/24', '10.231.0.1'),
  subnet('local', 'vlan', '4', '192.168.56.0/24', '192.168.56.1'),
  subnet('s6', 'vlan', '6', 'fd00:230::/64', 'fd00:230::1'),
  subnet('s7', 'vlan7', '4', '10.77.0.0/24', '10.77.0.1'),
  subnet('sother', 'other', '4', '10.240.0.0/24', '10.240.0.1'),
  subnet('ov4', 'ov', '4', '10.211.0.0/16', ''),
];

function input(instances: IPInstance[], links: LinkFacts[] = [eth0()]): ArpEnhancementInput {
  return {
    localInstances: instances,
    networks: new Map(NETWORKS.map((n) => [n.metadata?.name ?? '', n])),
    subnets: SUBNETS,
    links,
    vlanParent: 'eth0',
    nodeNetworks: new Set(['vlan', 'vlan7']),
    nodeAddresses: ['192.168.56.11'],
  };
}

describe('planArpEnhancement (SPEC §7.6)', () => {
  it('picks the lowest local pod IP per (VLAN forward interface, IPv4 subnet), with the subnet prefix', () => {
    const { plan, warnings } = planArpEnhancement(
      input([
        instance('a', '10.230.0.20/24', 's230'),
        instance('b', '10.230.0.9/24', 's230'),
        instance('c', '10.230.0.100/24', 's230'),
        instance('d', '10.231.0.5/24', 's231'),
        instance('e', '10.77.0.3/24', 's7', 'vlan7', 'n1', 7),
      ]),
    );
    expect(warnings).toEqual([]);
    expect(plan.addresses).toEqual([
      { dev: 'eth0', ip: '10.230.0.9', prefixLength: 24, subnet: '10.230.0.0/24' },
      { dev: 'eth0', ip: '10.231.0.5', prefixLength: 24, subnet: '10.231.0.0/24' },
      { dev: 'eth0.7', ip: '10.77.0.3', prefixLength: 24, subnet: '10.77.0.0/24' },
    ]);
    // every IPv4 VLAN subnet of the cluster, also those of networks without this node; no IPv6, no overlay
    expect(plan.subnets).toEqual([
      '10.230.0.0/24',
      '10.231.0.0/24',
      '10.240.0.0/24',
      '10.77.0.0/24',
      '192.168.56.0/24',
    ]);
    expect(plan.keep).toEqual(['192.168.56.11']);
  });

  it('is deterministic: the order of the IPInstances does not matter', () => {
    const all = Array.from({ length: 12 }, (_, i) => instance(`p${i}`, `10.230.0.${(i * 37) % 250}/24`, 's230'));
    fc.assert(
      fc.property(fc.shuffledSubarray(all, { minLength: 1 }), (subset) => {
        const a = planArpEnhancement(input(subset)).plan.addresses;
        const b = planArpEnhancement(input([...subset].reverse())).plan.addresses;
        expect(a).toEqual(b);
        const lowest = Math.min(...subset.map((s) => Number(s.spec.address.ip.split('/')[0]?.split('.')[3])));
        expect(a).toEqual([{ dev: 'eth0', ip: `10.230.0.${lowest}`, prefixLength: 24, subnet: '10.230.0.0/24' }]);
      }),
    );
  });

  it('skips a subnet in which the interface has a normal address (the node subnet), not one with only noprefixroute', () => {
    const normal = planArpEnhancement(input([instance('a', '192.168.56.100/24', 'local')])).plan;
    expect(normal.addresses).toEqual([]);
    const enhancedOnly = planArpEnhancement(
      input(
        [instance('a', '10.230.0.20/24', 's230')],
        [eth0([{ family: 4, ip: '10.230.0.9', prefixLength: 24, global: false, scope: 'link', noprefixroute: true }])],
      ),
    ).plan;
    expect(enhancedOnly.addresses.map((a) => a.ip)).toEqual(['10.230.0.20']);
  });

  it('ignores IPv6, overlay and other nodes’ networks; nothing without a VLAN parent', () => {
    const ins = [
      instance('v6', 'fd00:230::5/64', 's6'),
      instance('ov', '10.211.0.5/16', 'ov4', 'ov'),
      instance('o', '10.240.0.5/24', 'sother', 'other'),
    ];
    expect(planArpEnhancement(input(ins)).plan.addresses).toEqual([]);
    const noParent = { ...input([instance('a', '10.230.0.20/24', 's230')]), vlanParent: undefined };
    expect(planArpEnhancement(noParent).plan.addresses).toEqual([]);
  });

  it('a pod that moved away is replaced by the next lowest local pod; none left ⇒ nothing wanted', () => {
    const before = planArpEnhancement(
      input([instance('a', '10.230.0.9/24', 's230'), instance('b', '10.230.0.20/24', 's230')]),
    );
    const after = planArpEnhancement(input([instance('b', '10.230.0.20/24', 's230')]));
    expect(before.plan.addresses.map((a) => a.ip)).toEqual(['10.230.0.9']);
    expect(after.plan.addresses.map((a) => a.ip)).toEqual(['10.230.0.20']);
    expect(planArpEnhancement(input([])).plan.addresses).toEqual([]);
  });

  it('an invalid subnet CIDR is skipped with a warning naming it', () => {
    const bad = { ...input([]), subnets: [subnet('bad', 'vlan', '4', '10.230.0.1/24', '10.230.0.1')] };
    const r = planArpEnhancement(bad);
    expect(r.plan.subnets).toEqual([]);
    expect(r.warnings[0]).toContain('subnet bad: spec.range.cidr "10.230.0.1/24" is invalid');
  });
});

describe('planNode with --enable-vlan-arp-enhancement', () => {
  const OPTS: PlanOptions = {
    localDirectTable: 39999,
    toOverlayTable: 40000,
    overlayMarkTable: 40001,
    vxlanUdpPort: 8472,
  };
  const facts = (links: LinkFacts[]): NodeFacts => ({
    nodeName: 'n1',
    nodeAddresses: ['192.168.56.11'],
    vlanParent: 'eth0',
    currentRules: [],
    links,
  });
  const cluster = {
    networks: NETWORKS,
    subnets: SUBNETS,
    nodeInfos: [],
    ipInstances: [instance('a', '10.230.0.20/24', 's230'), instance('x', '10.230.0.3/24', 's230', 'vlan', 'n2')],
  };

  it('plans the lowest local pod (not other nodes’ pods) when on; no arpEnhancement when off', () => {
    const on = planNode(cluster, facts([eth0()]), { ...OPTS, vlanArpEnhancement: true });
    expect(on.arpEnhancement?.addresses).toEqual([
      { dev: 'eth0', ip: '10.230.0.20', prefixLength: 24, subnet: '10.230.0.0/24' },
    ]);
    expect(planNode(cluster, facts([eth0()]), OPTS).arpEnhancement).toBeUndefined();
  });

  it('an enhanced (noprefixroute) address does not make the VLAN subnet "local": no src on its table route', () => {
    const enhanced = eth0([
      { family: 4, ip: '10.230.0.20', prefixLength: 24, global: false, scope: 'link', noprefixroute: true },
    ]);
    const plan = planNode(cluster, facts([enhanced]), { ...OPTS, vlanArpEnhancement: true });
    const r = plan.routes.find((x) => x.dst === '10.230.0.0/24' && x.table >= 10000 && x.table < 40000);
    expect(r).toBeDefined();
    expect(r?.src).toBeUndefined();
    const local = plan.routes.find((x) => x.dst === '192.168.56.0/24' && x.table >= 10000 && x.table < 40000);
    expect(local?.src).toBe('192.168.56.11');
  });
});

describe('diffArpEnhancement (SPEC §7.6)', () => {
  const PLAN = {
    addresses: [{ dev: 'eth0', ip: '10.230.0.20', prefixLength: 24 }],
    subnets: ['10.230.0.0/24', '10.231.0.0/24', '192.168.56.0/24'],
    keep: ['192.168.56.11'],
  };
  const addr = (ip: string, extra: Partial<ActualFlaggedAddress> = {}): ActualFlaggedAddress => ({
    dev: 'eth0',
    family: 4,
    ip,
    prefixLength: 24,
    scope: 'link',
    noprefixroute: true,
    ...extra,
  });
  const node = addr('192.168.56.11', { scope: 'global', noprefixroute: false });
  const nodeLocal = { dev: 'eth0', ip: '192.168.56.11' };

  it('adds a missing address with noprefixroute scope link and deletes its local route', () => {
    expect(diffArpEnhancement(PLAN, [node], [nodeLocal], ['eth0'])).toEqual([
      'addr replace 10.230.0.20/24 dev eth0 noprefixroute scope link',
      'route del local 10.230.0.20 dev eth0 table local',
    ]);
  });

  it('is idempotent once applied; re-deletes a local route the kernel put back (link down/up)', () => {
    expect(diffArpEnhancement(PLAN, [node, addr('10.230.0.20')], [nodeLocal], ['eth0'])).toEqual([]);
    expect(
      diffArpEnhancement(PLAN, [node, addr('10.230.0.20')], [nodeLocal, { dev: 'eth0', ip: '10.230.0.20' }], ['eth0']),
    ).toEqual(['route del local 10.230.0.20 dev eth0 table local']);
  });

  it('replaces the address of a pod that left: delete first (the new one becomes primary), then add', () => {
    expect(diffArpEnhancement(PLAN, [node, addr('10.230.0.9')], [nodeLocal], ['eth0'])).toEqual([
      'addr del 10.230.0.9/24 dev eth0',
      'addr replace 10.230.0.20/24 dev eth0 noprefixroute scope link',
      'route del local 10.230.0.20 dev eth0 table local',
    ]);
  });

  it('removes stale enhanced addresses when no local pod of the subnet is left', () => {
    const none = { ...PLAN, addresses: [] };
    expect(diffArpEnhancement(none, [node, addr('10.231.0.7', { dev: 'eth0.7' })], [nodeLocal], ['eth0'])).toEqual([
      'addr del 10.231.0.7/24 dev eth0.7',
    ]);
  });

  it('never touches other addresses: node addresses, normal ones, secondaries, global scope, with a local route, outside VLAN subnets, IPv6', () => {
    const none = { ...PLAN, addresses: [] };
    const others: ActualFlaggedAddress[] = [
      node,
      addr('192.168.56.11', { dev: 'eth1' }), // listed in keep (the node's own), even if it looks enhanced
      addr('10.230.0.5', { noprefixroute: false }),
      addr('10.230.0.6', { secondary: true }),
      addr('10.230.0.7', { scope: 'global' }),
      addr('10.230.0.8'), // has a local route: not ours
      addr('10.99.0.5'), // outside every VLAN subnet
      addr('fd00:230::5', { family: 6, prefixLength: 64 }),
    ];
    const local = [nodeLocal, { dev: 'eth0', ip: '10.230.0.8' }];
    expect(diffArpEnhancement(none, others, local, ['eth0', 'eth1'])).toEqual([]);
    expect(isEnhancedAddress(addr('10.230.0.8'), new Set(['eth0|10.230.0.8']))).toBe(false);
    expect(isEnhancedAddress(addr('10.230.0.9'), new Set())).toBe(true);
  });

  it('waits for a missing link (no line for it)', () => {
    const p = { ...PLAN, addresses: [{ dev: 'eth0.7', ip: '10.231.0.5', prefixLength: 24 }] };
    expect(diffArpEnhancement(p, [node], [nodeLocal], ['eth0'])).toEqual([]);
  });
});
