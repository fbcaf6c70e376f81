/**
 * BGP underlay end to end (root + netns (real)): a real kube-apiserver and `hybridnet manager`, two node namespaces
 * running real `hybridnet daemon`s (each supervising a real gobgpd), the harness switch namespace acting as the ToR
 * with BIRD 2 (AS 64512, TCP-MD5, graceful restart; its kernel table gets what it learns) and the harness "outside"
 * namespace as a client behind the ToR. Assertions are about the ToR's kernel routes and real traffic.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_SPECIFIED_NETWORK,
  IPInstanceResource,
  NETWORKING_API_VERSION,
  NodeInfoResource,
  type IPInstance,
  type NodeBGPPeerStatus,
  type NodeInfo,
} from '../../src/api/index.ts';
import { resourcePath, type KubeClient } from '../../src/kube/index.ts';
import { eventually } from '../fixture/kube.ts';
import { overlayNetwork, paths, subnet } from '../manager/helpers.ts';
import { addPod as addPodTo, startTestCluster, type TestCluster } from '../datapath/cluster-fixture.ts';
import {
  cniEnv,
  type Harness,
  inNs,
  ipOf,
  must,
  ping,
  sh,
  sourceSeenBy,
  type TestNode,
  type TestPod,
} from '../datapath/harness.ts';

let t: TestCluster | undefined;
let c: KubeClient;
let h: Harness;
const pods = new Map<string, TestPod>();
const RACK = 'hybridnet-test/rack';
const NET = 'bgp-rack1';
const PASSWORD = 'hn-secret';
const CLIENT4 = '172.30.0.2';
const CLIENT6 = 'fd00:30::2';

const birdCtl = (): string => path.join(h.dir, 'bird.ctl');
const birdPid = (): string => path.join(h.dir, 'bird.pid');

function torConf(): string {
  const peer = (name: string, addr: string, ch: string): string =>
    `protocol bgp ${name} {\n  local as 64512;\n  neighbor ${addr} as 64513;\n  password "${PASSWORD}";\n  graceful restart on;\n  hold time 9; connect delay time 1; connect retry time 1; error wait time 1,5;\n  ${ch} { import all; export none; };\n}\n`;
  return [
    'log stderr all;',
    'router id 192.168.56.1;',
    'protocol device { scan time 10; }',
    'protocol kernel k4 { ipv4 { import none; export all; }; }',
    'protocol kernel k6 { ipv6 { import none; export all; }; }',
    peer('n1', '192.168.56.11', 'ipv4'),
    peer('n2', '192.168.56.12', 'ipv4'),
    peer('n1v6', 'fd00:56::11', 'ipv6'),
    peer('n2v6', 'fd00:56::12', 'ipv6'),
  ].join('\n');
}

function birdc(...args: string[]): Promise<string> {
  return must('birdc', ['-s', birdCtl(), ...args]);
}

/** The ToR's kernel routes learnt from BGP (`proto bird`). */
async function torRoutes(): Promise<string> {
  return (
    (await must('ip', ['-n', h.sw, 'route', 'show', 'proto', 'bird'])) +
    (await must('ip', ['-n', h.sw, '-6', 'route', 'show', 'proto', 'bird']))
  );
}

/** Creates a Pod of `network` and runs CNI ADD on `n`; returns the CNI result (code + output) and the pod. */
async function tryAddPod(
  n: TestNode,
  name: string,
  family: string,
  network = NET,
): Promise<{ code: number; out: string; pod: TestPod }> {
  const r = await addPodTo({ c, h }, n, name, {
    annotations: { [ANNOTATION_SPECIFIED_NETWORK]: network, [ANNOTATION_IP_FAMILY]: family },
  });
  // the pod as the tests use it: later CNI calls of this file carry no K8S_POD_UID
  const { namespace, ns, netns, node, containerID, ips, result } = r.pod;
  const p: TestPod = { name, namespace, ns, netns, node, containerID, ips, result };
  if (r.code === 0) pods.set(name, p);
  return { code: r.code, out: r.out, pod: p };
}

async function addPod(n: TestNode, name: string, family = 'IPv4', network = NET): Promise<TestPod> {
  const r = await tryAddPod(n, name, family, network);
  expect(r.code, `ADD ${name}: ${r.out}`).toBe(0);
  return r.pod;
}

async function delPod(p: TestPod): Promise<void> {
  const r = await h.cni('DEL', cniEnv(p), h.netconf(p.node));
  expect(r.code, `DEL ${p.name}: ${r.stdout}${r.stderr}`).toBe(0);
}

async function peersEstablished(names: string[]): Promise<boolean> {
  const out = await birdc('show', 'protocols');
  return names.every((n) => new RegExp(`^${n}\\s+BGP\\s+.*Established`, 'm').test(out));
}

async function metricsOf(n: TestNode): Promise<string> {
  return inNs(n.ns, 'curl', '-sf', 'http://127.0.0.1:8091/metrics');
}

async function patchPeers(peers: object[]): Promise<void> {
  await c.mergePatch(paths.network(NET), { spec: { config: { bgpPeers: peers } } });
}

const PEER4 = { asn: 64512, address: '192.168.56.1', password: PASSWORD, gracefulRestartSeconds: 120 };
const PEER6 = { asn: 64512, address: 'fd00:56::1', password: PASSWORD, gracefulRestartSeconds: 120 };
const PEERS = [PEER4, PEER6];

function gobgpdPid(n: TestNode): number | undefined {
  try {
    return Number(readFileSync(path.join(n.dir, 'state', 'gobgpd.pid'), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** Synchronous last resort (a crashed run): BIRD and the gobgpds by their pid files. */
function killSpeakersSync(): void {
  const pids = [...(h ? [...h.nodes.values()].map(gobgpdPid) : [])];
  try {
    pids.push(Number(readFileSync(birdPid(), 'utf8').trim()) || undefined);
  } catch {
    // BIRD never started
  }
  for (const pid of pids)
    if (pid)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
}

beforeAll(async () => {
  process.once('exit', killSpeakersSync);
  t = await startTestCluster({
    nodes: [1, 2],
    nodeLabels: { [RACK]: '1' },
    publishAddresses: false,
    beforeNodes: async (harness) => {
      h = harness;
      // the switch namespace is the ToR: BIRD 2 learns the nodes' routes into its kernel table
      writeFileSync(path.join(h.dir, 'bird.conf'), torConf());
      await must('bird', ['-p', '-c', path.join(h.dir, 'bird.conf')]);
      await must('ip', [
        'netns',
        'exec',
        h.sw,
        'bird',
        '-c',
        path.join(h.dir, 'bird.conf'),
        '-s',
        birdCtl(),
        '-P',
        birdPid(),
      ]);
    },
    networks: [
      overlayNetwork('overlay', 4),
      {
        apiVersion: NETWORKING_API_VERSION,
        kind: 'Network',
        metadata: { name: NET },
        spec: {
          type: 'Underlay',
          mode: 'BGP',
          netID: 64513,
          nodeSelector: { [RACK]: '1' },
          config: { bgpPeers: PEERS },
        },
      },
    ],
    subnets: [
      subnet('overlay-v4', 'overlay', '4', '10.210.0.0/16'),
      subnet('bgp-v4', NET, '4', '10.220.0.0/24'),
      subnet('bgp-v6', NET, '6', 'fd00:220::/64'),
    ],
    managerArgs: ['--identity=bgp-manager', '--metrics-port=0', '--leader-elect-lease-duration=4'],
    waitNetwork: NET,
    beforeStop: stopSpeakers,
  });
  ({ c, h } = t);
  await eventually('ToR peers Established', () => peersEstablished(['n1', 'n2', 'n1v6', 'n2v6']), 30_000);
}, 240_000);

/** gobgpd pids read before the harness removes its directory; killed after the daemons are gone. */
let gobgpdPids: (number | undefined)[] = [];

/**
 * gobgpd (detached by design) and BIRD (daemonizes) are no children of the harness: BIRD is killed and the gobgpd
 * pids are read from their pid files before the harness removes its directory.
 */
async function stopSpeakers(): Promise<void> {
  gobgpdPids = h ? [...h.nodes.values()].map(gobgpdPid) : [];
  let bird: number | undefined;
  try {
    bird = Number(readFileSync(birdPid(), 'utf8').trim()) || undefined;
  } catch {
    // BIRD never started
  }
  if (bird) await sh('kill', [String(bird)]);
}

afterAll(async () => {
  await t?.stop();
  for (const pid of gobgpdPids) if (pid) await sh('kill', ['-9', String(pid)]);
}, 60_000);

describe('BGP underlay with a BIRD ToR (root + netns (real))', () => {
  it('the ToR learns the subnet and each pod /32; client ↔ pods both ways with source addresses kept (IPv4)', async () => {
    const a = await addPod(h.node('node1'), 'bgp-a');
    const b = await addPod(h.node('node2'), 'bgp-b');
    await eventually(
      'ToR kernel has 10.220.0.0/24 and both /32s',
      async () => {
        const r = await torRoutes();
        return (
          r.includes('10.220.0.0/24') &&
          r.includes(`${ipOf(a, 4)} via 192.168.56.11`) &&
          r.includes(`${ipOf(b, 4)} via 192.168.56.12`)
        );
      },
      10_000,
    );
    for (const p of [a, b]) {
      expect(await ping(h.outside, ipOf(p, 4)), `client → ${p.name}`).toBe(true);
      expect(await ping(p.ns, CLIENT4), `${p.name} → client`).toBe(true);
      expect(await sourceSeenBy(p.ns, ipOf(p, 4), h.outside)).toBe(CLIENT4);
      expect(await sourceSeenBy(h.outside, CLIENT4, p.ns)).toBe(ipOf(p, 4));
    }
    expect(await ping(a.ns, ipOf(b, 4)), 'pod on node1 → pod on node2').toBe(true);
    // NO_EXPORT on the pod host routes, not on the subnet
    const show = await birdc('show', 'route', 'all', `${ipOf(a, 4)}/32`);
    expect(show).toMatch(/BGP.community: .*\(65535,65281\)/);
  });

  it('IPv6 and dual stack: the ToR learns /128s over the IPv6 sessions, client ↔ pod both ways', async () => {
    const d = await addPod(h.node('node1'), 'bgp-d6', 'DualStack');
    await eventually(
      'ToR has the /128',
      async () => (await torRoutes()).includes(`${ipOf(d, 6)} via fd00:56::11`),
      10_000,
    );
    expect(await ping(h.outside, ipOf(d, 6))).toBe(true);
    expect(await ping(d.ns, CLIENT6)).toBe(true);
    expect(await sourceSeenBy(d.ns, ipOf(d, 6), h.outside)).toBe(CLIENT6);
    expect(await sourceSeenBy(h.outside, CLIENT6, d.ns)).toBe(ipOf(d, 6));
    expect(await ping(h.outside, ipOf(d, 4))).toBe(true);
  });

  it('DEL withdraws the pod /32 at the ToR within 2 s', async () => {
    const p = await addPod(h.node('node2'), 'bgp-del');
    const ip = ipOf(p, 4);
    await eventually('ToR has the /32', async () => (await torRoutes()).includes(`${ip} via`), 10_000);
    const t0 = performance.now();
    await delPod(p);
    await eventually('ToR lost the /32', async () => !(await torRoutes()).includes(`${ip} via`), 5000, 20);
    const ms = performance.now() - t0;
    console.log(`withdraw visible in the ToR kernel ${Math.round(ms)} ms after CNI DEL was started`);
    expect(ms).toBeLessThan(2000);
  });

  it('a peer that is down refuses ADD with a clear message, unless allowNotEstablished', async () => {
    await birdc('disable', 'n1');
    try {
      await eventually(
        'node1 sees its IPv4 peer down',
        async () =>
          /hybridnet_bgp_peer_state\{[^}]*peer="192\.168\.56\.1"[^}]*\} [0-5]\b/.test(await metricsOf(h.node('node1'))),
        20_000,
      );
      const r = await tryAddPod(h.node('node1'), 'bgp-refused', 'IPv4');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/BGP peer 192\.168\.56\.1 \(AS 64512\) of network bgp-rack1 is \w+, not Established/);
      // ADD readiness announced the pod before it checked the peers: the refused ADD withdrew it again
      const all = await c.get<{ items: IPInstance[] }>(resourcePath(IPInstanceResource, 'default'));
      const refusedIP =
        all.items.find((i) => i.spec.binding?.podName === 'bgp-refused')?.spec.address.ip.split('/')[0] ?? '';
      expect(refusedIP).not.toBe('');
      const rib = await must('ip', ['netns', 'exec', h.node('node1').ns, 'gobgp', 'global', 'rib', '-a', 'ipv4']);
      expect(rib).toContain('10.220.0.0/24');
      expect(rib).not.toContain(`${refusedIP}/32`);
      await eventually('a Warning event on Node node1 about the peer', async () => {
        const ev = await c.get<{
          items: { reason?: string; type?: string; message?: string; involvedObject?: { name?: string } }[];
        }>('/api/v1/namespaces/default/events');
        return ev.items.some(
          (e) =>
            e.reason === 'BGPPeerNotEstablished' &&
            e.type === 'Warning' &&
            e.involvedObject?.name === 'node1' &&
            e.message?.includes('192.168.56.1'),
        );
      });
      await patchPeers([{ ...PEER4, allowNotEstablished: true }, PEER6]);
      await eventually(
        'ADD succeeds with allowNotEstablished',
        async () =>
          (await tryAddPod(h.node('node1'), `bgp-allowed-${randomBytes(2).toString('hex')}`, 'IPv4')).code === 0,
        15_000,
        500,
      );
    } finally {
      await birdc('enable', 'n1');
      await patchPeers(PEERS);
    }
    await eventually('n1 back', () => peersEstablished(['n1']), 20_000);
  });

  it('kill -9 of the daemon: client → pod traffic keeps flowing, the restarted daemon adopts gobgpd', async () => {
    const n = h.node('node1');
    const a = pods.get('bgp-a');
    if (!a) throw new Error('no bgp-a');
    const before = gobgpdPid(n);
    const pinger = sh(
      'ip',
      ['netns', 'exec', h.outside, 'ping', '-q', '-i', '0.1', '-c', '80', '-W', '1', ipOf(a, 4)],
      {
        timeoutMs: 30_000,
      },
    );
    await new Promise((r) => setTimeout(r, 1000));
    await h.kill(n.daemon, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    await h.startDaemon(n);
    const out = (await pinger).stdout;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    console.log(`kill -9 of the daemon during client → pod ping: ${m?.[0] ?? out}`);
    expect(Number(m?.[1]) - Number(m?.[2])).toBeLessThanOrEqual(2);
    expect(gobgpdPid(n)).toBe(before);
    expect(await torRoutes()).toContain(`${ipOf(a, 4)} via 192.168.56.11`);
  });

  it('overlay pods reach BGP pods directly (no NAT) and back', async () => {
    const o = await addPod(h.node('node2'), 'ovl-o', 'IPv4', 'overlay');
    const a = pods.get('bgp-a');
    if (!a) throw new Error('no bgp-a');
    expect(await ping(o.ns, ipOf(a, 4))).toBe(true);
    expect(await sourceSeenBy(a.ns, ipOf(a, 4), o.ns)).toBe(ipOf(o, 4));
    expect(await sourceSeenBy(o.ns, ipOf(o, 4), a.ns)).toBe(ipOf(a, 4));
  });

  it('GlobalBGP: nodes of a BGP network join it; its pods are announced without NO_EXPORT and reach the client', async () => {
    await c.create(paths.network(), {
      apiVersion: NETWORKING_API_VERSION,
      kind: 'Network',
      metadata: { name: 'gbgp' },
      spec: { type: 'GlobalBGP', netID: null },
    });
    await c.create(paths.subnet(), subnet('gbgp-v4', 'gbgp', '4', '10.230.0.0/24'));
    await eventually(
      'manager put both nodes into the GlobalBGP network (bgp-network-attachment label)',
      async () => {
        const nw = await c.get<{ status?: { nodeList?: string[] } }>(paths.network('gbgp'));
        return (nw.status?.nodeList ?? []).length === 2;
      },
      30_000,
    );
    const g = await eventually(
      'ADD of a GlobalBGP pod (the daemon has seen the network)',
      async () => {
        const name = `gbgp-${randomBytes(2).toString('hex')}`;
        const r = await tryAddPod(h.node('node2'), name, 'IPv4', 'gbgp');
        return r.code === 0 ? r.pod : undefined;
      },
      20_000,
      500,
    );
    await eventually(
      'ToR has the GlobalBGP /32',
      async () => (await torRoutes()).includes(`${ipOf(g, 4)} via 192.168.56.12`),
      10_000,
    );
    const show = await birdc('show', 'route', 'all', `${ipOf(g, 4)}/32`);
    expect(show).not.toMatch(/65535,65281/);
    expect(await ping(h.outside, ipOf(g, 4))).toBe(true);
    expect(await sourceSeenBy(h.outside, CLIENT4, g.ns)).toBe(ipOf(g, 4));
    const a = pods.get('bgp-a');
    if (a) expect(await ping(g.ns, ipOf(a, 4)), 'GlobalBGP pod → BGP pod on the other node').toBe(true);
  });

  it('kill -9 of gobgpd: the ToR keeps the routes (graceful restart), the daemon starts a new gobgpd', async () => {
    const n = h.node('node2');
    const b = pods.get('bgp-b');
    if (!b) throw new Error('no bgp-b');
    const old = gobgpdPid(n);
    expect(old).toBeDefined();
    const pinger = sh(
      'ip',
      ['netns', 'exec', h.outside, 'ping', '-q', '-i', '0.1', '-c', '100', '-W', '1', ipOf(b, 4)],
      {
        timeoutMs: 30_000,
      },
    );
    await new Promise((r) => setTimeout(r, 500));
    await must('kill', ['-9', String(old)]);
    await eventually('a new gobgpd', async () => gobgpdPid(n) !== old && (await peersEstablished(['n2'])), 25_000, 200);
    const out = (await pinger).stdout;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    console.log(`kill -9 of gobgpd during client → pod ping: ${m?.[0] ?? out}`);
    expect(Number(m?.[1]) - Number(m?.[2])).toBeLessThanOrEqual(2);
    expect(await torRoutes()).toContain(`${ipOf(b, 4)} via 192.168.56.12`);
  });

  it('a wrong password or AS on the peer is reported in NodeInfo status and metrics, not ignored', async () => {
    const peerStatus = async (): Promise<NodeBGPPeerStatus | undefined> => {
      const ni = await c.get<NodeInfo>(resourcePath(NodeInfoResource, undefined, 'node1'));
      return ni.status?.bgpPeers?.find((x) => x.address === '192.168.56.1');
    };
    await eventually('node1 publishes the peer Established', async () => (await peerStatus())?.state === 'Established');
    await patchPeers([{ ...PEER4, password: 'not-the-secret' }, PEER6]);
    const wrongPw = await eventually(
      'node1 reports the IPv4 peer down with an error',
      async () => {
        const p = await peerStatus();
        return p && p.state !== 'Established' && /TCP-MD5/.test(p.lastError ?? '') ? p : undefined;
      },
      30_000,
    );
    console.log(`wrong password: ${JSON.stringify(wrongPw)}`);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await peersEstablished(['n1'])).toBe(false);
    expect(await metricsOf(h.node('node1'))).toMatch(
      /hybridnet_bgp_peer_state\{[^}]*peer="192\.168\.56\.1"[^}]*\} [0-5]\b/,
    );
    await patchPeers([{ ...PEER4, asn: 64999 }, PEER6]);
    const wrongAs = await eventually(
      'node1 reports the wrong AS',
      async () => {
        const p = await peerStatus();
        return p && p.asn === 64999 && p.state !== 'Established' && /as number mismatch/.test(p.lastError ?? '')
          ? p
          : undefined;
      },
      30_000,
    );
    console.log(`wrong AS: ${JSON.stringify(wrongAs)}`);
    expect(await metricsOf(h.node('node1'))).toMatch(
      /hybridnet_bgp_peer_state\{[^}]*peer="192\.168\.56\.1"[^}]*asn="64999"[^}]*\} [0-5]\b/,
    );
    expect(await metricsOf(h.node('node1'))).toMatch(
      /hybridnet_bgp_announced_prefixes\{[^}]*family="ipv4"[^}]*\} [1-9]/,
    );
    await patchPeers(PEERS);
    await eventually('n1 back', () => peersEstablished(['n1']), 30_000);
  });
});
