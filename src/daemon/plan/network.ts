/**
 * Where a network's addresses live on this node (SPEC §7.2, §7.3 step 8): the overlay's VXLAN device, the forward
 * interface of a network, the pods' MTU, and small readings of IPInstances and links shared by the node planner and
 * pod ADD. Pure.
 */
import type { IPInstance, Network } from '../../api/index.ts';
import { effectiveNetworkMode, effectiveNetworkType } from '../../api/index.ts';
import { VXLAN_OVERHEAD, vxlanDeviceName } from '../constants.ts';
import type { ClusterState, Family, LinkFacts, NodeFacts } from './types.ts';

/** Family of a CRD version string. */
export function familyOf(version: string): Family {
  return version === '6' ? 6 : 4;
}

/** Plain IP of `ip/prefix`. */
export function plainIP(cidrIP: string): string {
  const i = cidrIP.indexOf('/');
  return i < 0 ? cidrIP : cidrIP.slice(0, i);
}

/** True when the IPInstance is in use by a pod (not reserved, not terminating). */
export function isActiveInstance(ins: IPInstance): boolean {
  return !!ins.spec.binding?.nodeName && !ins.metadata?.deletionTimestamp;
}

/** Name of the VLAN forward interface of `parent` for `netID` (SPEC §7.2): the parent itself for 0/null. */
export function vlanForwardIf(parent: string, netID: number | null | undefined): string {
  return netID ? `${parent}.${netID}` : parent;
}

/** The overlay network (at most one per cluster) and its VXLAN device name on this node, if any. */
export function overlayOf(
  cluster: ClusterState,
  facts: NodeFacts,
): { network: Network; vxlan: string; vni: number } | undefined {
  const network = cluster.networks.find((n) => effectiveNetworkType(n) === 'Overlay' && !n.metadata?.deletionTimestamp);
  if (!network || !facts.vxlanParent) return undefined;
  const vni = network.spec.netID ?? 0;
  return { network, vxlan: vxlanDeviceName(facts.vxlanParent, vni), vni };
}

/** The link `name` of the node's facts, if it exists. */
export function linkNamed(facts: NodeFacts, name: string | undefined): LinkFacts | undefined {
  return name === undefined ? undefined : facts.links.find((l) => l.name === name);
}

/** The first global address of a link, IPv4 before IPv6 (SPEC §7.8 VTEP choice). */
export function firstGlobalAddress(l: LinkFacts | undefined): string | undefined {
  if (!l) return undefined;
  const globals = l.addresses.filter((a) => a.global);
  return (globals.find((a) => a.family === 4) ?? globals.find((a) => a.family === 6))?.ip;
}

/** MTU pods of `network` get (SPEC §7.1): VXLAN parent − 50, VLAN/BGP parent MTU. */
export function podMtu(network: Network, facts: NodeFacts): number {
  const mode = effectiveNetworkMode(network);
  if (mode === 'VXLAN') return (linkNamed(facts, facts.vxlanParent)?.mtu ?? 1500) - VXLAN_OVERHEAD;
  if (mode === 'BGP' || mode === 'GlobalBGP') return linkNamed(facts, facts.bgpParent ?? facts.vlanParent)?.mtu ?? 1500;
  return linkNamed(facts, facts.vlanParent)?.mtu ?? 1500;
}

/** Forward interface of an address of `network` on this node (SPEC §7.3 step 8). */
export function forwardInterface(
  network: Network,
  netID: number | null | undefined,
  cluster: ClusterState,
  facts: NodeFacts,
): string | undefined {
  const mode = effectiveNetworkMode(network);
  if (mode === 'VXLAN') return overlayOf(cluster, facts)?.vxlan;
  if (mode === 'VLAN') return facts.vlanParent === undefined ? undefined : vlanForwardIf(facts.vlanParent, netID);
  return facts.bgpParent ?? facts.vlanParent;
}
