/**
 * Shapes of the daemon's pure planner: what it reads (cluster objects + facts about the node's links) and what it
 * produces (the desired node state: links, routes, rules, neighbours, FDB, sysctls, ipsets, iptables). All
 * addresses are strings in iproute2 notation; `family` is 4 or 6.
 */
import type { IPInstance, Network, NodeInfo, Subnet } from '../../api/index.ts';

/** Address family as iproute2 numbers it. */
export type Family = 4 | 6;

/** An address on a node link, as `ip -json addr` reports it. */
export interface LinkAddress {
  family: Family;
  /** Plain address. */
  ip: string;
  prefixLength: number;
  /** `scope global` (true) vs link/host. */
  global: boolean;
  /** iproute2 scope name (`global`, `link`, `host`, …); absent = unknown (then only {@link global} is known). */
  scope?: string;
  /** Flag `noprefixroute` (no connected route in main; SPEC §7.4 "local subnet" ignores such addresses). */
  noprefixroute?: boolean;
  /** Flag `secondary` (another address of the same prefix is primary on the link). */
  secondary?: boolean;
}

/** A link of the node namespace. */
export interface LinkFacts {
  name: string;
  mtu: number;
  mac: string;
  addresses: LinkAddress[];
}

/** Facts about the node the planner needs (read by the shell, passed in). */
export interface NodeFacts {
  nodeName: string;
  links: LinkFacts[];
  /** Parent interface of VXLAN devices (`--prefer-vxlan-interfaces`, else the default-route interface). */
  vxlanParent?: string;
  /** Parent interface of VLAN underlay (`--prefer-vlan-interfaces` / `--prefer-interfaces`). */
  vlanParent?: string;
  /** Routing rules now in the kernel (to keep priorities and per-subnet tables stable). */
  currentRules: RuleSpec[];
  /** The Node's `status.addresses` values (SPEC §7.8 step 2); absent = unknown (only the VTEP IP is node-local). */
  nodeAddresses?: string[];
  /** IPv6 disabled on the node (SPEC §7.1): no IPv6 sysctls are written. */
  ipv6Disabled?: boolean;
  /** Interface of the IPv6 default route when it was learnt by RA (`proto ra`), SPEC §7.1. */
  raDefaultRouteDev?: string;
  /** BGP interface (`--prefer-bgp-interfaces`, else the default-route interface). */
  bgpParent?: string;
  /**
   * Default route of BGP / GlobalBGP per-subnet tables per family (SPEC §7.4): via the routing BGP peer, else a copy of
   * the host's default route. Absent ⇒ the node is in no BGP network (from the BGP planner, src/daemon/bgp/plan.ts).
   */
  bgpGateway?: Partial<Record<Family, { via?: string; dev: string }>>;
}

/** The cluster objects the node plan depends on (informer caches). */
export interface ClusterState {
  networks: Network[];
  subnets: Subnet[];
  nodeInfos: NodeInfo[];
  /** Every IPInstance of the cluster (remote pods need neighbour entries). */
  ipInstances: IPInstance[];
}

/** Tunables (daemon flags). */
export interface PlanOptions {
  localDirectTable: number;
  toOverlayTable: number;
  overlayMarkTable: number;
  vxlanUdpPort: number;
  /** `--neigh-gc-thresh1/2/3` (1024/2048/4096); 0 = leave alone. Absent = all 0. */
  neighGcThresh?: [number, number, number];
  /** `--ipv6-route-cache-max-size` (524288); 0 or absent = leave alone. */
  ipv6RouteMaxSize?: number;
  /** `--ipv6-route-cache-gc-thresh` (65536); 0 or absent = leave alone. */
  ipv6RouteGcThresh?: number;
  /** `--extra-node-local-vxlan-ip-cidrs` (SPEC §7.8 step 2). */
  extraNodeLocalVxlanIPCidrs?: string[];
  /** `--enable-vlan-arp-enhancement` (SPEC §7.6, default true); absent = false (no {@link NodePlan.arpEnhancement}). */
  vlanArpEnhancement?: boolean;
}

/** A VXLAN device (SPEC §7.8). */
export interface VxlanLinkSpec {
  kind: 'vxlan';
  name: string;
  vni: number;
  parent: string;
  local: string;
  port: number;
  mac: string;
  mtu: number;
}

/** An 802.1Q VLAN sub-interface (SPEC §7.2). */
export interface VlanLinkSpec {
  kind: 'vlan';
  name: string;
  parent: string;
  vlanId: number;
}

/** A link the daemon owns. */
export type LinkSpec = VxlanLinkSpec | VlanLinkSpec;

/** A route in one of the daemon's tables. */
export interface RouteSpec {
  family: Family;
  table: number;
  /** CIDR, or `default`. */
  dst: string;
  type: 'unicast' | 'throw';
  dev?: string;
  via?: string;
  scope?: 'link';
  src?: string;
}

/** A policy routing rule. `priority` undefined = allocate the lowest free one (SPEC §7.4). */
export interface RuleSpec {
  family: Family;
  /** CIDR or `all`. */
  from: string;
  fwmark?: number;
  mask?: number;
  table: number;
  priority?: number;
}

/** A neighbour entry: permanent (remote pod/node → VTEP MAC) or proxy (answer ARP/NDP for a local pod). */
export interface NeighSpec {
  family: Family;
  ip: string;
  dev: string;
  proxy: boolean;
  mac?: string;
}

/** A static FDB entry on a VXLAN device. */
export interface FdbSpec {
  mac: string;
  dev: string;
  dst: string;
}

/** One ipset (SPEC §7.10). */
export interface IPSetSpec {
  name: string;
  family: Family;
  type: 'hash:net' | 'hash:ip';
  members: string[];
}

/** One VLAN "ARP enhancement" address (SPEC §7.6): `ip/prefixLength` on `dev`, `noprefixroute`, scope link. */
export interface EnhancedAddressSpec {
  dev: string;
  /** Plain IPv4 address of a local pod. */
  ip: string;
  /** Prefix length of the pod's subnet. */
  prefixLength: number;
  /** The pod's subnet CIDR (canonical). */
  subnet: string;
}

/**
 * The VLAN "ARP enhancement" part of a node plan (SPEC §7.6): the wanted addresses (one per VLAN forward interface and
 * IPv4 VLAN subnet: the lowest local pod IP) and what the applier may remove — only addresses that look like ones it
 * added (`noprefixroute`, not `secondary`, scope link, no `local` route in table local) inside one of `subnets`, never
 * one of `keep`.
 */
export interface ArpEnhancementPlan {
  addresses: EnhancedAddressSpec[];
  /** IPv4 CIDRs of every VLAN subnet of the cluster (stale enhanced addresses are looked for only inside them). */
  subnets: string[];
  /** Addresses never removed: the Node's `status.addresses` (the node's own). */
  keep: string[];
}

/** The desired state of the node namespace. */
export interface NodePlan {
  links: LinkSpec[];
  /** Addresses the daemon owns on its devices (VXLAN local IPs, `noprefixroute`). */
  addresses: { dev: string; cidr: string; family: Family }[];
  /** VLAN "ARP enhancement" (SPEC §7.6); absent when `--enable-vlan-arp-enhancement=false` (nothing is touched). */
  arpEnhancement?: ArpEnhancementPlan;
  routes: RouteSpec[];
  rules: RuleSpec[];
  neighbours: NeighSpec[];
  fdb: FdbSpec[];
  /**
   * Whether `dst` FDB entries not in {@link fdb} may be deleted (SPEC §7.8 step 6: only when #NodeInfo ==
   * len(overlay nodeList)); when false the applier only adds.
   */
  fdbPrune: boolean;
  /**
   * `tc` argument lists making multicast/broadcast frames leaving the VXLAN device carry the flood MAC (SPEC §7.8
   * step 4), with the device they apply to; empty without overlay.
   */
  tc: { dev: string; commands: string[][] }[];
  /** `/proc/sys/...` path → value. */
  sysctls: Record<string, string>;
  ipsets: IPSetSpec[];
  /** `iptables-restore --noflush` input per family. */
  iptables: Record<Family, string>;
  /** Hook rules (`-t table -A CHAIN ...` argument lists) per family. */
  iptablesHooks: Record<Family, string[][]>;
  /** Every table the daemon owns (stale routes in them are removed). */
  ownedTables: number[];
  /** Devices whose permanent neighbours / proxy entries the daemon owns. */
  ownedNeighDevs: string[];
  /** NodeInfo vtepInfo this node should publish, when an overlay exists. */
  vtep?: { ip: string; mac: string; localIPs: string[] };
  /** Problems that did not stop the plan (e.g. a VLAN subnet without gateway), for logs. */
  warnings: string[];
}
