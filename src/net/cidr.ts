/**
 * CIDR blocks (RFC 4632 notation, RFC 4291 §2.3 for IPv6) as `{ family, network, prefixLength }` on `bigint`, with
 * strict canonical parsing and the range helpers the IPAM needs (SPEC §2.2, §4.1).
 */
import { type IPAddress, type IPFamily, InvalidAddressError, familyBits, formatIPValue, parseIP } from './ip.ts';

/**
 * A canonical CIDR block: `network` is the network address value (host bits all zero) and `prefixLength` the number
 * of leading one bits of the mask (0–32 for IPv4, 0–128 for IPv6). Values built by `parseCIDR` are frozen.
 */
export interface CIDR {
  readonly family: IPFamily;
  readonly network: bigint;
  readonly prefixLength: number;
}

/**
 * Thrown when text is not an acceptable CIDR.
 *
 * Fields: `field` (optional path, e.g. `spec.range.cidr`), `value` (the text as given), `reason`, and — when the
 * only problem is host bits — `canonical`, the network the user probably meant. Messages:
 * `spec.range.cidr "10.0.0.0/33" is not a valid CIDR: prefix length 33 is out of range for IPv4 (0–32)` and
 * `spec.range.cidr "10.0.0.1/24" has host bits set: the network is 10.0.0.0/24`.
 */
export class InvalidCIDRError extends Error {
  readonly field?: string;
  readonly value: string;
  readonly reason: string;
  readonly canonical?: string;

  constructor(args: { field?: string; value: string; reason: string; canonical?: string }) {
    const prefix = args.field === undefined ? '' : `${args.field} `;
    const quoted = JSON.stringify(args.value);
    super(
      args.canonical === undefined
        ? `${prefix}${quoted} is not a valid CIDR: ${args.reason}`
        : `${prefix}${quoted} ${args.reason}`,
    );
    this.name = 'InvalidCIDRError';
    if (args.field !== undefined) this.field = args.field;
    this.value = args.value;
    this.reason = args.reason;
    if (args.canonical !== undefined) this.canonical = args.canonical;
  }
}

/** `HOST_MASKS[f][p]` = host-part mask for prefix p; built once (129 + 33 bigints). */
const HOST_MASKS_V4: readonly bigint[] = Array.from({ length: 33 }, (_, p) => (1n << BigInt(32 - p)) - 1n);
const HOST_MASKS_V6: readonly bigint[] = Array.from({ length: 129 }, (_, p) => (1n << BigInt(128 - p)) - 1n);

function hostMask(family: IPFamily, prefixLength: number): bigint {
  const mask = (family === 4 ? HOST_MASKS_V4 : HOST_MASKS_V6)[prefixLength];
  if (mask === undefined) {
    throw new RangeError(`prefix length ${prefixLength} is out of range for IPv${family} (0–${familyBits(family)})`);
  }
  return mask;
}

/**
 * The network mask of a prefix as a value: `cidrMask(4, 24)` = `0xffffff00n`.
 * @throws RangeError if `prefixLength` is not an integer in `0 … familyBits(family)`.
 */
export function cidrMask(family: IPFamily, prefixLength: number): bigint {
  const bits = familyBits(family);
  return ((1n << BigInt(bits)) - 1n) ^ hostMask(family, prefixLength);
}

/**
 * Parses a CIDR strictly: `<address>/<prefix>` where the address follows `parseIP` (strict dotted-quad or RFC 4291
 * IPv6, no zone id, no whitespace), the prefix is a decimal integer without sign or leading zeros in 0–32 / 0–128,
 * and the address has no host bits set (SPEC §2.2: `range.cidr` must be canonical).
 *
 * @param field optional field path used in error messages (e.g. `spec.range.cidr`).
 * @throws InvalidCIDRError naming the field, the text and the reason; for host bits the message also gives the
 * canonical network (`10.0.0.1/24 has host bits set: the network is 10.0.0.0/24`) and `canonical` is set.
 */
export function parseCIDR(text: string, field?: string): CIDR {
  const fail = (reason: string, canonical?: string): InvalidCIDRError =>
    new InvalidCIDRError({
      ...(field === undefined ? {} : { field }),
      value: String(text),
      reason,
      ...(canonical === undefined ? {} : { canonical }),
    });
  if (typeof text !== 'string') throw fail('the value is not a string');
  if (text === '') throw fail('the text is empty');
  if (text.trim() !== text) throw fail('leading or trailing whitespace is not allowed');
  const slash = text.indexOf('/');
  if (slash < 0) throw fail('the prefix length is missing (expected <address>/<prefix>, e.g. 10.0.0.0/24)');
  if (text.indexOf('/', slash + 1) >= 0) throw fail('contains more than one "/"');
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);

  let address: IPAddress;
  try {
    address = parseIP(addressText);
  } catch (err) {
    if (err instanceof InvalidAddressError) throw fail(`address ${JSON.stringify(addressText)}: ${err.reason}`);
    throw err;
  }
  const bits = familyBits(address.family);
  if (prefixText === '') throw fail('the prefix length after "/" is empty');
  if (!/^[0-9]+$/.test(prefixText)) throw fail(`prefix length "${prefixText}" is not a decimal number`);
  if (prefixText.length > 1 && prefixText.startsWith('0')) {
    throw fail(`prefix length "${prefixText}" has a leading zero`);
  }
  const prefixLength = Number(prefixText);
  if (prefixLength > bits) {
    throw fail(`prefix length ${prefixText} is out of range for IPv${address.family} (0–${bits})`);
  }
  const network = address.value & cidrMask(address.family, prefixLength);
  if (network !== address.value) {
    const canonical = `${formatIPValue(address.family, network)}/${prefixLength}`;
    throw fail(`has host bits set: the network is ${canonical}`, canonical);
  }
  return Object.freeze({ family: address.family, network, prefixLength });
}

/** Formats a CIDR as `<network>/<prefix>`, the network per `formatIPValue` (RFC 5952 for IPv6). */
export function formatCIDR(c: CIDR): string {
  return `${formatIPValue(c.family, c.network)}/${c.prefixLength}`;
}

/** Whether the address `value` of `family` lies inside `c`; `false` when the families differ. */
export function cidrContainsValue(c: CIDR, family: IPFamily, value: bigint): boolean {
  if (family !== c.family) return false;
  return value >= c.network && value <= c.network + hostMask(c.family, c.prefixLength);
}

/** Whether `ip` lies inside `c`; `false` when the families differ (an IPv4-mapped IPv6 address is not in an IPv4 CIDR). */
export function cidrContains(c: CIDR, ip: IPAddress): boolean {
  return cidrContainsValue(c, ip.family, ip.value);
}

/** First address value of the block: the network address itself (`10.0.0.0/24` ⇒ 10.0.0.0). */
export function cidrFirst(c: CIDR): bigint {
  return c.network;
}

/** Last address value of the block: host part all ones (`10.0.0.0/24` ⇒ 10.0.0.255, the IPv4 broadcast). */
export function cidrLast(c: CIDR): bigint {
  return c.network + hostMask(c.family, c.prefixLength);
}

/** Number of addresses in the block, `2^(bits − prefixLength)` (a /64 has 2^64). */
export function cidrSize(c: CIDR): bigint {
  return hostMask(c.family, c.prefixLength) + 1n;
}

/**
 * Default first allocatable address of a subnet when `range.start` is empty: network address + 1 (SPEC §2.2, §4.1).
 * Meaningful only for prefixes up to bits − 2 (the IPAM refuses /31, /32, /127, /128 before asking).
 */
export function defaultRangeStart(c: CIDR): bigint {
  return c.network + 1n;
}

/**
 * Default last allocatable address of a subnet when `range.end` is empty (SPEC §2.2, §4.1, Go `utils.LastIP`):
 * IPv4 — the broadcast address − 1; IPv6 — the all-ones address itself (IPv6 has no broadcast).
 * Meaningful only for prefixes up to bits − 2 (see `defaultRangeStart`).
 */
export function defaultRangeEnd(c: CIDR): bigint {
  const last = cidrLast(c);
  return c.family === 4 ? last - 1n : last;
}

/** Whether two blocks share at least one address (same family and one contains the other's network address). */
export function cidrsOverlap(a: CIDR, b: CIDR): boolean {
  if (a.family !== b.family) return false;
  return cidrContainsValue(a, b.family, b.network) || cidrContainsValue(b, a.family, a.network);
}
