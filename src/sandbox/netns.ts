/**
 * Builds and removes the sandbox's namespaces (see topology.ts). Every command here names a namespace the sandbox
 * created (`ip -n <ns>`, `ip netns exec <ns>`); none configures the root namespace.
 */
import { execIn, ipIn, listNetns, run } from './exec.ts';
import { isOurNetns, type Topology } from './topology.ts';

/** Sysctls of every sandbox namespace: forwarding on, IPv6 DAD off (addresses usable at once), no redirects. */
const COMMON_SYSCTLS = [
  'net.ipv4.ip_forward=1',
  'net.ipv6.conf.all.forwarding=1',
  'net.ipv6.conf.default.accept_dad=0',
  'net.ipv6.conf.all.accept_dad=0',
  'net.ipv4.conf.all.send_redirects=0',
  'net.ipv4.conf.default.send_redirects=0',
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
];

async function addNetns(name: string): Promise<void> {
  await run(['ip', 'netns', 'add', name]);
  await ipIn(name, ['link', 'set', 'lo', 'up']);
  await execIn(name, ['sysctl', '-qw', ...COMMON_SYSCTLS]);
}

/** Joins `netns` to the switch: veth `port` (switch side, in br0) ↔ `eth0` (inside `netns`), with addresses. */
async function plug(t: Topology, netns: string, port: string, v4: string, v6: string): Promise<void> {
  const sw = t.sw.netns;
  await ipIn(sw, ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await ipIn(sw, ['link', 'set', port, 'master', t.sw.bridge, 'up']);
  await ipIn(netns, ['addr', 'add', `${v4}/${t.lan.v4Prefix}`, 'dev', 'eth0']);
  await ipIn(netns, ['addr', 'add', `${v6}/${t.lan.v6Prefix}`, 'dev', 'eth0', 'nodad']);
  await ipIn(netns, ['link', 'set', 'eth0', 'up']);
}

/**
 * Creates cp, sw, gw and node namespaces and their links. Nodes and cp route by default via the gw namespace
 * (which answers for the underlay gateway and the "outside" host addresses). @throws CommandError.
 */
export async function buildNetwork(t: Topology): Promise<void> {
  const sw = t.sw.netns;
  await addNetns(sw);
  await ipIn(sw, ['link', 'add', t.sw.bridge, 'type', 'bridge']);
  await ipIn(sw, ['link', 'set', t.sw.bridge, 'up']);

  await addNetns(t.gw.netns);
  await plug(t, t.gw.netns, t.gw.port, t.gw.ipv4, t.gw.ipv6);
  const [, underlayLen] = t.gw.underlayCidrV4.split('/');
  await ipIn(t.gw.netns, ['addr', 'add', `${t.gw.underlayGatewayV4}/${underlayLen}`, 'dev', 'eth0']);
  await ipIn(t.gw.netns, ['addr', 'add', `${t.gw.outsideV4}/32`, 'dev', 'lo']);
  await ipIn(t.gw.netns, ['addr', 'add', `${t.gw.outsideV6}/128`, 'dev', 'lo', 'nodad']);

  await addNetns(t.cp.netns);
  await plug(t, t.cp.netns, t.cp.port, t.cp.ipv4, t.cp.ipv6);
  await ipIn(t.cp.netns, ['route', 'add', 'default', 'via', t.gw.ipv4]);

  for (const n of t.nodes) {
    await addNetns(n.netns);
    await plug(t, n.netns, n.port, n.ipv4, n.ipv6);
    await ipIn(n.netns, ['route', 'add', 'default', 'via', t.gw.ipv4]);
    await ipIn(n.netns, ['-6', 'route', 'add', 'default', 'via', t.gw.ipv6]);
  }
}

/** Names of existing namespaces carrying the sandbox prefix. */
export async function ourNetns(prefix: string): Promise<string[]> {
  return (await listNetns()).filter((n) => isOurNetns(prefix, n));
}

/** Deletes the named namespaces (`ip netns del`; also removes their /run/netns mount). Returns the failures. */
export async function deleteNetns(names: readonly string[]): Promise<string[]> {
  const failed: string[] = [];
  for (const n of names) {
    try {
      await run(['ip', 'netns', 'del', n]);
    } catch (e) {
      failed.push(`${n}: ${(e as Error).message}`);
    }
  }
  return failed;
}
