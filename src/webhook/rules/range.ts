/**
 * Address-range checks of a Subnet (SPEC §5.3 step 3, Go `ValidateAddressRange`) and the interval
 * arithmetic the overlap and strand checks need (D9: never enumerate a range). All on bigint.
 */
import type { AddressRange } from '../../api/index.ts';
import {
  InvalidAddressError,
  InvalidCIDRError,
  cidrContainsValue,
  cidrLast,
  defaultRangeEnd,
  defaultRangeStart,
  familyBits,
  formatCIDR,
  formatIPValue,
  parseCIDR,
  parseIP,
  type CIDR,
  type IPFamily,
} from '../../net/index.ts';
import type { Denials } from './denials.ts';

/** A subnet range with defaults applied, as numbers. */
export interface ParsedRange {
  family: IPFamily;
  cidr: CIDR;
  /** First allocatable address (`start` or network + 1). */
  start: bigint;
  /** Last allocatable address (`end` or broadcast − 1 / the IPv6 all-ones address). */
  end: bigint;
  /** True when start/end were given (not defaults), for messages. */
  startGiven: boolean;
  endGiven: boolean;
  gateway: bigint | undefined;
  excludeIPs: ReadonlySet<bigint>;
  reservedIPs: ReadonlySet<bigint>;
}

/** Smallest prefix length difference accepted: bits − prefix ≥ 2 (refuses /31, /32, /127, /128; SPEC §5.3 3, 5). */
const MIN_HOST_BITS = 2;

/** Formats an address value of `family`. */
export function fmt(family: IPFamily, value: bigint): string {
  return formatIPValue(family, value);
}

function familyOfVersion(version: string): IPFamily | undefined {
  return version === '4' ? 4 : version === '6' ? 6 : undefined;
}

/**
 * Checks `range` (field prefix `spec.range`) and records every problem in `d` under rule ids
 * `subnet.range.*`. Returns the parsed range when the version and CIDR are usable (even if other
 * fields were refused), so later checks can still run; undefined otherwise.
 *
 * Rules: version "4"/"6"; cidr parses, is canonical, matches the version, has ≥ 2 host bits (no
 * /31, /32, /127, /128); start, end, gateway, reservedIPs, excludeIPs parse, match the version and
 * lie in the CIDR; start ≤ end; at least one address of [start, end] is neither the gateway nor
 * excluded (counted with interval arithmetic). No size cap (D1).
 */
export function checkAddressRange(range: AddressRange, d: Denials): ParsedRange | undefined {
  const family = familyOfVersion(range.version);
  if (family === undefined) {
    d.add(
      'subnet.range.version',
      `spec.range.version ${JSON.stringify(range.version)} is not supported: use "4" or "6"`,
    );
    return undefined;
  }
  let cidr: CIDR;
  try {
    cidr = parseCIDR(range.cidr, 'spec.range.cidr');
  } catch (e) {
    if (e instanceof InvalidCIDRError && e.canonical !== undefined) {
      const [net] = e.canonical.split('/');
      const [given] = range.cidr.split('/');
      d.add(
        'subnet.range.cidr',
        `spec.range.cidr ${range.cidr} is not standard: it should start from ${net ?? ''} but starts from ` +
          `${given ?? ''} (use ${e.canonical})`,
      );
    } else {
      d.add('subnet.range.cidr', (e as Error).message);
    }
    return undefined;
  }
  if (cidr.family !== family) {
    d.add(
      'subnet.range.cidr',
      `spec.range.cidr ${range.cidr} is IPv${cidr.family} but spec.range.version is ${JSON.stringify(range.version)}`,
    );
    return undefined;
  }
  const bits = familyBits(family);
  if (bits - cidr.prefixLength < MIN_HOST_BITS) {
    d.add(
      'subnet.range.prefix',
      `spec.range.cidr ${range.cidr} is too small to allocate from: a subnet needs at least 4 addresses ` +
        `(prefix /${bits - MIN_HOST_BITS} or shorter for IPv${family})`,
    );
    return undefined;
  }

  const addressIn = (field: string, text: string): bigint | undefined => {
    let ip;
    try {
      ip = parseIP(text, field);
    } catch (e) {
      d.add(`subnet.range.address`, e instanceof InvalidAddressError ? e.message : String(e));
      return undefined;
    }
    if (ip.family !== family) {
      d.add(
        'subnet.range.address',
        `${field} ${text} is IPv${ip.family} but spec.range.version is ${JSON.stringify(range.version)}`,
      );
      return undefined;
    }
    if (!cidrContainsValue(cidr, family, ip.value)) {
      d.add('subnet.range.address', `${field} ${text} is not in CIDR ${formatCIDR(cidr)}`);
      return undefined;
    }
    return ip.value;
  };

  const given = (s: string | undefined): s is string => s !== undefined && s !== '';
  const startGiven = given(range.start);
  const endGiven = given(range.end);
  const start = startGiven ? addressIn('spec.range.start', range.start ?? '') : defaultRangeStart(cidr);
  const end = endGiven ? addressIn('spec.range.end', range.end ?? '') : defaultRangeEnd(cidr);
  const gateway = given(range.gateway) ? addressIn('spec.range.gateway', range.gateway ?? '') : undefined;
  const excludeIPs = new Set<bigint>();
  (range.excludeIPs ?? []).forEach((t, i) => {
    const v = addressIn(`spec.range.excludeIPs[${i}]`, t);
    if (v !== undefined) excludeIPs.add(v);
  });
  const reservedIPs = new Set<bigint>();
  (range.reservedIPs ?? []).forEach((t, i) => {
    const v = addressIn(`spec.range.reservedIPs[${i}]`, t);
    if (v !== undefined) reservedIPs.add(v);
  });

  if (start !== undefined && end !== undefined) {
    const parsed: ParsedRange = {
      family,
      cidr,
      start,
      end,
      startGiven,
      endGiven,
      gateway,
      excludeIPs,
      reservedIPs,
    };
    if (start > end) {
      const endText = endGiven ? `spec.range.end ${fmt(family, end)}` : `the default end ${fmt(family, end)}`;
      const startText = startGiven
        ? `spec.range.start ${fmt(family, start)}`
        : `the default start ${fmt(family, start)} (network address + 1)`;
      d.add('subnet.range.order', `${endText} is before ${startText}`);
    } else if (allocatableCount(parsed) === 0n) {
      d.add(
        'subnet.range.empty',
        `spec.range [${fmt(family, start)}, ${fmt(family, end)}] has no allocatable address: every address in it ` +
          'is the gateway or in spec.range.excludeIPs (subnet should have at least one available IP)',
      );
    }
    return parsed;
  }
  return undefined;
}

/**
 * Parses an existing subnet's range leniently (objects stored before this webhook, or by a
 * version with other rules): undefined when version/CIDR/start/end cannot be read.
 */
export function parseExistingRange(range: AddressRange): ParsedRange | undefined {
  const family = familyOfVersion(range.version);
  if (family === undefined) return undefined;
  let cidr: CIDR;
  try {
    cidr = parseCIDR(range.cidr);
  } catch {
    return undefined;
  }
  if (cidr.family !== family) return undefined;
  const value = (t: string | undefined): bigint | undefined => {
    if (t === undefined || t === '') return undefined;
    try {
      const ip = parseIP(t);
      return ip.family === family && cidrContainsValue(cidr, family, ip.value) ? ip.value : undefined;
    } catch {
      return undefined;
    }
  };
  const set = (list: string[] | undefined): Set<bigint> => {
    const s = new Set<bigint>();
    for (const t of list ?? []) {
      const v = value(t);
      if (v !== undefined) s.add(v);
    }
    return s;
  };
  const start = value(range.start);
  const end = value(range.end);
  const ok = familyBits(family) - cidr.prefixLength >= MIN_HOST_BITS;
  return {
    family,
    cidr,
    start: start ?? (ok ? defaultRangeStart(cidr) : cidr.network),
    end: end ?? (ok ? defaultRangeEnd(cidr) : cidrLast(cidr)),
    startGiven: start !== undefined,
    endGiven: end !== undefined,
    gateway: value(range.gateway),
    excludeIPs: set(range.excludeIPs),
    reservedIPs: set(range.reservedIPs),
  };
}

/** The gateway and excludeIPs: addresses of [start, end] that are never allocated. */
function blocked(r: ParsedRange): Set<bigint> {
  const s = new Set(r.excludeIPs);
  if (r.gateway !== undefined) s.add(r.gateway);
  return s;
}

/** Go `Contains`: in [start, end], not the gateway, not excluded (SPEC §4.1 step 4). */
export function rangeContains(r: ParsedRange, value: bigint): boolean {
  return value >= r.start && value <= r.end && value !== r.gateway && !r.excludeIPs.has(value);
}

/** Number of allocatable addresses: |[start, end]| minus the blocked ones inside it (D9: no enumeration). */
export function allocatableCount(r: ParsedRange): bigint {
  if (r.start > r.end) return 0n;
  let n = r.end - r.start + 1n;
  for (const b of blocked(r)) if (b >= r.start && b <= r.end) n--;
  return n;
}

/**
 * The lowest address usable in both ranges (same family), or undefined. Walks at most
 * |blocked(a) ∪ blocked(b)| + 1 candidates from the start of the intersection, never the range.
 */
export function firstCommonAddress(a: ParsedRange, b: ParsedRange): bigint | undefined {
  if (a.family !== b.family) return undefined;
  const lo = a.start > b.start ? a.start : b.start;
  const hi = a.end < b.end ? a.end : b.end;
  const skip = new Set([...blocked(a), ...blocked(b)]);
  for (let x = lo; x <= hi; x++) if (!skip.has(x)) return x;
  return undefined;
}
