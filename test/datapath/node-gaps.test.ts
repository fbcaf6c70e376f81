/**
 * Node daemon behaviour of SPEC §7.1 / §7.3 step 8 / §7.8 / §7.10 in real namespaces (root + netns (real)): start-up
 * refusal on a foreign route in table 40000, removal of the legacy RAMA-* chains, the node-namespace sysctls, the
 * node-local VXLAN addresses (NodeInfo localIPs and the VXLAN device) and their update on an address change long
 * before the periodic resync, the VLAN gateway / duplicate-IP ARP checks at ADD, and the pod family taken from the
 * namespace annotation. Two node namespaces, a real kube-apiserver and manager, real daemons, the real CNI plugin.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_SUBNET,
  NodeInfoResource,
  type NodeInfo,
} from '../../src/api/index.ts';
import { resourcePath, type KubeClient } from '../../src/kube/index.ts';
import { hostVethName } from '../../src/net/index.ts';
import { eventually } from '../fixture/kube.ts';
import { subnet } from '../manager/helpers.ts';
import { addPod, overlayAndUnderlay } from './cluster-fixture.ts';
import { useTestCluster } from './use-cluster.ts';
import { type Harness, inNs, ipBatchNs, must, sh, type TestNode } from './harness.ts';

let c: KubeClient;
let h: Harness;
const LABEL = 'hybridnet-test/underlay';
/** Daemon flags of this file: no periodic resync during the test (events only), short VLAN gateway check. */
const FLAGS = ['--iptables-check-duration=600s', '--vlan-check-timeout=1s'];

async function localIPs(name: string): Promise<string[]> {
  const ni = await c.get<NodeInfo>(resourcePath(NodeInfoResource, undefined, name)).catch(() => undefined);
  return ni?.spec.vtepInfo?.localIPs ?? [];
}

/** A sysctl of `ns` by its /proc/sys path (`net/ipv4/conf/eth0/rp_filter`). */
async function sysctl(ns: string, key: string): Promise<string> {
  return (await inNs(ns, 'cat', `/proc/sys/${key}`)).trim();
}

/** Creates a Pod on `n`, waits for its IPInstances, optionally runs `before(ips)`, then CNI ADD. */
async function add(
  n: TestNode,
  name: string,
  annotations: Record<string, string>,
  opts: { namespace?: string; expectInstances?: number; before?: (ips: string[]) => Promise<void> } = {},
): Promise<{ code: number; out: string; ips: string[]; addMs: number }> {
  const r = await addPod({ c, h }, n, name, {
    annotations,
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    waitInstances: opts.expectInstances ?? 1,
    ...(opts.before ? { beforeAdd: opts.before } : {}),
  });
  return { code: r.code, out: r.out, ips: r.instanceIPs, addMs: r.addMs };
}

const NETWORKS = overlayAndUnderlay({ label: LABEL, overlay4: '10.211.0.0/16', overlay6: 'fd00:211::/64', end4: 120 });

useTestCluster(
  {
    nodes: [1, 2],
    ...NETWORKS,
    subnets: [
      ...NETWORKS.subnets,
      // a subnet whose gateway exists nowhere
      subnet('nogw-v4', 'underlay', '4', '192.168.57.0/24', { gateway: '192.168.57.1' }),
      subnet('nogw-v6', 'underlay', '6', 'fd00:57::/64', { gateway: 'fd00:57::1' }),
    ],
    managerArgs: ['--identity=gaps-manager', '--metrics-port=0', '--leader-elect-lease-duration=4'],
    waitNetwork: 'underlay',
    // the tests start the daemons (the first one checks a refused start-up)
    daemons: 'none',
  },
  (t) => {
    ({ c, h } = t);
  },
);

describe('daemon start-up (root + netns (real))', () => {
  it('refuses to start while table 40000 holds a route that is not hybridnet’s', async () => {
    const n1 = h.node('node1');
    await must('ip', [
      '-n',
      n1.ns,
      'route',
      'add',
      '10.99.0.0/24',
      'via',
      '192.168.56.1',
      'dev',
      'eth0',
      'table',
      '40000',
    ]);
    await expect(h.startDaemon(n1, FLAGS)).rejects.toThrow(/exited/);
    expect(readFileSync(path.join(n1.dir, 'daemon.log'), 'utf8')).toContain(
      'table 40000 is used by others: 10.99.0.0/24 via 192.168.56.1 dev eth0 table 40000',
    );
    await must('ip', ['-n', n1.ns, 'route', 'del', '10.99.0.0/24', 'table', '40000']);
  }, 90_000);

  it('refuses to start when a --prefer-*-interfaces list names no interface of the node, naming the flag and the interfaces (issue #16)', async () => {
    const n1 = h.node('node1');
    await expect(h.startDaemon(n1, [...FLAGS, '--prefer-vxlan-interfaces=eth9'])).rejects.toThrow(/exited/);
    const log = readFileSync(path.join(n1.dir, 'daemon.log'), 'utf8');
    expect(log).toContain('--prefer-vxlan-interfaces=eth9: none of these interfaces exists on this node');
    expect(log).toMatch(/its interfaces: [^)]*\beth0\b/);
    // nothing of the overlay was created on the wrong interface
    expect(await inNs(n1.ns, 'ip', '-o', 'link', 'show')).not.toContain('vxlan');
  }, 90_000);

  it('removes the legacy RAMA-* chains and their hooks only; writes the node sysctls (accept_ra=2 before forwarding)', async () => {
    const n1 = h.node('node1');
    const n2 = h.node('node2');
    for (const bin of ['iptables', 'ip6tables'])
      await must(
        'ip',
        ['netns', 'exec', n1.ns, `${bin}-restore`, '--noflush'],
        [
          '*nat',
          ':RAMA-POSTROUTING - [0:0]',
          '-A POSTROUTING -m comment --comment "rama postrouting rules" -j RAMA-POSTROUTING',
          '-A POSTROUTING -o eth9 -m comment --comment "someone else" -j RETURN',
          '-A RAMA-POSTROUTING -j RETURN',
          'COMMIT',
          '*filter',
          ':RAMA-FORWARD - [0:0]',
          '-A FORWARD -m comment --comment "rama forward rules" -j RAMA-FORWARD',
          'COMMIT',
          '*mangle',
          ':RAMA-PREROUTING - [0:0]',
          '-A PREROUTING -m comment --comment "rama prerouting rules" -j RAMA-PREROUTING',
          'COMMIT',
          '',
        ].join('\n'),
      );
    // rp_filter on, an IPv6 default route learnt by RA, an address on eth0 that is neither in status nor extra
    await inNs(n1.ns, 'sysctl', '-qw', 'net.ipv4.conf.eth0.rp_filter=1', 'net.ipv4.conf.all.rp_filter=1');
    await inNs(n1.ns, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_filter=1', 'net.ipv6.conf.eth0.accept_ra=1');
    await must('ip', [
      '-n',
      n1.ns,
      '-6',
      'route',
      'replace',
      'default',
      'via',
      'fd00:56::1',
      'dev',
      'eth0',
      'proto',
      'ra',
    ]);
    await ipBatchNs(n1.ns, ['addr add 10.88.0.1/24 dev eth0']);
    await ipBatchNs(n2.ns, ['addr add 10.77.0.2/24 dev eth0']);
    await h.startDaemon(n1, FLAGS);
    await h.startDaemon(n2, [...FLAGS, '--extra-node-local-vxlan-ip-cidrs=10.77.0.0/24']);

    for (const bin of ['iptables', 'ip6tables']) {
      const saved = await inNs(n1.ns, `${bin}-save`);
      expect(saved, bin).not.toContain('RAMA-');
      expect(saved, bin).toContain('-A POSTROUTING -o eth9 -m comment --comment "someone else" -j RETURN');
      expect(saved, bin).toContain('HYBRIDNET-POSTROUTING');
    }
    expect(await sysctl(n1.ns, 'net/ipv4/conf/eth0/rp_filter')).toBe('0');
    expect(await sysctl(n1.ns, 'net/ipv4/conf/all/rp_filter')).toBe('0');
    expect(await sysctl(n1.ns, 'net/ipv4/conf/eth0.vxlan4/rp_filter')).toBe('0');
    expect(await sysctl(n1.ns, 'net/ipv4/conf/all/arp_filter')).toBe('0');
    expect(await sysctl(n1.ns, 'net/ipv6/conf/eth0/accept_ra')).toBe('2');
    expect(await sysctl(n1.ns, 'net/ipv6/conf/all/forwarding')).toBe('1');
    expect(await sysctl(n1.ns, 'net/ipv6/route/max_size')).toBe('524288');
    expect(await sysctl(n1.ns, 'net/ipv6/route/gc_thresh')).toBe('65536');
    // the kernel without sch_prio/act_pedit: one warning, the daemon goes on
    const log = readFileSync(path.join(n1.dir, 'daemon.log'), 'utf8');
    const warnings = log.split('\n').filter((l) => l.includes('"level":40') && l.includes('flood-MAC tc filter'));
    expect(warnings.length).toBeLessThanOrEqual(1);
  }, 120_000);
});

describe('node-local VXLAN addresses (root + netns (real))', () => {
  it('NodeInfo localIPs = host addresses in Node status.addresses, the VTEP IP and the extra CIDRs; on the VXLAN device with noprefixroute', async () => {
    await eventually(
      'both NodeInfos',
      async () => (await localIPs('node2')).length > 0 && (await localIPs('node1')).length > 0,
    );
    expect(await localIPs('node1')).toEqual(['192.168.56.11', 'fd00:56::11']);
    expect(await localIPs('node2')).toEqual(['10.77.0.2', '192.168.56.12', 'fd00:56::12']);
    const addrs = JSON.parse(await inNs(h.node('node2').ns, 'ip', '-json', 'addr', 'show', 'dev', 'eth0.vxlan4')) as {
      addr_info: { local: string; prefixlen: number; scope: string; noprefixroute?: boolean }[];
    }[];
    const global = (addrs[0]?.addr_info ?? []).filter((a) => a.scope === 'global');
    expect(global.map((a) => `${a.local}/${a.prefixlen}`).sort()).toEqual([
      '10.77.0.2/24',
      '192.168.56.12/24',
      'fd00:56::12/64',
    ]);
    expect(global.every((a) => a.noprefixroute)).toBe(true);
  }, 60_000);

  it('an address added to the uplink shows in localIPs within seconds (resync is 600 s: the link monitor did it)', async () => {
    const n2 = h.node('node2');
    const t0 = Date.now();
    await ipBatchNs(n2.ns, ['addr add 10.77.0.3/24 dev eth0']);
    await eventually('10.77.0.3 in localIPs', async () => (await localIPs('node2')).includes('10.77.0.3'), 10_000, 100);
    const ms = Date.now() - t0;
    console.log(`address → NodeInfo localIPs: ${ms} ms`);
    expect(ms).toBeLessThan(10_000);
    await ipBatchNs(n2.ns, ['addr del 10.77.0.3/24 dev eth0']);
    await eventually('10.77.0.3 gone', async () => !(await localIPs('node2')).includes('10.77.0.3'), 10_000, 100);
    // and from the VXLAN device
    expect(await inNs(n2.ns, 'ip', '-o', 'addr', 'show', 'dev', 'eth0.vxlan4')).not.toContain('10.77.0.3');
  }, 60_000);
});

describe('VLAN checks at ADD (root + netns (real))', () => {
  const underlay4 = {
    [ANNOTATION_NETWORK_TYPE]: 'Underlay',
    [ANNOTATION_IP_FAMILY]: 'IPv4Only',
    [ANNOTATION_SPECIFIED_SUBNET]: 'underlay-v4',
  };

  it('a pod whose IP a host of the segment already owns is refused, naming the MAC that answered', async () => {
    const links = JSON.parse(await inNs(h.sw, 'ip', '-json', 'link', 'show', 'br0')) as { address: string }[];
    const brMac = links[0]?.address ?? '';
    let taken = '';
    const r = await add(h.node('node1'), 'vlan-dup', underlay4, {
      before: async ([ip]) => {
        taken = ip ?? '';
        await ipBatchNs(h.sw, [`addr add ${taken}/32 dev br0`]);
      },
    });
    await ipBatchNs(h.sw, [`addr del ${taken}/32 dev br0`]);
    expect(r.code, r.out).not.toBe(0);
    expect(taken).toMatch(/^192\.168\.56\.1\d\d$/);
    expect(r.out).toContain(`pod ip ${taken} duplicated: answered by ${brMac} on eth0`);
    // (here the gateway itself owns the address, so it also ignores the gateway check's request whose sender is
    // that address: the refusal may name both problems)
    // nothing left behind on the node
    expect(await inNs(h.node('node1').ns, 'ip', '-o', 'link')).not.toContain(hostVethName('default', 'vlan-dup'));
  }, 60_000);

  it('a pod of a subnet whose gateway does not answer ARP is refused after --vlan-check-timeout', async () => {
    const t0 = Date.now();
    const r = await add(h.node('node1'), 'vlan-nogw', { ...underlay4, [ANNOTATION_SPECIFIED_SUBNET]: 'nogw-v4' });
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toContain(
      'vlan network seems not working: gateway 192.168.57.1 of subnet nogw-v4 does not answer ARP on eth0 within 1s',
    );
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 60_000);

  it('an IPv6 pod of a subnet whose gateway does not answer neighbour solicitation is refused', async () => {
    const r = await add(h.node('node2'), 'vlan-nogw6', {
      [ANNOTATION_NETWORK_TYPE]: 'Underlay',
      [ANNOTATION_IP_FAMILY]: 'IPv6Only',
      [ANNOTATION_SPECIFIED_SUBNET]: 'nogw-v6',
    });
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toContain(
      'vlan network seems not working: gateway fd00:57::1 of subnet nogw-v6 does not answer neighbour solicitation on eth0 within 1s',
    );
  }, 60_000);

  it('a normal underlay pod passes both checks (and its ADD is timed)', async () => {
    const r = await add(h.node('node2'), 'vlan-ok', underlay4);
    console.log(`underlay IPv4 CNI ADD with the VLAN checks: ${r.addMs} ms`);
    expect(r.code, r.out).toBe(0);
    const ip = r.ips[0] ?? '';
    expect((await sh('ip', ['netns', 'exec', h.sw, 'ping', '-c1', '-W2', ip])).code).toBe(0);
  }, 60_000);
});

describe('IPv6 underlay announcement (root + netns (real))', () => {
  it('an unsolicited NA (override) updates the gateway’s stale neighbour entry for the pod IP to the node’s MAC', async () => {
    const n2 = h.node('node2');
    const links = JSON.parse(await inNs(n2.ns, 'ip', '-json', 'link', 'show', 'eth0')) as { address: string }[];
    const nodeMac = links[0]?.address ?? '';
    let ip = '';
    const r = await add(
      n2,
      'vlan-v6',
      {
        [ANNOTATION_NETWORK_TYPE]: 'Underlay',
        [ANNOTATION_IP_FAMILY]: 'IPv6Only',
        [ANNOTATION_SPECIFIED_SUBNET]: 'underlay-v6',
      },
      {
        before: async ([x]) => {
          ip = x ?? '';
          // the entry a previous owner of the address (another node) left behind
          await ipBatchNs(h.sw, [`neigh replace ${ip} lladdr 02:00:00:00:00:99 dev br0 nud stale`]);
        },
      },
    );
    expect(r.code, r.out).toBe(0);
    await eventually(
      'gateway neighbour entry points at node2',
      async () => (await inNs(h.sw, 'ip', 'neigh', 'show', ip, 'dev', 'br0')).includes(`lladdr ${nodeMac}`),
      5_000,
      100,
    );
  }, 60_000);
});

describe('pod IP family from the namespace (root + netns (real))', () => {
  it('a pod without annotations in a namespace annotated DualStack gets both families (ADD races the allocation)', async () => {
    await c.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'dual',
        annotations: { [ANNOTATION_IP_FAMILY]: 'DualStack', [ANNOTATION_NETWORK_TYPE]: 'Overlay' },
      },
    });
    await c.create('/api/v1/namespaces/dual/serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default' },
    });
    const r = await add(h.node('node1'), 'ns-dual', {}, { namespace: 'dual', expectInstances: 0 });
    expect(r.code, r.out).toBe(0);
    const result = JSON.parse(r.out.slice(0, r.out.lastIndexOf('}') + 1)) as { ips: { address: string }[] };
    expect(result.ips.map((i) => (i.address.includes(':') ? 6 : 4)).sort()).toEqual([4, 6]);
  }, 60_000);
});
