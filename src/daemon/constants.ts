/**
 * Datapath constants of the daemon and the CNI plugin (SPEC §6, §7): route table numbers, rule marks, chain and set
 * names, the virtual pod gateway, the host veth MAC, the daemon API paths. Kept in one module so that no other file
 * spells them.
 */

/** Default route table of `from all lookup` local-pod-direct routes (`--local-direct-table`, SPEC §7.4). */
export const LOCAL_DIRECT_TABLE = 39999;
/** Default table of to-overlay-subnet routes (`--to-overlay-table`, SPEC §7.4). */
export const TO_OVERLAY_TABLE = 40000;
/** Default table of overlay-mark (pod → node reply) routes (`--overlay-mark-table`, SPEC §7.4). */
export const OVERLAY_MARK_TABLE = 40001;
/** Per-subnet tables are allocated from [FROM_SUBNET_TABLE_MIN, FROM_SUBNET_TABLE_MAX) (SPEC §7.4). */
export const FROM_SUBNET_TABLE_MIN = 10000;
/** Exclusive upper bound of the per-subnet tables (SPEC §7.4). */
export const FROM_SUBNET_TABLE_MAX = 40000;
/** fwmark of pod → node reply traffic (SPEC §7.10). */
export const POD_TO_NODE_MARK = 0x20;
/** fwmark of full-NAT'ed pod traffic (SPEC §7.10). */
export const FULL_NAT_MARK = 0x40;
/** kube-proxy masquerade mark (SPEC §7.10). */
export const KUBE_PROXY_MASQ_MARK = 0x4000;
/** Mask of the per-subnet rules: `fwmark 0x0/0x4040` (SPEC §7.4). */
export const FROM_SUBNET_RULE_MASK = KUBE_PROXY_MASQ_MARK | FULL_NAT_MARK;

/** IPv4 gateway every pod routes to; answered by proxy ARP on the host veth (SPEC §7.3, D3). */
export const POD_GATEWAY_V4 = '169.254.1.1';
/** IPv6 gateway every pod routes to: the EUI-64 link-local of {@link HOST_VETH_MAC} (SPEC §7.3, D3). */
export const POD_GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';
/** MAC of every host-side pod veth (SPEC §7.3). */
export const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
/** MAC the tc filter rewrites broadcast to; head-end replicated by FDB (SPEC §7.8). */
export const VXLAN_FLOOD_MAC = 'ff:ff:ff:ff:ff:f1';
/** Default VXLAN UDP port (`--vxlan-udp-port`, SPEC §1.1). */
export const VXLAN_UDP_PORT = 8472;
/** VXLAN overhead subtracted from the parent MTU (SPEC §7.1). */
export const VXLAN_OVERHEAD = 50;
/** Infix of VXLAN device names: `<parent>.vxlan<VNI>` (SPEC §7.2). */
export const VXLAN_NAME_INFIX = '.vxlan';

/** Name of the VXLAN device of `parent` for `vni` (SPEC §7.2). */
export function vxlanDeviceName(parent: string, vni: number): string {
  return `${parent}${VXLAN_NAME_INFIX}${vni}`;
}

/** iptables chains owned by the project (SPEC §7.10). */
export const Chain = {
  Postrouting: 'HYBRIDNET-POSTROUTING',
  Forward: 'HYBRIDNET-FORWARD',
  Prerouting: 'HYBRIDNET-PREROUTING',
  FromRuleSkip: 'HYBRIDNET-FROM-RULE-SKIP',
  PodToNodeMark: 'HYBRIDNET-POD-TO-NODE-MARK',
} as const;

/** ipsets owned by the project (SPEC §7.10); IPv6 sets get the {@link IPSET_V6_PREFIX}. */
export const IPSet = {
  OverlayNet: 'HYBR-OVERLAY-NET',
  All: 'HYBR-ALL',
  NodeIP: 'HYBR-NODE-IP',
  LocalUnderlayNet: 'HYBR-LOCAL-UNDERLAY-NET',
  LocalPodIP: 'HYBR-LOCAL-POD-IP',
} as const;
/** Prefix of the IPv6 variant of every set (SPEC §7.10). */
export const IPSET_V6_PREFIX = 'inet6:';

/** Daemon HTTP API paths on the unix socket (SPEC §6.3; check/status/gc are this project's, D7). */
export const DaemonApi = {
  Add: '/api/v1/add',
  Del: '/api/v1/del',
  Check: '/api/v1/check',
  Status: '/api/v1/status',
  Gc: '/api/v1/gc',
} as const;

/** Longest unix socket path, bytes: `sun_path` is 108 bytes including the terminating NUL (unix(7)). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Default unix socket of the daemon (SPEC §1.1 chart value). */
export const DEFAULT_SOCKET = '/run/cni/hybridnet.sock';
