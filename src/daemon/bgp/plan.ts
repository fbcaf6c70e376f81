/**
 * The BGP planner (SPEC §7.4 BGP tables, §7.5, §7.6, §7.7): from the cluster objects and facts about the node's BGP
 * interface, what the node's BGP speaker must have — global AS / router-ID, peers, locally originated paths — and the
 * gateway of the BGP / GlobalBGP per-subnet tables; plus the diff of desired vs current paths and peers. Pure.
 */
import type { BGPPeer, IPInstance, Network } from '../../api/index.ts';
import { effectiveNetworkMode, effectiveNetworkType } from '../../api/index.ts';
import { InvalidCIDRError, cidrContains, hostVethName, parseCIDR, parseIP } from '../../net/index.ts';
import type { ClusterState, Family, LinkFacts } from '../plan/types.ts';

/** GoBGP's default graceful-restart time when `gracefulRestartSeconds` is 0/absent (SPEC §2.1), s. */
export const DEFAULT_GRACEFUL_RESTART_SECONDS = 300;

/** A default route of the node's main table (for router-ID choice and the no-routing-peer fallback, SPEC §7.4/§7.7). */
export interface DefaultRoute {
  family: Family;
  dev: string;
  via?: string;
  src?: string;
}

/** Facts about the node that the BGP plan reads. */
export interface BgpFacts {
  nodeName: string;
  /** The BGP interface (`--prefer-bgp-interfaces`, else the default-route interface). */
  bgpIf?: LinkFacts;
  /** Main-table default routes. */
  defaultRoutes: DefaultRoute[];
  /** Names of the links that exist (a pod's /32 is announced only while its host veth exists). */
  linkNames: ReadonlySet<string>;
}

/** A peer the speaker must have. */
export interface BgpPeerSpec {
  network: string;
  address: string;
  family: Family;
  asn: number;
  password: string;
  /** s */
  gracefulRestartSeconds: number;
  doesNotRouteTraffic: boolean;
  allowNotEstablished: boolean;
}

/** A locally originated path (ORIGIN IGP). */
export interface BgpPathSpec {
  family: Family;
  /** CIDR (`/32` / `/128` for pods). */
  prefix: string;
  nextHop: string;
  /** Carries the well-known NO_EXPORT community (BGP pod host routes, SPEC §7.6). */
  noExport: boolean;
}

/** The desired BGP state of the node. `asn` undefined ⇒ the node is in no BGP network: no speaker is needed. */
export interface BgpPlan {
  network?: string;
  asn?: number;
  routerId?: string;
  nextHop: Partial<Record<Family, string>>;
  peers: BgpPeerSpec[];
  paths: BgpPathSpec[];
  /** Gateway of BGP / GlobalBGP subnet tables per family: the routing peer, else the host's default gateway. */
  gateway: Partial<Record<Family, { via?: string; dev: string }>>;
  warnings: string[];
}

const famOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);
const plain = (cidrIP: string): string => cidrIP.split('/')[0] ?? cidrIP;

/** True when `ip` is inside the prefix of the interface address `addr` (`ip/len`, host bits allowed). */
function onLink(addr: string, ip: string): boolean {
  try {
    return cidrContains(parseCIDR(addr), parseIP(ip));
  } catch (err) {
    const canonical = err instanceof InvalidCIDRError ? err.canonical : undefined;
    return canonical !== undefined && cidrContains(parseCIDR(canonical), parseIP(ip));
  }
}

function inNodeList(n: Network, node: string): boolean {
  return (n.status?.nodeList ?? []).includes(node) && !n.metadata?.deletionTimestamp;
}

/** The BGP-mode Underlay networks containing `node`, sorted by name. */
export function bgpNetworksOf(networks: Network[], node: string): Network[] {
  return networks
    .filter((n) => effectiveNetworkType(n) === 'Underlay' && effectiveNetworkMode(n) === 'BGP' && inNodeList(n, node))
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

/** True when `network` is BGP or GlobalBGP mode. */
export function isBgpMode(network: Network): boolean {
  const m = effectiveNetworkMode(network);
  return m === 'BGP' || m === 'GlobalBGP';
}

/**
 * Router-ID and per-family next hops from the BGP interface's global addresses (SPEC §7.7): one address ⇒ it; one v4
 * and one v6 ⇒ each its family; otherwise the address equal to a default route's `src` or whose prefix contains its
 * gateway. IPv4 preferred as router-ID. A v6-only node has no valid router-ID (GoBGP wants dotted quad): undefined.
 */
export function chooseRouterId(
  bgpIf: LinkFacts | undefined,
  defaults: DefaultRoute[],
): { routerId?: string; nextHop: Partial<Record<Family, string>> } {
  const globals = (bgpIf?.addresses ?? []).filter((a) => a.global);
  const nextHop: Partial<Record<Family, string>> = {};
  for (const fam of [4, 6] as Family[]) {
    const cands = globals.filter((a) => a.family === fam);
    if (cands.length === 1) nextHop[fam] = cands[0]?.ip;
    else if (cands.length > 1) {
      const d = defaults.filter((r) => r.family === fam && r.dev === bgpIf?.name);
      const pick =
        cands.find((a) => d.some((r) => r.src === a.ip)) ??
        cands.find((a) => d.some((r) => r.via !== undefined && onLink(`${a.ip}/${a.prefixLength}`, r.via))) ??
        cands[0];
      nextHop[fam] = pick?.ip;
    }
  }
  return { ...(nextHop[4] ? { routerId: nextHop[4] } : {}), nextHop };
}

/** Peers of `network` (SPEC §2.1 defaults applied). */
export function peersOf(network: Network): BgpPeerSpec[] {
  const peers: BGPPeer[] = network.spec.config?.bgpPeers ?? [];
  return peers.map((p) => ({
    network: network.metadata?.name ?? '',
    address: p.address,
    family: famOf(p.address),
    asn: p.asn,
    password: p.password ?? '',
    gracefulRestartSeconds: p.gracefulRestartSeconds || DEFAULT_GRACEFUL_RESTART_SECONDS,
    doesNotRouteTraffic: p.doesNotRouteTraffic ?? false,
    allowNotEstablished: p.allowNotEstablished ?? false,
  }));
}

/** True when the node should have a BGP path for this instance's pod (a local, active pod whose host veth exists). */
function podPathWanted(ins: IPInstance, facts: BgpFacts): boolean {
  if (ins.spec.binding?.nodeName !== facts.nodeName || ins.metadata?.deletionTimestamp) return false;
  const pod = ins.spec.binding.podName;
  return !!pod && facts.linkNames.has(hostVethName(ins.metadata?.namespace ?? '', pod));
}

/** Plans the node's BGP state (SPEC §7.4, §7.7). */
export function planBgp(cluster: ClusterState, facts: BgpFacts): BgpPlan {
  const plan: BgpPlan = { nextHop: {}, peers: [], paths: [], gateway: {}, warnings: [] };
  const bgpNets = bgpNetworksOf(cluster.networks, facts.nodeName);
  const network = bgpNets[0];
  if (!network) return plan;
  if (bgpNets.length > 1)
    plan.warnings.push(
      `node ${facts.nodeName} is in ${bgpNets.length} BGP networks (${bgpNets.map((n) => n.metadata?.name).join(', ')}); only ${network.metadata?.name} is served (one AS per node)`,
    );
  const name = network.metadata?.name ?? '';
  if (network.spec.netID === null || network.spec.netID === undefined) {
    plan.warnings.push(`network ${name}: spec.netID (the local AS) is not set; no BGP speaker`);
    return plan;
  }
  if (!facts.bgpIf) {
    plan.warnings.push(`network ${name}: no BGP interface on node ${facts.nodeName}`);
    return plan;
  }
  const { routerId, nextHop } = chooseRouterId(facts.bgpIf, facts.defaultRoutes);
  if (!routerId) {
    plan.warnings.push(`network ${name}: BGP interface ${facts.bgpIf.name} has no IPv4 address for the router-ID`);
    return plan;
  }
  plan.network = name;
  plan.asn = network.spec.netID;
  plan.routerId = routerId;
  plan.nextHop = nextHop;
  plan.peers = peersOf(network);

  for (const fam of [4, 6] as Family[]) {
    const routing = plan.peers.filter((p) => p.family === fam && !p.doesNotRouteTraffic);
    if (routing.length > 1)
      plan.warnings.push(
        `network ${name}: ${routing.length} IPv${fam} peers route traffic (${routing.map((p) => p.address).join(', ')}); using ${routing[0]?.address} (set doesNotRouteTraffic on the others)`,
      );
    const peer = routing[0];
    if (peer) plan.gateway[fam] = { via: peer.address, dev: facts.bgpIf.name };
    else {
      const d = facts.defaultRoutes.find((r) => r.family === fam);
      if (d) plan.gateway[fam] = { dev: d.dev, ...(d.via ? { via: d.via } : {}) };
    }
  }

  const networks = new Map(cluster.networks.map((n) => [n.metadata?.name ?? '', n]));
  const paths = new Map<string, BgpPathSpec>();
  const add = (p: BgpPathSpec): void => {
    if (!paths.has(`${p.family}|${p.prefix}`)) paths.set(`${p.family}|${p.prefix}`, p);
  };
  for (const s of cluster.subnets) {
    if (s.spec.network !== name || s.metadata?.deletionTimestamp) continue;
    const fam: Family = s.spec.range.version === '6' ? 6 : 4;
    const nh = nextHop[fam];
    if (!nh) {
      plan.warnings.push(`subnet ${s.metadata?.name}: no IPv${fam} address on ${facts.bgpIf.name} to announce it`);
      continue;
    }
    add({ family: fam, prefix: s.spec.range.cidr, nextHop: nh, noExport: false });
  }
  for (const ins of cluster.ipInstances) {
    if (!podPathWanted(ins, facts)) continue;
    const n = networks.get(ins.spec.network);
    if (!n) continue;
    const mode = effectiveNetworkMode(n);
    const ownNet = mode === 'BGP' && n.metadata?.name === name;
    if (!ownNet && mode !== 'GlobalBGP') continue;
    if (mode === 'GlobalBGP' && !inNodeList(n, facts.nodeName)) continue;
    const fam: Family = ins.spec.address.version === '6' ? 6 : 4;
    const nh = nextHop[fam];
    if (!nh) continue;
    add({
      family: fam,
      prefix: `${plain(ins.spec.address.ip)}/${fam === 4 ? 32 : 128}`,
      nextHop: nh,
      noExport: mode === 'BGP',
    });
  }
  plan.paths = [...paths.values()].sort((a, b) => a.family - b.family || a.prefix.localeCompare(b.prefix));
  return plan;
}

/** Paths to add (missing or with other attributes) and prefixes to delete (not desired). Keys: `family|prefix`. */
export function diffPaths(desired: BgpPathSpec[], current: BgpPathSpec[]): { add: BgpPathSpec[]; del: BgpPathSpec[] } {
  const key = (p: BgpPathSpec): string => `${p.family}|${p.prefix}`;
  const same = (a: BgpPathSpec, b: BgpPathSpec): boolean => a.nextHop === b.nextHop && a.noExport === b.noExport;
  const cur = new Map(current.map((p) => [key(p), p]));
  const want = new Map(desired.map((p) => [key(p), p]));
  const add = desired.filter((p) => {
    const c = cur.get(key(p));
    return !c || !same(c, p);
  });
  const del = current.filter((p) => !want.has(key(p)));
  return { add, del };
}

/** A peer as the speaker reports it (configuration part). */
export interface CurrentPeer {
  address: string;
  asn: number;
  password: string;
}

/**
 * Peers to add and addresses to delete. Existing peers are never modified (SPEC §7.7: only added/deleted, to avoid
 * resets); a peer whose AS or password changed is deleted and re-added.
 */
export function diffPeers(desired: BgpPeerSpec[], current: CurrentPeer[]): { add: BgpPeerSpec[]; del: string[] } {
  const cur = new Map(current.map((p) => [p.address, p]));
  const want = new Map(desired.map((p) => [p.address, p]));
  const del = current
    .filter((c) => {
      const w = want.get(c.address);
      return !w || w.asn !== c.asn || w.password !== c.password;
    })
    .map((c) => c.address);
  const add = desired.filter((p) => {
    const c = cur.get(p.address);
    return !c || del.includes(p.address);
  });
  return { add, del };
}
