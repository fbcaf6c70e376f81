/**
 * Subnet admission (SPEC §5.3 with D1, D9, D10): parent network, netID and autoNatOutgoing per
 * mode, gateway for VLAN, the address range (canonical CIDR, no /31 /32 /127 /128, addresses in
 * the CIDR, start ≤ end, at least one allocatable address), no overlap with other subnets (interval
 * arithmetic), immutable fields, range changes that would strand IPInstances, and deletion refused
 * while IPInstances use the subnet. No size cap (D1).
 */
import { isDeepStrictEqual } from 'node:util';
import {
  LABEL_SUBNET,
  NetworkMode,
  effectiveNetworkMode,
  validateSubnet as decodeSubnet,
  type IPInstance,
  type Network,
  type Subnet,
} from '../../api/index.ts';
import { cidrsOverlap, formatCIDR, tryParseIP } from '../../net/index.ts';
import type { AdmissionRequest } from '../admission.ts';
import { allow, deny, type Decision } from '../decision.ts';
import type { ClusterView } from '../view.ts';
import { Denials, show } from './denials.ts';
import { checkVlanID } from './network.ts';
import { decodeObject, isDecodeError } from './objects.ts';
import {
  checkAddressRange,
  firstCommonAddress,
  fmt,
  parseExistingRange,
  rangeContains,
  type ParsedRange,
} from './range.ts';

/** How many names a message lists before "and N more". */
const LIST_LIMIT = 10;

function listNames(names: string[]): string {
  const shown = names.slice(0, LIST_LIMIT).join(', ');
  return names.length > LIST_LIMIT ? `${shown} and ${names.length - LIST_LIMIT} more` : shown;
}

function ipKey(ip: IPInstance): string {
  return `${ip.metadata.namespace ?? ''}/${ip.metadata.name ?? ''}`;
}

/** netID / autoNatOutgoing / gateway rules of the parent's mode (SPEC §5.3 step 2, D10). */
function checkModeRules(subnet: Subnet, parent: Network, d: Denials): void {
  const mode = effectiveNetworkMode(parent);
  const name = parent.metadata.name ?? '';
  const netID = subnet.spec.netID ?? null;
  const autoNat = subnet.spec.config?.autoNatOutgoing;
  const autoNatSet = autoNat !== undefined && autoNat !== null;
  if (mode === NetworkMode.VLAN) {
    const parentNetID = parent.spec.netID ?? null;
    if (netID === null && parentNetID === null) {
      d.add(
        'subnet.net-id.required',
        `spec.netID is null and network ${name} has no netID: must have valid Net ID (a VLAN id 0–4094 on the subnet or its network)`,
      );
    } else if (netID !== null && parentNetID !== null && netID !== parentNetID) {
      d.add(
        'subnet.net-id.inconsistent',
        `spec.netID ${netID} differs from netID ${parentNetID} of network ${name}: have inconsistent Net ID with network`,
      );
    }
    checkVlanID('spec.netID', netID, d);
    const gw = subnet.spec.range.gateway;
    if (gw === undefined || gw === '') {
      d.add('subnet.gateway.required', 'spec.range.gateway is empty: must assign gateway for a vlan subnet');
    }
  } else if (netID !== null) {
    d.add('subnet.net-id.forbidden', `spec.netID ${netID} must be null for a subnet of ${mode} network ${name}`);
  }
  if (mode !== NetworkMode.VXLAN && autoNatSet) {
    d.add(
      'subnet.auto-nat',
      `spec.config.autoNatOutgoing ${show(autoNat)} is only allowed on Overlay subnets, not on ${mode} network ${name}`,
    );
  }
}

/** Overlap with every other subnet (SPEC §5.3 step 6, D9). */
function checkOverlap(subnet: Subnet, r: ParsedRange, view: ClusterView, d: Denials): void {
  const name = subnet.metadata.name ?? '';
  const cidrText = formatCIDR(r.cidr);
  for (const other of view.listSubnets()) {
    const otherName = other.metadata.name ?? '';
    if (otherName === name) continue;
    const o = parseExistingRange(other.spec.range);
    if (!o || o.family !== r.family || !cidrsOverlap(o.cidr, r.cidr)) continue;
    const oc = formatCIDR(o.cidr);
    if (oc !== cidrText) {
      d.add(
        'subnet.overlap',
        `spec.range.cidr ${cidrText} overlaps CIDR ${oc} of existing subnet ${otherName} (network ` +
          `${other.spec.network}): different but overlapping CIDRs are not supported`,
      );
    } else if (other.spec.network !== subnet.spec.network) {
      d.add(
        'subnet.overlap',
        `spec.range.cidr ${cidrText} is already used by subnet ${otherName} of network ${other.spec.network}: ` +
          `subnets of different networks cannot share a CIDR`,
      );
    } else {
      const common = firstCommonAddress(r, o);
      if (common !== undefined) {
        d.add(
          'subnet.overlap',
          `spec.range [${fmt(r.family, r.start)}, ${fmt(r.family, r.end)}] overlaps with existing subnet ` +
            `${otherName} [${fmt(o.family, o.start)}, ${fmt(o.family, o.end)}] at ${fmt(r.family, common)}`,
        );
      }
    }
  }
}

function validateCreate(subnet: Subnet, view: ClusterView): Decision {
  const d = new Denials();
  const parentName = subnet.spec.network;
  if (parentName === '') return deny('subnet.network.required', 'spec.network is empty: must have parent network');
  const parent = view.getNetwork(parentName);
  if (!parent) {
    return deny('subnet.network.missing', `spec.network ${parentName}: parent network ${parentName} does not exist`);
  }
  checkModeRules(subnet, parent, d);
  const r = checkAddressRange(subnet.spec.range, d);
  if (r && d.empty) checkOverlap(subnet, r, view, d);
  return d.decision();
}

function sameSet(a: string[] | undefined, b: string[] | undefined): boolean {
  const norm = (l: string[] | undefined): string[] =>
    [
      ...new Set((l ?? []).map((t) => tryParseIP(t)).map((ip, i) => (ip ? `${ip.family}:${ip.value}` : `?${i}`))),
    ].sort();
  return isDeepStrictEqual(norm(a), norm(b));
}

function validateUpdate(subnet: Subnet, old: Subnet, view: ClusterView): Decision {
  if (isDeepStrictEqual(subnet.spec, old.spec)) return allow();
  const d = new Denials();
  const name = subnet.metadata.name ?? '';
  if (subnet.spec.network !== old.spec.network) {
    d.add('subnet.immutable', `spec.network is immutable: ${old.spec.network} cannot change to ${subnet.spec.network}`);
    return d.decision();
  }
  const parent = view.getNetwork(subnet.spec.network);
  const nr = subnet.spec.range;
  const or = old.spec.range;
  for (const field of ['version', 'cidr', 'gateway'] as const) {
    if ((nr[field] ?? '') !== (or[field] ?? '')) {
      d.add(
        'subnet.immutable',
        `spec.range.${field} is immutable: ${show(or[field] ?? '')} cannot change to ${show(nr[field] ?? '')}`,
      );
    }
  }
  if ((subnet.spec.netID ?? null) !== (old.spec.netID ?? null)) {
    d.add(
      'subnet.immutable',
      `spec.netID is immutable: ${show(old.spec.netID ?? null)} cannot change to ${show(subnet.spec.netID ?? null)}`,
    );
  }
  if (!d.empty) return d.decision();
  if (parent) checkModeRules(subnet, parent, d);
  const r = checkAddressRange(nr, d);
  if (!r || !d.empty) return d.decision();

  const rangeChanged =
    (nr.start ?? '') !== (or.start ?? '') ||
    (nr.end ?? '') !== (or.end ?? '') ||
    !sameSet(nr.excludeIPs, or.excludeIPs);
  if (rangeChanged) {
    // Every IPInstance of this subnet (allocated or reserved) must stay allocatable (SPEC §5.3 UPDATE; issue 5).
    const stranded: string[] = [];
    for (const ip of view.listIPInstances({ labels: { [LABEL_SUBNET]: name } })) {
      if (ip.spec.subnet !== name) continue;
      const addr = tryParseIP(ip.spec.address.ip.split('/')[0] ?? '');
      if (addr && addr.family === r.family && !rangeContains(r, addr.value)) {
        stranded.push(
          `${ipKey(ip)} (${fmt(addr.family, addr.value)}${ip.spec.binding?.podName ? `, pod ${ip.spec.binding.podName}` : ''})`,
        );
      }
    }
    if (stranded.length > 0) {
      d.add(
        'subnet.range.strand',
        `spec.range [${fmt(r.family, r.start)}, ${fmt(r.family, r.end)}] excluding ${r.excludeIPs.size} excludeIPs ` +
          `would strand IPInstance${stranded.length > 1 ? 's' : ''} ${listNames(stranded)} of subnet ${name}: ` +
          'release those addresses first',
      );
    }
    if (d.empty) checkOverlap(subnet, r, view, d);
  }
  return d.decision();
}

function validateDelete(old: Subnet, view: ClusterView): Decision {
  const name = old.metadata.name ?? '';
  const using = view.listIPInstances({ labels: { [LABEL_SUBNET]: name } });
  if (using.length === 0) return allow();
  return deny(
    'subnet.delete.in-use',
    `subnet ${name} still has using ips: ${listNames(using.map(ipKey))} (${using.length} IPInstance` +
      `${using.length > 1 ? 's' : ''}); they are released when their pods or StatefulSets are deleted`,
  );
}

/**
 * Judges a Subnet CREATE, UPDATE or DELETE (SPEC §5.3 with D1, D9, D10). Other operations pass.
 * UPDATE: network, version, cidr, gateway and netID are immutable; start, end and excludeIPs may
 * change when no IPInstance of the subnet leaves the allocatable range and no overlap results;
 * reservedIPs, private and autoNatOutgoing (Overlay only) may change.
 */
export function validateSubnet(req: AdmissionRequest, view: ClusterView): Decision {
  switch (req.operation) {
    case 'CREATE': {
      const s = decodeObject(req, 'object', decodeSubnet);
      return isDecodeError(s) ? s : validateCreate(s, view);
    }
    case 'UPDATE': {
      const s = decodeObject(req, 'object', decodeSubnet);
      if (isDecodeError(s)) return s;
      const old = decodeObject(req, 'oldObject', decodeSubnet);
      return isDecodeError(old) ? old : validateUpdate(s, old, view);
    }
    case 'DELETE': {
      const old = decodeObject(req, 'oldObject', decodeSubnet);
      return isDecodeError(old) ? old : validateDelete(old, view);
    }
    default:
      return allow('by pass');
  }
}
