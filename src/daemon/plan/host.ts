/**
 * Pure host-level decisions of the node daemon that do not depend on the cluster objects: which interfaces are
 * "container-ish", the node-namespace sysctls (SPEC §7.1, §7.3 step 8, §7.12), the node-local addresses of the VXLAN
 * device (SPEC §7.8 steps 2 and 5) and the FDB prune guard (SPEC §7.8 step 6).
 */
import { cidrContains, parseCIDR, tryParseIP } from '../../net/index.ts';
import type { LinkFacts } from './types.ts';

/**
 * True for interface names the daemon ignores in host scans (SPEC §7.1): suffix `_h`, prefixes `h_`, `hybr`, `veth`,
 * `docker`, `kube-`.
 */
export function isContainerInterface(name: string): boolean {
  return name.endsWith('_h') || ['h_', 'hybr', 'veth', 'docker', 'kube-'].some((prefix) => name.startsWith(prefix));
}

/** Inputs of {@link planHostSysctls}. */
export interface HostSysctlInput {
  links: LinkFacts[];
  /** IPv6 disabled on the node (`/sys/module/ipv6/parameters/disable` or `conf/all/disable_ipv6` = 1). */
  ipv6Disabled: boolean;
  /** Interface of the IPv6 default route when that route was learnt from a router advertisement (`proto ra`). */
  raDefaultRouteDev?: string | undefined;
  /**
   * `--neigh-gc-thresh1/2/3` (SPEC default 1024/2048/4096). A value of 0 leaves that threshold alone: the kernel keeps
   * one ARP/ND table for all network namespaces, so the node-namespace tests pass 0 not to change the machine's.
   */
  neighGcThresh: [number, number, number];
  /** `--ipv6-route-cache-max-size` (524288); 0 leaves it alone. */
  ipv6RouteMaxSize: number;
  /** `--ipv6-route-cache-gc-thresh` (65536); 0 leaves it alone. */
  ipv6RouteGcThresh: number;
}

/**
 * The sysctls of the node namespace (SPEC §7.1 "Sysctls at boot", §7.3 step 8, §7.12), as `/proc/sys` path → value in
 * write order: `accept_ra=2` on the RA default-route interface comes before IPv6 forwarding is turned on (with
 * forwarding on and accept_ra=1 the kernel drops RAs, and the default route would expire). IPv6 keys are left out when
 * IPv6 is disabled. rp_filter=0 on `all`, `default` and every non-container interface; `arp_filter=0` on `all`.
 */
export function planHostSysctls(p: HostSysctlInput): Record<string, string> {
  const sys: Record<string, string> = {};
  sys['/proc/sys/net/ipv4/ip_forward'] = '1';
  if (!p.ipv6Disabled) {
    if (p.raDefaultRouteDev) sys[`/proc/sys/net/ipv6/conf/${p.raDefaultRouteDev}/accept_ra`] = '2';
    sys['/proc/sys/net/ipv6/conf/all/forwarding'] = '1';
  }
  sys['/proc/sys/net/ipv4/conf/all/rp_filter'] = '0';
  sys['/proc/sys/net/ipv4/conf/default/rp_filter'] = '0';
  sys['/proc/sys/net/ipv4/conf/all/arp_filter'] = '0';
  for (const l of p.links) if (!isContainerInterface(l.name)) sys[`/proc/sys/net/ipv4/conf/${l.name}/rp_filter`] = '0';
  const fams = p.ipv6Disabled ? ['ipv4'] : ['ipv4', 'ipv6'];
  p.neighGcThresh.forEach((v, i) => {
    if (v > 0) for (const f of fams) sys[`/proc/sys/net/${f}/neigh/default/gc_thresh${i + 1}`] = String(v);
  });
  if (!p.ipv6Disabled) {
    if (p.ipv6RouteMaxSize > 0) sys['/proc/sys/net/ipv6/route/max_size'] = String(p.ipv6RouteMaxSize);
    if (p.ipv6RouteGcThresh > 0) sys['/proc/sys/net/ipv6/route/gc_thresh'] = String(p.ipv6RouteGcThresh);
  }
  return sys;
}

/** A node-local address: the plain IP and the prefix length it has on its host interface. */
export interface NodeLocalAddress {
  ip: string;
  prefixLength: number;
  family: 4 | 6;
}

/**
 * The node-local VXLAN addresses (SPEC §7.8 step 2): global-unicast addresses of every non-container interface except
 * the VXLAN device itself that equal one of the Node's `status.addresses`, or the VTEP IP, or lie inside one of
 * `extraCidrs` (`--extra-node-local-vxlan-ip-cidrs`). Sorted by IP text, deduplicated.
 *
 * @param nodeAddresses the `address` values of the Node's `status.addresses` (names that are not IPs are ignored).
 * @param extraCidrs canonical CIDRs; an invalid one throws InvalidCIDRError (validated at start-up by the CLI).
 */
export function nodeLocalAddresses(
  links: LinkFacts[],
  vxlanDev: string,
  vtepIP: string,
  nodeAddresses: string[],
  extraCidrs: string[],
): NodeLocalAddress[] {
  const key = (ip: string): string => {
    const p = tryParseIP(ip);
    return p ? `${p.family}|${p.value}` : ip;
  };
  const wanted = new Set([vtepIP, ...nodeAddresses].map(key));
  const cidrs = extraCidrs.map((c) => parseCIDR(c));
  const out = new Map<string, NodeLocalAddress>();
  for (const l of links) {
    if (l.name === vxlanDev || isContainerInterface(l.name)) continue;
    for (const a of l.addresses) {
      if (!a.global) continue;
      const parsed = tryParseIP(a.ip);
      if (!parsed) continue;
      if (wanted.has(key(a.ip)) || cidrs.some((c) => cidrContains(c, parsed)))
        if (!out.has(a.ip)) out.set(a.ip, { ip: a.ip, prefixLength: a.prefixLength, family: a.family });
    }
  }
  return [...out.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
}

/**
 * Whether stale FDB entries of the VXLAN device may be deleted (SPEC §7.8 step 6): only when the number of NodeInfo
 * objects equals the length of the overlay network's `status.nodeList`, so that a node whose NodeInfo is not yet
 * (or no longer) in the cache during a scale-out does not make its neighbours' entries flap.
 */
export function fdbPruneAllowed(nodeInfoCount: number, overlayNodeList: string[] | undefined): boolean {
  return nodeInfoCount === (overlayNodeList ?? []).length;
}

/**
 * The `tc` commands rewriting the destination MAC of every multicast/broadcast frame leaving the VXLAN device `dev` to
 * the flood MAC ff:ff:ff:ff:ff:f1, which the FDB head-end replicates to every remote VTEP (SPEC §7.8 step 4): a root
 * `prio` qdisc, then a u32 filter (match the I/G bit of the destination MAC, 14 bytes before the network header) with
 * a pedit action. Needs the kernel's sch_prio, cls_u32 and act_pedit.
 */
export function floodMacTc(dev: string): string[][] {
  return [
    ['qdisc', 'replace', 'dev', dev, 'root', 'handle', '1:', 'prio'],
    // prettier-ignore
    ['filter', 'replace', 'dev', dev, 'parent', '1:', 'handle', '800::800', 'prio', '1', 'protocol', 'all',
      'u32', 'match', 'u8', '0x01', '0x01', 'at', '-14',
      'action', 'pedit', 'ex', 'munge', 'eth', 'dst', 'set', 'ff:ff:ff:ff:ff:f1'],
  ];
}
