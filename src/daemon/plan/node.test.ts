import { NETWORKING_API_VERSION } from '../../api/index.ts';
import { describe, expect, it } from 'vitest';
import type { IPInstance, Network, NodeInfo, Subnet } from '../../api/index.ts';
import { hostVethName } from '../../net/index.ts';
import { diffFdb, diffNeighbours, diffRoutes, diffRules } from '../apply/diff.ts';
import { hookPresent, ipsetScript, linkLines, ownedRule } from '../apply/node.ts';
import { excludeBlocks } from './blocks.ts';
import { planNode } from './node.ts';
import { planPodAdd } from './pod.ts';
import type { ClusterState, NodeFacts, PlanOptions } from './types.ts';

const OPTS: PlanOptions = {
  localDirectTable: 39999,
  toOverlayTable: 40000,
  overlayMarkTable: 40001,
  vxlanUdpPort: 8472,
};

const network = (name: string, spec: Network['spec'], nodeList: string[] = []): Network => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'Network',
  metadata: { name },
  spec,
  status: { nodeList },
});

const subnet = (
  name: string,
  net: string,
  range: Subnet['spec']['range'],
  extra: Partial<Subnet['spec']> = {},
): Subnet => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'Subnet',
  metadata: { name },
  spec: { network: net, range, ...extra },
});

const instance = (
  name: string,
  ip: string,
  version: '4' | '6',
  node: string,
  net: string,
  sub: string,
  netID: number | null = null,
): IPInstance => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'IPInstance',
  metadata: { name: `${name}-${version}`, namespace: 'default', labels: {} },
  spec: {
    network: net,
    subnet: sub,
    address: { version, ip, mac: '02:12:34:00:00:01', netID },
    binding: { referredObject: { kind: 'Pod', name, uid: 'u' }, nodeName: node, podUID: `uid-${name}`, podName: name },
  },
});

const nodeInfo = (name: string, ip: string, mac: string): NodeInfo => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'NodeInfo',
  metadata: { name },
  spec: { vtepInfo: { ip, mac, localIPs: [ip] } },
});

const facts = (extraLinks: NodeFacts['links'] = []): NodeFacts => ({
  nodeName: 'n1',
  nodeAddresses: ['192.168.56.11', 'fd00:56::11'],
  vxlanParent: 'eth0',
  vlanParent: 'eth0',
  currentRules: [],
  links: [
    {
      name: 'eth0',
      mtu: 1500,
      mac: '0a:00:00:00:00:01',
      addresses: [
        { family: 4, ip: '192.168.56.11', prefixLength: 24, global: true },
        { family: 6, ip: 'fd00:56::11', prefixLength: 64, global: true },
      ],
    },
    ...extraLinks,
  ],
});

function cluster(): ClusterState {
  return {
    networks: [
      network('ovl', { type: 'Overlay', netID: 4 }),
      network('ul', { type: 'Underlay', mode: 'VLAN', netID: 0 }, ['n1', 'n2']),
    ],
    subnets: [
      subnet('ovl4', 'ovl', { version: '4', cidr: '10.210.0.0/16' }),
      subnet('ul4', 'ul', {
        version: '4',
        cidr: '192.168.56.0/24',
        gateway: '192.168.56.1',
        start: '192.168.56.100',
        end: '192.168.56.200',
      }),
    ],
    nodeInfos: [
      nodeInfo('n1', '192.168.56.11', '0a:00:00:00:00:01'),
      nodeInfo('n2', '192.168.56.12', '0a:00:00:00:00:02'),
    ],
    ipInstances: [
      instance('a', '10.210.0.5/16', '4', 'n1', 'ovl', 'ovl4'),
      instance('r', '10.210.0.9/16', '4', 'n2', 'ovl', 'ovl4'),
      instance('u', '192.168.56.100/24', '4', 'n1', 'ul', 'ul4', 0),
    ],
  };
}

describe('excludeBlocks (SPEC §7.4)', () => {
  it('gives the minimal aligned blocks of the SPEC example', () => {
    expect(
      excludeBlocks({
        version: '4',
        cidr: '192.168.3.0/24',
        gateway: '192.168.3.1',
        start: '192.168.3.100',
        end: '192.168.3.200',
      }),
    ).toEqual([
      '192.168.3.0/26',
      '192.168.3.64/27',
      '192.168.3.96/30',
      '192.168.3.201/32',
      '192.168.3.202/31',
      '192.168.3.204/30',
      '192.168.3.208/28',
      '192.168.3.224/27',
    ]);
  });
  it('only the gateway and excludeIPs without start/end; IPv6 never enumerates', () => {
    expect(
      excludeBlocks({ version: '4', cidr: '10.0.0.0/24', gateway: '10.0.0.1', excludeIPs: ['10.0.0.2', '10.0.0.3'] }),
    ).toEqual(['10.0.0.1/32', '10.0.0.2/31']);
    expect(excludeBlocks({ version: '6', cidr: 'fd00::/64', start: 'fd00::100' })).toEqual(['fd00::/120']);
  });
});

describe('planNode (SPEC §7.4–7.10)', () => {
  it('plans the VXLAN device, FDB of remote VTEPs (flood MAC too) and remote pod neighbours', () => {
    const p = planNode(cluster(), facts(), OPTS);
    expect(p.links).toEqual([
      {
        kind: 'vxlan',
        name: 'eth0.vxlan4',
        vni: 4,
        parent: 'eth0',
        local: '192.168.56.11',
        port: 8472,
        mac: '0a:00:00:00:00:01',
        mtu: 1450,
      },
    ]);
    expect(linkLines(p, [])).toEqual([
      'link add eth0.vxlan4 type vxlan id 4 dev eth0 local 192.168.56.11 dstport 8472 learning',
      'link set eth0.vxlan4 address 0a:00:00:00:00:01 mtu 1450 up',
    ]);
    expect(p.fdb).toEqual([
      { mac: '0a:00:00:00:00:02', dev: 'eth0.vxlan4', dst: '192.168.56.12' },
      { mac: 'ff:ff:ff:ff:ff:f1', dev: 'eth0.vxlan4', dst: '192.168.56.12' },
    ]);
    expect(p.neighbours).toContainEqual({
      family: 4,
      ip: '10.210.0.9',
      dev: 'eth0.vxlan4',
      proxy: false,
      mac: '0a:00:00:00:00:02',
    });
    expect(p.vtep).toEqual({
      ip: '192.168.56.11',
      mac: '0a:00:00:00:00:01',
      localIPs: ['192.168.56.11', 'fd00:56::11'],
    });
  });

  it('plans the three base rules, one from-subnet rule per local subnet and their tables', () => {
    const p = planNode(cluster(), facts(), OPTS);
    const v4 = p.rules.filter((r) => r.family === 4);
    expect(v4).toEqual([
      { family: 4, from: 'all', table: 39999 },
      { family: 4, from: 'all', table: 40000 },
      { family: 4, from: 'all', fwmark: 0x20, mask: 0x20, table: 40001 },
      { family: 4, from: '10.210.0.0/16', fwmark: 0, mask: 0x4040, table: 10000 },
      { family: 4, from: '192.168.56.0/24', fwmark: 0, mask: 0x4040, table: 10001 },
    ]);
    const t = (n: number): string[] =>
      p.routes
        .filter((r) => r.table === n)
        .map((r) => `${r.type} ${r.dst}${r.dev ? ` dev ${r.dev}` : ''}${r.via ? ` via ${r.via}` : ''}`);
    expect(t(40000)).toEqual(['unicast 10.210.0.0/16 dev eth0.vxlan4']);
    expect(t(40001)).toEqual(['unicast default dev eth0.vxlan4', 'unicast default dev eth0.vxlan4']);
    // overlay table (autoNatOutgoing): underlay CIDR via the tunnel + throw for its exclude blocks, no default
    expect(t(10000)[0]).toBe('unicast 192.168.56.0/24 dev eth0.vxlan4');
    expect(t(10000)).toContain('throw 192.168.56.0/26');
    expect(t(10000).some((r) => r.includes('default'))).toBe(false);
    // underlay VLAN netID 0: the parent itself, connected route with the node's src + default via the gateway
    expect(t(10001)).toEqual(['unicast 192.168.56.0/24 dev eth0', 'unicast default dev eth0 via 192.168.56.1']);
    expect(p.routes.find((r) => r.table === 10001 && r.dst === '192.168.56.0/24')?.src).toBe('192.168.56.11');
  });

  it('keeps an existing from-subnet table and allocates the next free one', () => {
    const f = facts();
    f.currentRules = [{ family: 4, from: '192.168.56.0/24', fwmark: 0, mask: 0x4040, table: 10005, priority: 7 }];
    const p = planNode(cluster(), f, OPTS);
    expect(p.rules.find((r) => r.from === '192.168.56.0/24')?.table).toBe(10005);
    expect(p.rules.find((r) => r.from === '10.210.0.0/16')?.table).toBe(10000);
  });

  it('proxy entries: every local pod on the VXLAN device, underlay pods also on their VLAN interface', () => {
    const p = planNode(cluster(), facts(), OPTS);
    const proxies = p.neighbours.filter((n) => n.proxy).map((n) => `${n.ip}@${n.dev}`);
    expect(proxies.sort()).toEqual(['10.210.0.5@eth0.vxlan4', '192.168.56.100@eth0', '192.168.56.100@eth0.vxlan4']);
  });

  it('routes local pods in table 39999 only once their host veth exists', () => {
    expect(planNode(cluster(), facts(), OPTS).routes.filter((r) => r.table === 39999)).toEqual([]);
    const veth = hostVethName('default', 'a');
    const p = planNode(cluster(), facts([{ name: veth, mtu: 1450, mac: 'ee:ee:ee:ee:ee:ee', addresses: [] }]), OPTS);
    expect(p.routes.filter((r) => r.table === 39999)).toEqual([
      { family: 4, table: 39999, dst: '10.210.0.5', type: 'unicast', dev: veth },
    ]);
  });

  it('VLAN-tagged underlay (netID 100): the exact 802.1Q commands, routes and proxy entries on eth0.100', () => {
    const c = cluster();
    c.networks[1] = network('ul', { type: 'Underlay', mode: 'VLAN', netID: 100 }, ['n1']);
    c.ipInstances[2] = instance('u', '192.168.56.100/24', '4', 'n1', 'ul', 'ul4', 100);
    const p = planNode(c, facts(), OPTS);
    expect(linkLines(p, []).filter((l) => l.includes('vlan id'))).toEqual([
      'link add link eth0 name eth0.100 type vlan id 100',
    ]);
    expect(linkLines(p, [])).toContain('link set eth0.100 up');
    const lines = diffRoutes(p.routes, [], p.ownedTables).filter((l) => l.includes('table 10001'));
    expect(lines).toEqual([
      'route replace 192.168.56.0/24 dev eth0.100 scope link table 10001',
      'route replace default via 192.168.56.1 dev eth0.100 table 10001',
    ]);
    expect(p.neighbours).toContainEqual({ family: 4, ip: '192.168.56.100', dev: 'eth0.100', proxy: true });
    expect(p.iptables[4]).toContain('-A HYBRIDNET-FORWARD -i eth0.100 -m mark ! --mark 0x4000/0x4000');
  });

  it('iptables: MASQUERADE overlay sources not leaving through the tunnel; ipsets per family', () => {
    const p = planNode(cluster(), facts(), OPTS);
    expect(p.iptables[4]).toContain(
      '-A HYBRIDNET-POSTROUTING ! -o eth0.vxlan4 -m set --match-set HYBR-OVERLAY-NET src -j MASQUERADE',
    );
    expect(p.iptables[6]).toContain('--match-set inet6:HYBR-OVERLAY-NET src -j MASQUERADE');
    expect(p.iptables[4]).toContain('--reject-with icmp-host-unreachable');
    expect(p.iptables[6]).toContain('--reject-with icmp6-addr-unreachable');
    expect(p.ipsets.find((s) => s.name === 'HYBR-LOCAL-POD-IP')?.members).toEqual(['10.210.0.5', '192.168.56.100']);
    expect(ipsetScript(p)).toContain('swap HYBR-OVERLAY-NET- HYBR-OVERLAY-NET\ndestroy HYBR-OVERLAY-NET-');
  });
});

describe('diff (idempotence)', () => {
  it('applying the plan and diffing again gives nothing', () => {
    const p = planNode(cluster(), facts(), OPTS);
    const routes = p.routes.map((r) => ({ ...r, type: r.type, dst: r.dst.replace(/\/32$/, '') }));
    expect(diffRoutes(p.routes, routes, p.ownedTables)).toEqual([]);
    const rules = p.rules.map((r, i) => ({ ...r, priority: i + 1 }));
    expect(diffRules(p.rules, rules, ownedRule(p))).toEqual([]);
    const neigh = p.neighbours.map((n) => ({ ...n, permanent: true }));
    expect(diffNeighbours(p.neighbours, neigh, p.ownedNeighDevs)).toEqual([]);
    expect(diffFdb(p.fdb, p.fdb, ['eth0.vxlan4'])).toEqual([]);
  });

  it('new rules take the lowest free priorities; stale owned rules and routes are deleted, foreign ones kept', () => {
    const p = planNode(cluster(), facts(), OPTS);
    const lines = diffRules(
      p.rules.filter((r) => r.family === 4),
      [
        { family: 4, from: 'all', table: 39999, priority: 1 },
        { family: 4, from: 'all', table: 100, priority: 2 },
        { family: 4, from: '10.99.0.0/16', fwmark: 0, mask: 0x4040, table: 10009, priority: 9 },
      ],
      ownedRule(p),
    );
    expect(lines).toEqual([
      'rule del priority 9 from 10.99.0.0/16 fwmark 0x0/0x4040 table 10009',
      'rule add priority 3 from all table 40000',
      'rule add priority 4 from all fwmark 0x20/0x20 table 40001',
      'rule add priority 5 from 10.210.0.0/16 fwmark 0x0/0x4040 table 10000',
      'rule add priority 6 from 192.168.56.0/24 fwmark 0x0/0x4040 table 10001',
    ]);
    expect(
      diffRoutes(
        [],
        [
          { family: 4, table: 40000, dst: '10.1.0.0/16', type: 'unicast', dev: 'x' },
          { family: 4, table: 254, dst: '10.2.0.0/16', type: 'unicast', dev: 'x' },
        ],
        [40000],
      ),
    ).toEqual(['route del 10.1.0.0/16 table 40000']);
  });

  it('removes FDB entries of a VTEP that left and adds the new one', () => {
    expect(
      diffFdb(
        [{ mac: 'aa:aa:aa:aa:aa:02', dev: 'v', dst: '10.0.0.2' }],
        [{ mac: 'aa:aa:aa:aa:aa:04', dev: 'v', dst: '10.0.0.4' }],
        ['v'],
      ),
    ).toEqual([
      'fdb del aa:aa:aa:aa:aa:04 dev v dst 10.0.0.4 self',
      'fdb append aa:aa:aa:aa:aa:02 dev v dst 10.0.0.2 self permanent',
    ]);
  });
});

describe('planPodAdd (SPEC §7.3)', () => {
  it('gives the exact veth, host and pod commands for a dual-stack pod', () => {
    const p = planPodAdd({
      hostVeth: 'hybr0123456789a',
      ifName: 'eth0',
      netns: '/var/run/netns/p1',
      mac: '02:12:34:00:00:01',
      mtu: 1450,
      addresses: [
        { family: 4, ip: '10.210.0.5', prefixLength: 16 },
        { family: 6, ip: 'fd00:210::5', prefixLength: 64 },
      ],
      localDirectTable: 39999,
    });
    expect(p.createVeth).toEqual([
      'link add hybr0123456789a mtu 1450 address ee:ee:ee:ee:ee:ee type veth peer name eth0 mtu 1450 address 02:12:34:00:00:01 netns /var/run/netns/p1',
    ]);
    expect(p.hostBatch).toEqual([
      'link set hybr0123456789a up',
      'route replace 10.210.0.5/32 dev hybr0123456789a table 39999',
      'route replace fd00:210::5/128 dev hybr0123456789a table 39999',
      'neigh replace proxy fe80::ecee:eeff:feee:eeee dev hybr0123456789a',
    ]);
    expect(p.hostSysctls['/proc/sys/net/ipv4/conf/hybr0123456789a/proxy_arp']).toBe('1');
    expect(p.hostSysctls['/proc/sys/net/ipv6/conf/hybr0123456789a/proxy_ndp']).toBe('1');
    expect(p.podSysctls['/proc/sys/net/ipv6/conf/eth0/accept_dad']).toBe('0');
    expect(p.podBatch).toEqual([
      'link set lo up',
      'link set eth0 up',
      'addr replace 10.210.0.5/16 dev eth0 noprefixroute',
      'addr replace fd00:210::5/64 dev eth0 noprefixroute nodad',
      'route replace 169.254.1.1/32 dev eth0 scope link',
      'route replace default via 169.254.1.1 dev eth0',
      'route replace default via fe80::ecee:eeff:feee:eeee dev eth0',
    ]);
  });
});

describe('hookPresent', () => {
  it('finds a hook rule in its own table only', () => {
    const saved = [
      '*mangle',
      ':PREROUTING ACCEPT [0:0]',
      '-A POSTROUTING -m comment --comment "hybridnet postrouting rules" -j HYBRIDNET-POSTROUTING',
      'COMMIT',
      '*nat',
      '-A PREROUTING -j OTHER',
      'COMMIT',
    ].join('\n');
    expect(hookPresent(saved, 'mangle', 'POSTROUTING', 'HYBRIDNET-POSTROUTING')).toBe(true);
    expect(hookPresent(saved, 'nat', 'POSTROUTING', 'HYBRIDNET-POSTROUTING')).toBe(false);
  });
});
