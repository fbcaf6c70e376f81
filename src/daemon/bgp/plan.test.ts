import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { NETWORKING_API_VERSION, type IPInstance, type Network, type Subnet } from '../../api/index.ts';
import { hostVethName } from '../../net/index.ts';
import { planNode } from '../plan/node.ts';
import type { ClusterState, LinkFacts, NodeFacts } from '../plan/types.ts';
import { addPeerRequest } from './grpc.ts';
import { chooseRouterId, diffPaths, diffPeers, planBgp, type BgpFacts, type BgpPathSpec } from './plan.ts';
import { BgpSpeaker, lastPeerError, splitHostPort } from './speaker.ts';

const net = (name: string, spec: Network['spec'], nodeList: string[]): Network => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'Network',
  metadata: { name },
  spec,
  status: { nodeList },
});
const sub = (name: string, network: string, version: '4' | '6', cidr: string): Subnet => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'Subnet',
  metadata: { name },
  spec: { network, range: { version, cidr } },
});
const ins = (
  pod: string,
  ip: string,
  version: '4' | '6',
  node: string,
  network: string,
  subnet: string,
): IPInstance => ({
  apiVersion: NETWORKING_API_VERSION,
  kind: 'IPInstance',
  metadata: { name: `${pod}-${version}`, namespace: 'default', labels: {} },
  spec: {
    network,
    subnet,
    address: { version, ip, mac: '02:00:00:00:00:01', netID: null },
    binding: {
      referredObject: { kind: 'Pod', name: pod, uid: 'u' },
      nodeName: node,
      podUID: `uid-${pod}`,
      podName: pod,
    },
  },
});

const eth0: LinkFacts = {
  name: 'eth0',
  mtu: 1500,
  mac: '02:00:00:00:00:11',
  addresses: [
    { family: 4, ip: '192.168.56.11', prefixLength: 24, global: true },
    { family: 6, ip: 'fd00:56::11', prefixLength: 64, global: true },
    { family: 6, ip: 'fe80::1', prefixLength: 64, global: false },
  ],
};

const rack = net(
  'rack1',
  {
    type: 'Underlay',
    mode: 'BGP',
    netID: 64513,
    nodeSelector: { r: '1' },
    config: {
      bgpPeers: [
        { asn: 64512, address: '192.168.56.1', password: 'pw' },
        { asn: 64512, address: 'fd00:56::1', gracefulRestartSeconds: 60, allowNotEstablished: true },
        { asn: 64600, address: '192.168.56.2', doesNotRouteTraffic: true },
      ],
    },
  },
  ['n1', 'n2'],
);
const global = net('gbgp', { type: 'GlobalBGP', netID: null }, ['n1']);

function cluster(instances: IPInstance[] = []): ClusterState {
  return {
    networks: [rack, global],
    subnets: [
      sub('r4', 'rack1', '4', '10.220.0.0/24'),
      sub('r6', 'rack1', '6', 'fd00:220::/64'),
      sub('g4', 'gbgp', '4', '10.230.0.0/24'),
    ],
    nodeInfos: [],
    ipInstances: instances,
  };
}

const facts = (linkNames: string[] = []): BgpFacts => ({
  nodeName: 'n1',
  bgpIf: eth0,
  defaultRoutes: [{ family: 4, dev: 'eth0', via: '192.168.56.1' }],
  linkNames: new Set(['eth0', ...linkNames]),
});

describe('planBgp (SPEC §7.4, §7.7)', () => {
  it('AS = netID, router-ID / next hops from the BGP interface, peers with defaults, routing peer per family', () => {
    const p = planBgp(cluster(), facts());
    expect(p).toMatchObject({ network: 'rack1', asn: 64513, routerId: '192.168.56.11' });
    expect(p.nextHop).toEqual({ 4: '192.168.56.11', 6: 'fd00:56::11' });
    expect(
      p.peers.map((x) => [x.address, x.family, x.gracefulRestartSeconds, x.password, x.allowNotEstablished]),
    ).toEqual([
      ['192.168.56.1', 4, 300, 'pw', false],
      ['fd00:56::1', 6, 60, '', true],
      ['192.168.56.2', 4, 300, '', false],
    ]);
    expect(p.gateway).toEqual({ 4: { via: '192.168.56.1', dev: 'eth0' }, 6: { via: 'fd00:56::1', dev: 'eth0' } });
    expect(p.warnings).toEqual([]);
  });

  it('announces the BGP subnets, local BGP pods with NO_EXPORT and local GlobalBGP pods without, only while the veth exists', () => {
    const instances = [
      ins('a', '10.220.0.5/24', '4', 'n1', 'rack1', 'r4'),
      ins('a', 'fd00:220::5/64', '6', 'n1', 'rack1', 'r6'),
      ins('g', '10.230.0.7/24', '4', 'n1', 'gbgp', 'g4'),
      ins('r', '10.220.0.9/24', '4', 'n2', 'rack1', 'r4'),
      ins('noveth', '10.220.0.10/24', '4', 'n1', 'rack1', 'r4'),
    ];
    const p = planBgp(cluster(instances), facts([hostVethName('default', 'a'), hostVethName('default', 'g')]));
    expect(p.paths).toEqual([
      { family: 4, prefix: '10.220.0.0/24', nextHop: '192.168.56.11', noExport: false },
      { family: 4, prefix: '10.220.0.5/32', nextHop: '192.168.56.11', noExport: true },
      { family: 4, prefix: '10.230.0.7/32', nextHop: '192.168.56.11', noExport: false },
      { family: 6, prefix: 'fd00:220::/64', nextHop: 'fd00:56::11', noExport: false },
      { family: 6, prefix: 'fd00:220::5/128', nextHop: 'fd00:56::11', noExport: true },
    ]);
  });

  it('no routing peer ⇒ the host default route; node outside any BGP network ⇒ nothing', () => {
    const only = net(
      'rack1',
      { ...rack.spec, config: { bgpPeers: [{ asn: 1, address: '192.168.56.1', doesNotRouteTraffic: true }] } },
      ['n1'],
    );
    const p = planBgp({ ...cluster(), networks: [only] }, facts());
    expect(p.gateway).toEqual({ 4: { via: '192.168.56.1', dev: 'eth0' } });
    const none = planBgp({ ...cluster(), networks: [net('rack1', rack.spec, ['n2'])] }, facts());
    expect(none.asn).toBeUndefined();
    expect(none.paths).toEqual([]);
  });

  it('warns about two routing peers of one family and about a missing netID', () => {
    const two = net(
      'rack1',
      {
        ...rack.spec,
        config: {
          bgpPeers: [
            { asn: 1, address: '192.168.56.1' },
            { asn: 1, address: '192.168.56.2' },
          ],
        },
      },
      ['n1'],
    );
    expect(planBgp({ ...cluster(), networks: [two] }, facts()).warnings[0]).toMatch(/2 IPv4 peers route traffic/);
    const noAs = net('rack1', { ...rack.spec, netID: null }, ['n1']);
    const p = planBgp({ ...cluster(), networks: [noAs] }, facts());
    expect(p.asn).toBeUndefined();
    expect(p.warnings[0]).toMatch(/netID .* not set/);
  });
});

describe('chooseRouterId (SPEC §7.7)', () => {
  it('several addresses of a family: the default route src, else the one whose prefix holds the gateway', () => {
    const l: LinkFacts = {
      ...eth0,
      addresses: [
        { family: 4, ip: '10.0.0.5', prefixLength: 24, global: true },
        { family: 4, ip: '192.168.56.11', prefixLength: 24, global: true },
      ],
    };
    expect(chooseRouterId(l, [{ family: 4, dev: 'eth0', via: '192.168.56.1' }]).routerId).toBe('192.168.56.11');
    expect(chooseRouterId(l, [{ family: 4, dev: 'eth0', src: '10.0.0.5' }]).routerId).toBe('10.0.0.5');
    expect(
      chooseRouterId({ ...l, addresses: [{ family: 6, ip: 'fd00::1', prefixLength: 64, global: true }] }, []).routerId,
    ).toBeUndefined();
  });
});

describe('diffPaths / diffPeers', () => {
  const path = (prefix: string, noExport = false): BgpPathSpec => ({ family: 4, prefix, nextHop: '1.1.1.1', noExport });
  it('adds missing or changed paths, deletes unwanted ones', () => {
    const d = diffPaths(
      [path('10.0.0.1/32', true), path('10.0.0.0/24')],
      [path('10.0.0.0/24'), path('10.0.0.2/32', true), path('10.0.0.1/32')],
    );
    expect(d.add.map((p) => p.prefix)).toEqual(['10.0.0.1/32']);
    expect(d.del.map((p) => p.prefix)).toEqual(['10.0.0.2/32']);
  });
  it('property: applying the diff yields the desired set', () => {
    const arbPath = fc.record({
      family: fc.constant<4>(4),
      prefix: fc.integer({ min: 0, max: 20 }).map((i) => `10.0.0.${i}/32`),
      nextHop: fc.constantFrom('1.1.1.1', '2.2.2.2'),
      noExport: fc.boolean(),
    });
    const uniq = (ps: BgpPathSpec[]): BgpPathSpec[] => [...new Map(ps.map((p) => [p.prefix, p])).values()];
    fc.assert(
      fc.property(fc.array(arbPath).map(uniq), fc.array(arbPath).map(uniq), (want, cur) => {
        const d = diffPaths(want, cur);
        const after = new Map(cur.map((p) => [p.prefix, p]));
        for (const p of d.del) after.delete(p.prefix);
        for (const p of d.add) after.set(p.prefix, p);
        expect([...after.values()].sort((a, b) => a.prefix.localeCompare(b.prefix))).toEqual(
          [...want].sort((a, b) => a.prefix.localeCompare(b.prefix)),
        );
      }),
    );
  });
  it('peers are never modified: a changed AS or password is delete + add', () => {
    const want = planBgp(cluster(), facts()).peers;
    const d = diffPeers(want, [
      { address: '192.168.56.1', asn: 64512, password: 'old' },
      { address: 'fd00:56::1', asn: 64512, password: '' },
      { address: '10.9.9.9', asn: 1, password: '' },
    ]);
    expect(d.del).toEqual(['192.168.56.1', '10.9.9.9']);
    expect(d.add.map((p) => p.address)).toEqual(['192.168.56.1', '192.168.56.2']);
  });
});

describe('planNode with BGP (SPEC §7.4 BGP table, §7.10 rule 6)', () => {
  it('the BGP subnet table has a default via the routing peer; the loop guard covers the BGP interface', () => {
    const bgp = planBgp(cluster(), facts());
    const nf: NodeFacts = {
      nodeName: 'n1',
      links: [eth0],
      vlanParent: 'eth0',
      bgpParent: 'eth0',
      currentRules: [],
      bgpGateway: bgp.gateway,
    };
    const plan = planNode(cluster(), nf, {
      localDirectTable: 39999,
      toOverlayTable: 40000,
      overlayMarkTable: 40001,
      vxlanUdpPort: 8472,
    });
    const rule = plan.rules.find((r) => r.from === '10.220.0.0/24');
    expect(rule).toBeDefined();
    expect(plan.routes.filter((r) => r.table === rule?.table)).toEqual([
      { family: 4, table: rule?.table, dst: 'default', type: 'unicast', dev: 'eth0', via: '192.168.56.1' },
    ]);
    expect(plan.iptables[4]).toMatch(/-A HYBRIDNET-FORWARD -i eth0 .*-j DROP/);
    expect(plan.warnings.filter((w) => /BGP/.test(w))).toEqual([]);
  });
});

describe('gobgp glue', () => {
  it('encodes AddPeer like protoc would (field numbers of gobgp v3 api/gobgp.proto)', () => {
    const req = Buffer.from(
      addPeerRequest({ address: '10.0.0.1', asn: 64512, password: 'pw', restartTime: 120 }),
    ).toString('hex');
    // Peer.conf{auth_password "pw", neighbor_address "10.0.0.1", peer_asn 64512}
    expect(req).toContain('12' + '12' + '0a027077' + '2208' + Buffer.from('10.0.0.1').toString('hex') + '2880f803');
    // GracefulRestart{enabled, restart_time 120, deferral_time 1, local_restarting}
    expect(req).toContain('4a08' + '0801' + '1078' + '2001' + '5001');
  });
  it('splits the gRPC address; names the last gobgpd problem of a peer since it was configured', () => {
    expect(splitHostPort(':50051')).toEqual({ host: '127.0.0.1', port: 50051 });
    expect(splitHostPort('[::1]:6000')).toEqual({ host: '::1', port: 6000 });
    expect(() => splitHostPort('x')).toThrow(/bgp-grpc-server-addr/);
    const log = [
      'time="t1" level=warning msg="received notification" Code=6 Data="[]" Key=192.168.56.1 Subcode=2 Topic=Peer',
      'time="t2" level=info msg="Add a peer configuration" Key=192.168.56.1 Topic=Peer',
      'time="t3" level=warning msg="sent notification" Data="as number mismatch expected 64999, received 64512" Key=192.168.56.1 Topic=Peer',
      'time="t4" level=warning msg="x" Key=192.168.56.11 Topic=Peer',
    ].join('\n');
    expect(lastPeerError(log, '192.168.56.1')).toBe(
      'sent notification: as number mismatch expected 64999, received 64512 (t3)',
    );
    expect(lastPeerError(log.split('\n').slice(0, 2).join('\n'), '192.168.56.1')).toBeUndefined();
  });
});

describe('BgpSpeaker log rotation', () => {
  it('copies a gobgpd.log above 16 MiB to gobgpd.log.1 and truncates it; leaves a small one alone', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hn-bgp-'));
    try {
      const sp = new BgpSpeaker({
        stateDir: dir,
        apiAddr: ':50051',
        logger: pino({ level: 'silent' }),
        runner: () => Promise.reject(new Error('no gobgp here')),
      });
      const log = path.join(dir, 'gobgpd.log');
      writeFileSync(log, 'small\n');
      sp.rotateLog();
      expect(readFileSync(log, 'utf8')).toBe('small\n');
      writeFileSync(log, Buffer.alloc(17 * 1024 * 1024, 'x'));
      sp.rotateLog();
      expect(statSync(log).size).toBe(0);
      expect(statSync(`${log}.1`).size).toBe(17 * 1024 * 1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('BgpSpeaker reads gobgp -j output (recorded from gobgp 3.10.0)', () => {
  const ribV4 =
    '{"10.201.7.5/32":[{"nlri":{"prefix":"10.201.7.5/32"},"age":1795973653,"best":true,"attrs":[{"type":1,"value":0},{"type":8,"communities":[4294967041]},{"type":3,"nexthop":"172.31.255.2"}],"stale":false}],"10.201.8.0/24":[{"nlri":{"prefix":"10.201.8.0/24"},"age":1795973653,"best":true,"attrs":[{"type":1,"value":0},{"type":3,"nexthop":"172.31.255.2"}],"stale":false}]}';
  const ribV6 =
    '{"fd00:201::5/128":[{"nlri":{"prefix":"fd00:201::5/128"},"age":1795973653,"best":true,"attrs":[{"type":1,"value":0},{"type":8,"communities":[4294967041]},{"type":14,"nexthop":"fd00:31::2","afi":2,"safi":1,"value":[{"prefix":"fd00:201::5/128"}]}],"stale":false}]}';
  const neighbors =
    '[{"conf":{"auth_password":"secret","local_asn":64513,"neighbor_address":"172.31.255.1","peer_asn":64512,"type":1},"state":{"messages":{"received":{"notification":2},"sent":{}},"neighbor_address":"172.31.255.1","peer_asn":64512,"session_state":3},"afi_safis":[{"state":{"received":4}},{"state":{}}]}]';
  const speaker = new BgpSpeaker({
    stateDir: tmpdir(),
    apiAddr: '127.0.0.1:50051',
    logger: pino({ level: 'silent' }),
    runner: (_cmd, args) => {
      const a = args.join(' ');
      if (a.endsWith('global rib -a ipv4 -j')) return Promise.resolve(ribV4);
      if (a.endsWith('global rib -a ipv6 -j')) return Promise.resolve(ribV6);
      if (a.endsWith('neighbor -j')) return Promise.resolve(neighbors);
      return Promise.reject(new Error(`unexpected ${a}`));
    },
  });
  it('local paths with next hop and NO_EXPORT', async () => {
    expect([...(await speaker.paths(4)), ...(await speaker.paths(6))]).toEqual([
      { family: 4, prefix: '10.201.7.5/32', nextHop: '172.31.255.2', noExport: true },
      { family: 4, prefix: '10.201.8.0/24', nextHop: '172.31.255.2', noExport: false },
      { family: 6, prefix: 'fd00:201::5/128', nextHop: 'fd00:31::2', noExport: true },
    ]);
  });
  it('peers with FSM state name, notification and received counters', async () => {
    expect(await speaker.peers()).toEqual([
      {
        address: '172.31.255.1',
        asn: 64512,
        password: 'secret',
        stateCode: 3,
        state: 'Active',
        notificationsReceived: 2,
        received: 4,
      },
    ]);
  });
});
