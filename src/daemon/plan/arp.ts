/**
 * VLAN "ARP enhancement" planning (SPEC §7.6): which local pod address each VLAN forward interface carries per IPv4
 * VLAN subnet, so that the ARP requests the node sends into that VLAN (for the gateway, when it forwards a pod's
 * traffic) carry a sender IP of the pod subnet — some switches drop ARP whose sender lies outside the VLAN's subnet.
 * Pure: same input, same plan.
 */
import type { IPInstance, Network, Subnet } from '../../api/index.ts';
import { effectiveNetworkMode } from '../../api/index.ts';
import { cidrContains, parseCIDR, tryParseIP, type CIDR } from '../../net/index.ts';
import type { ArpEnhancementPlan, EnhancedAddressSpec, LinkFacts } from './types.ts';

/** Inputs of {@link planArpEnhancement}. */
export interface ArpEnhancementInput {
  /** Active (bound, not terminating) IPInstances of pods on this node. */
  localInstances: IPInstance[];
  /** Networks by name. */
  networks: Map<string, Network>;
  /** Every Subnet of the cluster. */
  subnets: Subnet[];
  /** The node's links with their addresses (flags `noprefixroute` / scope as `ip -json addr` reports them). */
  links: LinkFacts[];
  /** VLAN parent interface; absent ⇒ no VLAN forward interface, nothing wanted. */
  vlanParent: string | undefined;
  /** Names of the networks whose `status.nodeList` holds this node. */
  nodeNetworks: Set<string>;
  /** The Node's `status.addresses` (never removed). */
  nodeAddresses: string[];
}

/** VLAN forward interface of `parent` for `netID` (SPEC §7.2): the parent itself for 0/null. */
function forwardIf(parent: string, netID: number | null | undefined): string {
  return netID ? `${parent}.${netID}` : parent;
}

/**
 * Plans the VLAN "ARP enhancement" (SPEC §7.6): for every (VLAN forward interface, IPv4 VLAN subnet) with at least one
 * local pod, the pod address with the lowest IP (deterministic: two reconciles agree) as `ip/<subnet prefix>` —
 * unless the interface already has a normal (not `noprefixroute`) IPv4 address inside the subnet, which ARP uses
 * anyway. `subnets` lists every IPv4 VLAN subnet CIDR of the cluster (where stale enhanced addresses are looked for),
 * `keep` the node's own addresses. Subnets whose CIDR does not parse are skipped with a message in `warnings`.
 */
export function planArpEnhancement(input: ArpEnhancementInput): { plan: ArpEnhancementPlan; warnings: string[] } {
  const warnings: string[] = [];
  const vlanSubnets = new Map<string, { subnet: Subnet; cidr: CIDR }>();
  for (const s of input.subnets) {
    const n = input.networks.get(s.spec.network);
    if (!n || effectiveNetworkMode(n) !== 'VLAN' || s.spec.range.version !== '4') continue;
    try {
      vlanSubnets.set(s.metadata?.name ?? '', { subnet: s, cidr: parseCIDR(s.spec.range.cidr) });
    } catch (err) {
      warnings.push(
        `subnet ${s.metadata?.name}: spec.range.cidr ${JSON.stringify(s.spec.range.cidr)} is invalid, no ARP enhancement for it: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const byKey = new Map<string, { spec: EnhancedAddressSpec; value: bigint }>();
  const linkOf = new Map(input.links.map((l) => [l.name, l]));
  for (const ins of input.localInstances) {
    if (ins.spec.address.version !== '4' || input.vlanParent === undefined) continue;
    if (!input.nodeNetworks.has(ins.spec.network)) continue;
    const sub = vlanSubnets.get(ins.spec.subnet);
    if (!sub || sub.subnet.spec.network !== ins.spec.network) continue;
    const ipText = ins.spec.address.ip.split('/')[0] ?? '';
    const ip = tryParseIP(ipText);
    if (!ip || ip.family !== 4 || !cidrContains(sub.cidr, ip)) continue;
    const dev = forwardIf(input.vlanParent, ins.spec.address.netID);
    const normal = linkOf
      .get(dev)
      ?.addresses.some((a) => a.family === 4 && !a.noprefixroute && cidrContainsText(sub.cidr, a.ip));
    if (normal) continue;
    const key = `${dev}|${sub.subnet.spec.range.cidr}`;
    const cur = byKey.get(key);
    if (cur && cur.value <= ip.value) continue;
    byKey.set(key, {
      value: ip.value,
      spec: {
        dev,
        ip: ipText,
        prefixLength: sub.cidr.prefixLength,
        subnet: sub.subnet.spec.range.cidr,
      },
    });
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const addresses = [...byKey.values()].map((x) => x.spec).sort((a, b) => cmp(a.dev, b.dev) || cmp(a.subnet, b.subnet));
  return {
    plan: {
      addresses,
      subnets: [...new Set([...vlanSubnets.values()].map((v) => v.subnet.spec.range.cidr))].sort(),
      keep: [...input.nodeAddresses],
    },
    warnings,
  };
}

function cidrContainsText(c: CIDR, ip: string): boolean {
  const p = tryParseIP(ip);
  return !!p && cidrContains(c, p);
}
