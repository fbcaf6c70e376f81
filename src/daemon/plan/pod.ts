/**
 * The pod ADD plan (SPEC §7.3 steps 6–9): the exact iproute2 batches and sysctl writes that wire one pod — a veth pair
 * (host end `hybr…` with MAC ee:ee:ee:ee:ee:ee in the node namespace, container end `ifName` with the IPInstance MAC
 * in the pod namespace), proxy ARP/NDP on the host end, `/32` `/128` routes in the local-direct table, the pod's
 * addresses without subnet route and default routes via 169.254.1.1 / fe80::ecee:eeff:feee:eeee. Pure.
 */
import { HOST_VETH_MAC, POD_GATEWAY_V4, POD_GATEWAY_V6 } from '../constants.ts';
import type { Family } from './types.ts';

/** One pod address. */
export interface PodAddress {
  family: Family;
  /** Plain IP. */
  ip: string;
  prefixLength: number;
}

/** Inputs of {@link planPodAdd}. */
export interface PodAddInput {
  hostVeth: string;
  ifName: string;
  /** Path of the pod's network namespace. */
  netns: string;
  mac: string;
  mtu: number;
  addresses: PodAddress[];
  localDirectTable: number;
}

/** What the shell executes, in order. */
export interface PodAddPlan {
  /** `ip -batch -` lines in the node namespace creating the veth pair (container end lands in `netns`). */
  createVeth: string[];
  /** `/proc/sys` writes in the node namespace (after the veth exists). */
  hostSysctls: Record<string, string>;
  /** `ip -batch -` lines in the node namespace after the sysctls. */
  hostBatch: string[];
  /** `/proc/sys` writes inside the pod namespace (before the interface goes up). */
  podSysctls: Record<string, string>;
  /** `ip -batch -` lines inside the pod namespace. */
  podBatch: string[];
}

/** Plans the ADD of one pod (see module doc). */
export function planPodAdd(p: PodAddInput): PodAddPlan {
  const has6 = p.addresses.some((a) => a.family === 6);
  const has4 = p.addresses.some((a) => a.family === 4);
  const createVeth = [
    `link add ${p.hostVeth} mtu ${p.mtu} address ${HOST_VETH_MAC} type veth peer name ${p.ifName} mtu ${p.mtu} address ${p.mac} netns ${p.netns}`,
  ];
  const hostSysctls: Record<string, string> = {};
  const v = p.hostVeth;
  if (has4) {
    hostSysctls[`/proc/sys/net/ipv4/conf/${v}/proxy_arp`] = '1';
    hostSysctls[`/proc/sys/net/ipv4/neigh/${v}/proxy_delay`] = '0';
    hostSysctls[`/proc/sys/net/ipv4/conf/${v}/route_localnet`] = '1';
    hostSysctls[`/proc/sys/net/ipv4/conf/${v}/forwarding`] = '1';
    hostSysctls[`/proc/sys/net/ipv4/conf/${v}/rp_filter`] = '0';
  }
  if (has6) {
    hostSysctls[`/proc/sys/net/ipv6/conf/${v}/proxy_ndp`] = '1';
    hostSysctls[`/proc/sys/net/ipv6/conf/${v}/forwarding`] = '1';
    hostSysctls[`/proc/sys/net/ipv6/neigh/${v}/proxy_delay`] = '0';
    // every host veth carries the same link-local (EUI-64 of ee:ee:ee:ee:ee:ee) on its own point-to-point link: DAD
    // there only delays the node's first packets to the pod by ~1 s
    hostSysctls[`/proc/sys/net/ipv6/conf/${v}/accept_dad`] = '0';
  }
  const hostBatch = [`link set ${v} up`];
  for (const a of p.addresses)
    hostBatch.push(`route replace ${a.ip}/${a.family === 4 ? 32 : 128} dev ${v} table ${p.localDirectTable}`);
  if (has6) hostBatch.push(`neigh replace proxy ${POD_GATEWAY_V6} dev ${v}`);

  const podSysctls: Record<string, string> = {};
  if (has6) {
    podSysctls[`/proc/sys/net/ipv6/conf/lo/disable_ipv6`] = '0';
    podSysctls[`/proc/sys/net/ipv6/conf/${p.ifName}/disable_ipv6`] = '0';
    podSysctls[`/proc/sys/net/ipv6/conf/${p.ifName}/accept_dad`] = '0';
  }
  const podBatch = ['link set lo up', `link set ${p.ifName} up`];
  for (const a of p.addresses)
    podBatch.push(
      `addr replace ${a.ip}/${a.prefixLength} dev ${p.ifName} noprefixroute${a.family === 6 ? ' nodad' : ''}`,
    );
  if (has4) {
    podBatch.push(`route replace ${POD_GATEWAY_V4}/32 dev ${p.ifName} scope link`);
    podBatch.push(`route replace default via ${POD_GATEWAY_V4} dev ${p.ifName}`);
  }
  if (has6) podBatch.push(`route replace default via ${POD_GATEWAY_V6} dev ${p.ifName}`);
  return { createVeth, hostSysctls, hostBatch, podSysctls, podBatch };
}

/**
 * Gratuitous ARP for an underlay (VLAN mode) pod's IPv4 addresses, sent on the forward interface after ADD (SPEC §7.3
 * step 8, "broadcast gratuitous ARP (one request + one reply)"; RFC 5227 §3 ARP announcement). Without it a pod that
 * comes back on another node with the same address (StatefulSet IP retention) is unreachable from the gateway and
 * the other hosts of the segment until their neighbour entry for it, still pointing at the old node, times out.
 * Overlay and BGP pods are reached through routes and VXLAN neighbours the daemons program, so they need none.
 *
 * @param mode effective network mode (`VLAN`, `VXLAN`, `BGP`, `GlobalBGP`).
 * @param forwardInterface the node interface the pod's traffic leaves by (`eth0`, `eth0.100`).
 * @returns `arping` (Debian package `arping`) argument lists: an unsolicited request (`-U`) and a reply (`-U -P`) per
 *   IPv4 address, each with the pod address as sender and target, sent once (`-c 1`); empty when none is needed.
 *   IPv6 is announced by {@link planUnsolicitedNa}.
 */
export function planGratuitousArp(mode: string, forwardInterface: string, addresses: PodAddress[]): string[][] {
  if (mode !== 'VLAN') return [];
  const out: string[][] = [];
  for (const a of addresses) {
    if (a.family !== 4) continue;
    // Habets arping: -U unsolicited (target = sender, broadcast), -P send a reply instead of a request; -w 0: do
    // not wait for an answer (nobody answers an announcement; waiting cost 1 s per arping)
    out.push(['-q', '-U', '-S', a.ip, '-i', forwardInterface, '-c', '1', '-w', '0', a.ip]);
    out.push(['-q', '-U', '-P', '-S', a.ip, '-i', forwardInterface, '-c', '1', '-w', '0', a.ip]);
  }
  return out;
}

/**
 * Unsolicited neighbour advertisement for an underlay (VLAN mode) pod's IPv6 addresses after ADD (SPEC §7.3 step 8
 * IPv6, RFC 4861 §7.2.6): to ff02::1 on the forward interface, target = the pod address, Override flag set, with the
 * target link-layer address option carrying the interface's MAC (the node answers for the pod by proxy NDP), so that
 * neighbours holding an entry for the address (the pod's previous node) update it at once.
 *
 * @returns `na6` (Debian package `ipv6toolkit`) argument lists, one per IPv6 address; empty for other modes.
 */
export function planUnsolicitedNa(mode: string, forwardInterface: string, addresses: PodAddress[]): string[][] {
  if (mode !== 'VLAN') return [];
  return addresses
    .filter((a) => a.family === 6)
    .map((a) => ['-i', forwardInterface, '-d', 'ff02::1', '-t', a.ip, '-o', '-e']);
}

/**
 * The node-side proxy neighbours of one pod (SPEC §7.3 step 8 readiness, §7.6): a proxy entry per pod address on each
 * of `devs` (the VXLAN device of an overlay node and/or the forward interface of a VLAN pod), with the sysctls proxy
 * ARP / NDP need on those devices (`proxy_delay` 0, IPv6 `proxy_ndp` 1). The same entries the node plan derives from
 * the pod's IPInstances, so that ADD does not have to plan the whole node to wire one pod. Pure.
 *
 * @param addresses the pod's addresses (plain IPs).
 * @param devs node devices answering for the pod (duplicates ignored).
 * @returns `ip -batch` lines (`neigh replace proxy <ip> dev <dev>`) and `/proc/sys` writes.
 */
export function planPodProxyNeighbours(
  addresses: PodAddress[],
  devs: string[],
): { lines: string[]; sysctls: Record<string, string> } {
  const lines: string[] = [];
  const sysctls: Record<string, string> = {};
  for (const dev of new Set(devs))
    for (const a of addresses) {
      lines.push(`neigh replace proxy ${a.ip} dev ${dev}`);
      if (a.family === 6) {
        sysctls[`/proc/sys/net/ipv6/conf/${dev}/proxy_ndp`] = '1';
        sysctls[`/proc/sys/net/ipv6/neigh/${dev}/proxy_delay`] = '0';
      } else sysctls[`/proc/sys/net/ipv4/neigh/${dev}/proxy_delay`] = '0';
    }
  return { lines, sysctls };
}
