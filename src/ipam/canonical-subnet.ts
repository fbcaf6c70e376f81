/**
 * Subnet validation and defaulting: the Go `Subnet.Canonicalize` (SPEC §4.1 "Subnet build" steps 1–3, §2.2).
 *
 * Pure: turns a Subnet object into numeric bounds and sets, or throws `InvalidSubnetError` naming the field.
 */
import {
  type CIDR,
  type IPFamily,
  InvalidAddressError,
  InvalidCIDRError,
  cidrContainsValue,
  defaultRangeEnd,
  defaultRangeStart,
  familyBits,
  formatCIDR,
  formatIPValue,
  parseCIDR,
  parseIP,
} from '../net/index.ts';
import { InvalidSubnetError } from './errors.ts';
import type { IPAMAddressRange, IPAMSubnetObject } from './types.ts';

/**
 * A validated subnet: numeric range bounds with defaults applied, parsed address lists, effective netID, and a copy
 * of the modelled part of the input object (for `snapshot`).
 */
export interface CanonicalSubnet {
  name: string;
  network: string;
  family: IPFamily;
  cidr: CIDR;
  /** Canonical CIDR text. */
  cidrText: string;
  /** First allocatable address (`range.start` ?? network + 1). */
  start: bigint;
  /** Last allocatable address (`range.end` ?? broadcast − 1 for IPv4, all-ones for IPv6). May be < `start`. */
  end: bigint;
  gateway: bigint | undefined;
  /** Canonical gateway text, absent when the subnet has none. */
  gatewayText: string | undefined;
  /** Parsed `range.excludeIPs` (all inside the CIDR). */
  excludeIPs: ReadonlySet<bigint>;
  /** Parsed `range.reservedIPs` (all inside the CIDR, not yet filtered by `contains`). */
  reservedIPs: ReadonlySet<bigint>;
  /** `config.private === true`. */
  private: boolean;
  /** Effective netID: `spec.netID ?? network netID ?? null` (SPEC §2.2). */
  netID: number | null;
  /** `status.lastAllocatedIP` as given (may be empty or stale). */
  lastAllocatedIP: string;
  /** Deep copy of the modelled fields of the input object. */
  object: IPAMSubnetObject;
}

function nonEmpty(text: string | undefined | null): text is string {
  return typeof text === 'string' && text !== '';
}

/**
 * Validates a Subnet object and fills in the defaults (SPEC §4.1 steps 1–3).
 *
 * Checks: non-empty name and `spec.network`; `range.version` is `"4"` or `"6"`; `range.cidr` parses, is canonical,
 * has that version and a prefix ≤ bits − 2 (/31 and /127 are "too small to allocate from"); `gateway`, `start`, `end`
 * (empty string = absent) and every `reservedIPs` / `excludeIPs` entry parse, have that version and lie inside the
 * CIDR. `start > end` is *not* an error here (the subnet then has no allocatable address).
 *
 * @param parentNetID the network's `spec.netID`, inherited when the subnet has none.
 * @throws InvalidSubnetError naming the subnet, its network, the field and the reason.
 */
export function canonicalizeSubnet(object: IPAMSubnetObject, parentNetID: number | null): CanonicalSubnet {
  const name = object.metadata.name;
  const network = object.spec.network;
  const fail = (reason: string, field?: string): InvalidSubnetError =>
    new InvalidSubnetError({ subnet: name, network }, reason, field);
  if (!nonEmpty(name)) throw fail('subnet name can not be empty', 'metadata.name');
  if (!nonEmpty(network)) throw fail('must have parent network', 'spec.network');
  const range: IPAMAddressRange = object.spec.range;
  if (range.version !== '4' && range.version !== '6') {
    throw fail(`version ${JSON.stringify(range.version)} is neither "4" nor "6"`, 'spec.range.version');
  }
  const family: IPFamily = range.version === '4' ? 4 : 6;

  let cidr: CIDR;
  try {
    cidr = parseCIDR(range.cidr, 'spec.range.cidr');
  } catch (err) {
    if (err instanceof InvalidCIDRError) throw fail(err.message);
    throw err;
  }
  const cidrText = formatCIDR(cidr);
  if (cidr.family !== family) {
    throw fail(`CIDR ${cidrText} is IPv${cidr.family} but the range version is "${range.version}"`, 'spec.range.cidr');
  }
  const bits = familyBits(family);
  if (cidr.prefixLength > bits - 2) {
    throw fail(`CIDR ${cidrText} too small to allocate from (prefix must be ≤ /${bits - 2})`, 'spec.range.cidr');
  }

  const addressInCIDR = (text: string, field: string): bigint => {
    let value: bigint;
    try {
      const ip = parseIP(text, field);
      if (ip.family !== family) throw fail(`${text} is not an IPv${family} address`, field);
      value = ip.value;
    } catch (err) {
      if (err instanceof InvalidAddressError) throw fail(err.message);
      throw err;
    }
    if (!cidrContainsValue(cidr, family, value)) throw fail(`${text} not in CIDR ${cidrText}`, field);
    return value;
  };
  const optional = (text: string | undefined, field: string): bigint | undefined =>
    nonEmpty(text) ? addressInCIDR(text, field) : undefined;
  const list = (texts: readonly string[] | null | undefined, field: string): Set<bigint> =>
    new Set((texts ?? []).map((t, i) => addressInCIDR(t, `${field}[${i}]`)));

  const gateway = optional(range.gateway, 'spec.range.gateway');
  const start = optional(range.start, 'spec.range.start') ?? defaultRangeStart(cidr);
  const end = optional(range.end, 'spec.range.end') ?? defaultRangeEnd(cidr);
  const excludeIPs = list(range.excludeIPs, 'spec.range.excludeIPs');
  const reservedIPs = list(range.reservedIPs, 'spec.range.reservedIPs');

  const copyRange: IPAMAddressRange = { version: range.version, cidr: range.cidr };
  if (range.gateway !== undefined) copyRange.gateway = range.gateway;
  if (range.start !== undefined) copyRange.start = range.start;
  if (range.end !== undefined) copyRange.end = range.end;
  if (range.reservedIPs != null) copyRange.reservedIPs = [...range.reservedIPs];
  if (range.excludeIPs != null) copyRange.excludeIPs = [...range.excludeIPs];
  const copy: IPAMSubnetObject = {
    metadata: { name },
    spec: { network, netID: object.spec.netID ?? null, range: copyRange },
  };
  const isPrivate = object.spec.config?.private === true;
  if (object.spec.config?.private != null) copy.spec.config = { private: object.spec.config.private };

  return {
    name,
    network,
    family,
    cidr,
    cidrText,
    start,
    end,
    gateway,
    gatewayText: gateway === undefined ? undefined : formatIPValue(family, gateway),
    excludeIPs,
    reservedIPs,
    private: isPrivate,
    netID: object.spec.netID ?? parentNetID ?? null,
    lastAllocatedIP: object.status?.lastAllocatedIP ?? '',
    object: copy,
  };
}
