/**
 * VLAN "ARP enhancement" (SPEC §7.6) in real namespaces (root + netns (real)): an underlay VLAN network (netID 0, the
 * uplink eth0 itself) with an IPv4 subnet 10.230.0.0/24 the nodes have no address in (its gateway 10.230.0.1 on the
 * switch's bridge). A pod on node1 ⇒ node1's eth0 carries `<podIP>/24 noprefixroute scope link` without a `local` route
 * in table local; the pod stays reachable from the gateway; an ARP request node1 sends into the VLAN for the gateway
 * carries the pod subnet sender IP (seen by tcpdump on the bridge); the lowest local pod wins and deleting it moves the
 * address to the next local pod, deleting the last one removes it; node1's own address is untouched throughout.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_SUBNET,
  IPInstanceResource,
  type IPInstance,
} from '../../src/api/index.ts';
import { resourcePath, type KubeClient } from '../../src/kube/index.ts';
import { eventually } from '../fixture/kube.ts';
import { deletePod, gone, paths, subnet, underlayNetwork } from '../manager/helpers.ts';
import { addPod as addPodTo, switchSubnets } from './cluster-fixture.ts';
import { useTestCluster } from './use-cluster.ts';
import { type Harness, inNs, ipBatchNs, ping, sh, type TestNode } from './harness.ts';

let c: KubeClient;
let h: Harness;
const LABEL = 'hybridnet-test/underlay';
const ARP_SUBNET = 'arp-v4';

interface AddedPod {
  name: string;
  ip: string;
  ns: string;
  env: Record<string, string>;
}

/** Creates a Pod of subnet `sub` on `n`, waits for its IPInstance and runs CNI ADD (must succeed). */
async function addPod(n: TestNode, name: string, sub = ARP_SUBNET): Promise<AddedPod> {
  const r = await addPodTo({ c, h }, n, name, {
    annotations: {
      [ANNOTATION_NETWORK_TYPE]: 'Underlay',
      [ANNOTATION_IP_FAMILY]: 'IPv4Only',
      [ANNOTATION_SPECIFIED_SUBNET]: sub,
    },
    waitInstances: 1,
  });
  expect(r.code, `ADD ${name}: ${r.out}`).toBe(0);
  return { name, ip: r.instanceIPs[0] ?? '', ns: r.pod.ns, env: r.pod.env };
}

/**
 * CNI DEL, Pod deletion, then the deletion of its IPInstance the Pod owns (what the garbage collector of
 * kube-controller-manager does; this test has none), and waits until the IPInstance is gone.
 */
async function removePod(n: TestNode, p: AddedPod): Promise<void> {
  const r = await h.cni('DEL', p.env, h.netconf(n));
  expect(r.code, `DEL ${p.name}: ${r.stdout}${r.stderr}`).toBe(0);
  await deletePod(c, 'default', p.name);
  await eventually(`pod ${p.name} gone`, () => gone(c, paths.pods('default', p.name)));
  const l = await c.get<{ items: IPInstance[] }>(resourcePath(IPInstanceResource, 'default'));
  for (const i of l.items.filter((x) => x.spec.binding?.podName === p.name))
    await c.delete(resourcePath(IPInstanceResource, 'default', i.metadata.name));
  await eventually(`IPInstance of ${p.name} released`, async () => {
    const l2 = await c.get<{ items: IPInstance[] }>(resourcePath(IPInstanceResource, 'default'));
    return !l2.items.some((i) => i.spec.binding?.podName === p.name);
  });
}

interface AddrRow {
  local: string;
  prefixlen: number;
  scope: string;
  noprefixroute?: boolean;
  secondary?: boolean;
}

/** IPv4 addresses of eth0 of node `n`. */
async function eth0v4(n: TestNode): Promise<AddrRow[]> {
  const rows = JSON.parse(await inNs(n.ns, 'ip', '-4', '-json', 'addr', 'show', 'dev', 'eth0')) as {
    addr_info?: AddrRow[];
  }[];
  return rows[0]?.addr_info ?? [];
}

/** The addresses of eth0 inside 10.230.0.0/24. */
async function enhanced(n: TestNode): Promise<AddrRow[]> {
  return (await eth0v4(n)).filter((a) => a.local.startsWith('10.230.0.'));
}

/** Plain IPs of the `local` routes of table local of node `n`. */
async function localRoutes(n: TestNode): Promise<string[]> {
  const rows = JSON.parse(
    await inNs(n.ns, 'ip', '-4', '-json', 'route', 'show', 'table', 'local', 'type', 'local'),
  ) as { dst: string }[];
  return rows.map((r) => r.dst);
}

useTestCluster(
  {
    nodes: [1, 2],
    nodeLabels: { [LABEL]: 'true' },
    // the gateway of the pod subnet lives on the switch's bridge (the nodes have no address in 10.230.0.0/24)
    beforeNodes: async (harness) => {
      await ipBatchNs(harness.sw, ['addr add 10.230.0.1/24 dev br0']);
    },
    networks: [underlayNetwork('underlay', { [LABEL]: 'true' })],
    subnets: [
      subnet(ARP_SUBNET, 'underlay', '4', '10.230.0.0/24', {
        gateway: '10.230.0.1',
        start: '10.230.0.10',
        end: '10.230.0.50',
      }),
      // the nodes' own subnet: the enhancement is skipped there (eth0 has a normal address in it)
      ...switchSubnets('underlay', { name: 'node', end4: 120, v6: false }),
    ],
    managerArgs: ['--identity=arp-manager', '--metrics-port=0', '--leader-elect-lease-duration=4'],
    waitNetwork: 'underlay',
    daemons: 'sequential',
    daemonFlags: ['--iptables-check-duration=600s'],
  },
  (t) => {
    ({ c, h } = t);
  },
);

/**
 * Captures ARP on the switch's bridge while `action` runs; returns tcpdump's lines once one matches `until` (or
 * after 8 s). tcpdump is started by PID and killed by PID.
 */
async function captureArp(action: () => Promise<unknown>, until: RegExp): Promise<string> {
  const dump = spawn('ip', ['netns', 'exec', h.sw, 'tcpdump', '-i', 'br0', '-n', '-l', '-e', 'arp'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  dump.stdout.on('data', (b: Buffer) => (out += b.toString()));
  dump.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => dump.once('exit', () => r()));
  try {
    const t0 = Date.now();
    while (!err.includes('listening on') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    await action();
    const t1 = Date.now();
    while (!until.test(out) && Date.now() - t1 < 8000) await new Promise((r) => setTimeout(r, 100));
  } finally {
    dump.kill('SIGTERM');
    await exited;
  }
  return out;
}

describe('VLAN ARP enhancement (root + netns (real))', () => {
  const pods: AddedPod[] = [];

  it('a pod of a subnet the node has no address in ⇒ its IP on eth0 (noprefixroute, scope link), no local route', async () => {
    const n1 = h.node('node1');
    const p = await addPod(n1, 'arp-a');
    pods.push(p);
    const addrs = await eventually('enhanced address on node1 eth0', async () => {
      const a = await enhanced(n1);
      return a.length > 0 ? a : undefined;
    });
    expect(addrs).toEqual([
      expect.objectContaining({ local: p.ip, prefixlen: 24, scope: 'link', noprefixroute: true }),
    ]);
    expect(await localRoutes(n1)).not.toContain(p.ip);
    // no connected route for the pod subnet in main (noprefixroute): the node's own traffic is not affected
    expect(await inNs(n1.ns, 'ip', '-4', 'route', 'show', 'table', 'main')).not.toContain('10.230.0.0/24');
    // the node's own address is untouched, node2 (no local pod of the subnet) gets nothing
    expect((await eth0v4(n1)).map((a) => a.local)).toContain(n1.ip4);
    expect(await enhanced(h.node('node2'))).toEqual([]);
  }, 120_000);

  it('the pod is reachable from the gateway; the node’s ARP for the gateway carries the pod subnet sender', async () => {
    const n1 = h.node('node1');
    const p = pods[0];
    if (!p) throw new Error('no pod from the previous test');
    expect(await ping(h.sw, p.ip)).toBe(true);
    // forget the gateway on node1 (and node1 on the gateway), then make the pod talk to the gateway: node1 must ARP
    await sh('ip', ['-n', n1.ns, 'neigh', 'flush', 'dev', 'eth0']);
    await sh('ip', ['-n', h.sw, 'neigh', 'flush', 'dev', 'br0']);
    const want = new RegExp(`Request who-has 10\\.230\\.0\\.1 tell ${p.ip.replaceAll('.', '\\.')}`);
    const out = await captureArp(() => ping(p.ns, '10.230.0.1'), want);
    expect(out, 'tcpdump on the bridge').toMatch(want);
    expect(out).not.toMatch(/who-has 10\.230\.0\.1 tell 192\.168\.56\./);
  }, 60_000);

  it('the lowest local pod IP holds the address; deleting it moves the address; deleting the last removes it', async () => {
    const n1 = h.node('node1');
    const first = pods[0];
    if (!first) throw new Error('no pod from the first test');
    const second = await addPod(n1, 'arp-b');
    const third = await addPod(n1, 'arp-c');
    const ips = [first.ip, second.ip, third.ip];
    const num = (ip: string): number => Number(ip.split('.')[3]);
    const sorted = [...ips].sort((a, b) => num(a) - num(b));
    const lowest = (xs: AddedPod[]): string => [...xs].sort((a, b) => num(a.ip) - num(b.ip))[0]?.ip ?? '';
    let live = [first, second, third];
    await eventually('exactly the lowest pod IP on eth0', async () => {
      const a = await enhanced(n1);
      return a.length === 1 && a[0]?.local === sorted[0];
    });
    // remove pods one by one, lowest first: the address follows the lowest remaining local pod
    while (live.length > 0) {
      const victim = live.find((x) => x.ip === lowest(live));
      if (!victim) throw new Error('no victim');
      await removePod(n1, victim);
      live = live.filter((x) => x !== victim);
      const expected = live.length > 0 ? lowest(live) : undefined;
      await eventually(`eth0 enhanced address = ${expected ?? 'none'}`, async () => {
        const a = await enhanced(n1);
        return expected === undefined ? a.length === 0 : a.length === 1 && a[0]?.local === expected;
      });
      if (expected) {
        expect(await localRoutes(n1)).not.toContain(expected);
        const rest = live.find((x) => x.ip === expected);
        if (rest) expect(await ping(h.sw, rest.ip)).toBe(true);
      }
    }
    // the node's own address survived every sync
    expect(await eth0v4(n1)).toEqual([expect.objectContaining({ local: n1.ip4, prefixlen: 24, scope: 'global' })]);
  }, 180_000);

  it('skipped in a subnet where eth0 has a normal address (the node subnet): eth0 keeps exactly its own address', async () => {
    const n2 = h.node('node2');
    const p = await addPod(n2, 'arp-node-subnet', 'node-v4');
    expect(p.ip).toMatch(/^192\.168\.56\.1\d\d$/);
    expect(await ping(h.sw, p.ip)).toBe(true);
    // a full reconcile has run since the IPInstance appeared (the ADD waited for the proxy entry it plans)
    const daemonLog = (await sh('cat', [path.join(n2.dir, 'daemon.log')])).stdout;
    expect(daemonLog).not.toContain(`addr replace ${p.ip}/24`);
    expect(await eth0v4(n2)).toEqual([expect.objectContaining({ local: n2.ip4, prefixlen: 24, scope: 'global' })]);
    expect(await localRoutes(n2)).toContain(n2.ip4);
  }, 60_000);
});
