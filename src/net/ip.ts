/**
 * IP addresses as immutable `{ family, value }` pairs on `bigint`, with strict parsing and canonical formatting.
 *
 * Parsing delegates the grammar to `ipaddr.js` and adds the strictness `ipaddr.js` lacks (it accepts the classful and
 * octal/hex IPv4 forms, leading zeros, zone ids, and misreads `::a.b.c.d`). Formatting works on the bigint directly so
 * the IPAM hot path (`formatIPValue`) allocates nothing but the result string.
 *
 * Rules: IPv4 text is RFC 791 dotted-quad as accepted by Go's `net.ParseIP` (Go ≥ 1.17 refuses leading zeros);
 * IPv6 text is any RFC 4291 §2.2 form; IPv6 output is RFC 5952.
 */
import ipaddr from 'ipaddr.js';

/** Address family: 4 (IPv4, 32-bit) or 6 (IPv6, 128-bit). Matches the CRD `version` fields `"4"` / `"6"` (SPEC §2). */
export type IPFamily = 4 | 6;

/**
 * One IP address: `family` and its unsigned integer `value` (network byte order read as a big-endian number:
 * `10.0.0.1` ⇒ `0x0a000001n`). Values built by this module are frozen; treat them as immutable values and compare
 * them with `compareIP` or by `family` + `value` (never by identity).
 *
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) keep family 6. Go's `net.ParseIP(...).To4()` would
 * treat them as IPv4; we do not, so that an address written in an IPv6 field never silently changes family.
 */
export interface IPAddress {
  readonly family: IPFamily;
  readonly value: bigint;
}

/**
 * Thrown when text is not an acceptable IP address.
 *
 * Fields: `field` (optional path of the field that held the text, e.g. `spec.range.gateway`), `value` (the text as
 * given) and `reason` (what is wrong, for humans). Message: `spec.range.gateway "10.0.0.300" is not a valid IP
 * address: octet 300 is greater than 255` (the field prefix only when `field` is given).
 */
export class InvalidAddressError extends Error {
  readonly field?: string;
  readonly value: string;
  readonly reason: string;

  constructor(args: { field?: string; value: string; reason: string }) {
    const prefix = args.field === undefined ? '' : `${args.field} `;
    super(`${prefix}${JSON.stringify(args.value)} is not a valid IP address: ${args.reason}`);
    this.name = 'InvalidAddressError';
    if (args.field !== undefined) this.field = args.field;
    this.value = args.value;
    this.reason = args.reason;
  }
}

/**
 * Thrown when a numeric address leaves its family's range: `ipFromValue`/`formatIPValue` given a value outside
 * `0 … familyMax(family)`, `nextIP` of the all-ones address, `prevIP` of the all-zeros address.
 * Fields: `family`, `value` (the offending number, possibly out of range), `reason`.
 */
export class AddressRangeError extends RangeError {
  readonly family: IPFamily;
  readonly value: bigint;
  readonly reason: string;

  constructor(family: IPFamily, value: bigint, reason: string) {
    super(reason);
    this.name = 'AddressRangeError';
    this.family = family;
    this.value = value;
    this.reason = reason;
  }
}

const MAX_V4 = 0xffff_ffffn;
const MAX_V6 = (1n << 128n) - 1n;

/** Number of bits in an address of `family`: 32 for IPv4, 128 for IPv6. */
export function familyBits(family: IPFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** Largest address value of `family`: `2^32 − 1` (255.255.255.255) or `2^128 − 1` (ffff:…:ffff). */
export function familyMax(family: IPFamily): bigint {
  return family === 4 ? MAX_V4 : MAX_V6;
}

function assertFamily(family: unknown): asserts family is IPFamily {
  if (family !== 4 && family !== 6) throw new TypeError(`IP family must be 4 or 6, got ${String(family)}`);
}

function assertInRange(family: IPFamily, value: bigint): void {
  if (typeof value !== 'bigint') throw new TypeError(`IP address value must be a bigint, got ${typeof value}`);
  if (value < 0n || value > (family === 4 ? MAX_V4 : MAX_V6)) {
    throw new AddressRangeError(
      family,
      value,
      `${value} is outside the IPv${family} address range 0…${family === 4 ? MAX_V4 : MAX_V6}`,
    );
  }
}

function makeIP(family: IPFamily, value: bigint): IPAddress {
  return Object.freeze({ family, value });
}

/**
 * Builds an `IPAddress` from a family and an unsigned value.
 * @throws TypeError if `family` is not 4 or 6 or `value` is not a bigint.
 * @throws AddressRangeError if `value` is negative or above `familyMax(family)`.
 */
export function ipFromValue(family: IPFamily, value: bigint): IPAddress {
  assertFamily(family);
  assertInRange(family, value);
  return makeIP(family, value);
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/** Strict RFC 791 dotted-quad: four decimal parts, no leading zeros (`0` alone is fine), 1–3 digits each. */
const DOTTED_QUAD = /^(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;

/** Returns a human reason why `text` (no colon) is not a strict dotted-quad, or the 32-bit value. */
function parseDottedQuad(text: string): number | string {
  if (!DOTTED_QUAD.test(text)) {
    const parts = text.split('.');
    if (parts.length !== 4) {
      return `an IPv4 address must have exactly four dot-separated decimal parts (got ${parts.length})`;
    }
    for (const part of parts) {
      if (part === '') return 'an IPv4 address part is empty';
      if (!/^[0-9]+$/.test(part))
        return `IPv4 part "${part}" is not a decimal number (octal and hex forms are refused)`;
      if (part.length > 1 && part.startsWith('0')) return `IPv4 part "${part}" has a leading zero`;
      if (part.length > 3) return `octet ${part} is greater than 255`;
    }
    return 'expected a dotted-quad IPv4 address such as 10.0.0.1';
  }
  // Grammar delegated to ipaddr.js; the regex above has already refused its non-standard forms.
  let octets: number[];
  try {
    octets = ipaddr.IPv4.parse(text).octets;
  } catch {
    const big = text.split('.').find((p) => Number(p) > 255);
    return big === undefined
      ? 'expected a dotted-quad IPv4 address such as 10.0.0.1'
      : `octet ${big} is greater than 255`;
  }
  const [a = 0, b = 0, c = 0, d = 0] = octets;
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function parseIPv6(text: string): bigint | string {
  if (!IPV6_CHARS.test(text)) return 'only hex digits, ":" and a dotted IPv4 tail are allowed in an IPv6 address';
  let hexText = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    // RFC 4291 §2.2 form 3: the dotted IPv4 tail is the low 32 bits. ipaddr.js reads `::a.b.c.d` as
    // `::ffff:a.b.c.d` and accepts octal/hex/leading-zero tails, so the tail is converted here to two hex groups.
    const head = text.slice(0, lastColon + 1);
    const tail = text.slice(lastColon + 1);
    if (head.includes('.')) return 'an embedded IPv4 address is only allowed as the last 32 bits';
    const v4 = parseDottedQuad(tail);
    if (typeof v4 === 'string') return `embedded IPv4 part "${tail}": ${v4}`;
    hexText = `${head}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const doubleColons = hexText.split('::').length - 1;
  if (doubleColons > 1 || hexText.includes(':::')) return `"::" may appear only once`;
  let parts: number[];
  try {
    parts = ipaddr.IPv6.parse(hexText).parts;
  } catch {
    const longGroup = hexText.split(':').find((g) => g.length > 4);
    if (longGroup !== undefined) return `group "${longGroup}" has more than 4 hex digits`;
    return 'expected an RFC 4291 IPv6 address: 8 colon-separated groups of 1–4 hex digits, or fewer with one "::"';
  }
  if (parts.length !== 8) return 'expected an RFC 4291 IPv6 address of 8 groups';
  let value = 0n;
  for (const p of parts) value = (value << 16n) | BigInt(p);
  return value;
}

function parseIPReason(text: string): IPAddress | string {
  if (typeof text !== 'string') return 'the value is not a string';
  if (text === '') return 'the text is empty';
  if (text.trim() !== text) return 'leading or trailing whitespace is not allowed';
  if (text.includes('%')) return 'a zone identifier ("%…") is not allowed here';
  if (text.includes(':')) {
    const v6 = parseIPv6(text);
    return typeof v6 === 'string' ? v6 : makeIP(6, v6);
  }
  const v4 = parseDottedQuad(text);
  return typeof v4 === 'string' ? v4 : makeIP(4, BigInt(v4));
}

/**
 * Parses an IP address strictly.
 *
 * Accepted: IPv4 dotted-quad with exactly four decimal parts 0–255 and no leading zeros (RFC 791 notation, as Go's
 * `net.ParseIP` since Go 1.17); IPv6 in any RFC 4291 §2.2 text form, case-insensitive, including `::` compression and
 * an embedded dotted IPv4 tail (`::ffff:1.2.3.4` and `::1.2.3.4` are family 6).
 * Refused: `10.1`, `167772161`, `0x0a.0.0.1`, `010.0.0.1`, zone ids (`fe80::1%eth0`), any surrounding whitespace,
 * groups of more than four hex digits, more than one `::`.
 *
 * @param text the address text.
 * @param field optional field path used in the error message (e.g. `spec.range.gateway`).
 * @throws InvalidAddressError naming `field`, the text and the reason.
 */
export function parseIP(text: string, field?: string): IPAddress {
  const result = parseIPReason(text);
  if (typeof result === 'string') {
    throw new InvalidAddressError({ ...(field === undefined ? {} : { field }), value: String(text), reason: result });
  }
  return result;
}

/** Like `parseIP` but returns `undefined` instead of throwing. Never throws. */
export function tryParseIP(text: string): IPAddress | undefined {
  const result = parseIPReason(text);
  return typeof result === 'string' ? undefined : result;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/**
 * Splits a 128-bit IPv6 address value into its eight 16-bit groups (numbers 0–65535), most significant first, as in
 * the RFC 4291 §2.2 text form. `value` must be within `0 … familyMax(6)` (not checked: hot path).
 */
export function ipv6Groups(value: bigint): number[] {
  const w0 = Number(value >> 96n);
  const w1 = Number(BigInt.asUintN(32, value >> 64n));
  const w2 = Number(BigInt.asUintN(32, value >> 32n));
  const w3 = Number(BigInt.asUintN(32, value));
  return [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
}

function formatV4Number(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatV6(value: bigint): string {
  const g = ipv6Groups(value);
  // RFC 5952 §5: IPv4-mapped addresses (::ffff:0:0/96) are written with the dotted-quad tail.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatV4Number(Number(BigInt.asUintN(32, value)))}`;
  }
  // RFC 5952 §4.2: compress the longest run of ≥ 2 zero groups, the first one on a tie; never a single group.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':');
  const head = g
    .slice(0, bestStart)
    .map((x) => x.toString(16))
    .join(':');
  const tail = g
    .slice(bestStart + bestLen)
    .map((x) => x.toString(16))
    .join(':');
  return `${head}::${tail}`;
}

/**
 * Formats a numeric address without building an `IPAddress` (IPAM hot path).
 *
 * IPv4: dotted-quad. IPv6: RFC 5952 canonical text — lowercase, no leading zeros, the longest run of two or more zero
 * groups compressed to `::` (the leftmost on a tie), a single zero group left as `0`; IPv4-mapped addresses
 * (`::ffff:0:0/96`) use the RFC 5952 §5 mixed form `::ffff:1.2.3.4`. For every other address this equals Go's
 * `net.IP.String()`; Go prints a mapped address as plain `1.2.3.4` because it treats it as IPv4 (we keep family 6).
 *
 * @throws AddressRangeError if `value` is outside `0 … familyMax(family)`.
 */
export function formatIPValue(family: IPFamily, value: bigint): string {
  assertInRange(family, value);
  if (family === 4) return formatV4Number(Number(value));
  return formatV6(value);
}

/** Formats an address; see `formatIPValue` for the exact rules (RFC 5952 for IPv6). */
export function formatIP(ip: IPAddress): string {
  return formatIPValue(ip.family, ip.value);
}

// ---------------------------------------------------------------------------------------------------------------
// Ordering and arithmetic

/** Total order: every IPv4 address before every IPv6 address, then by numeric value. Returns -1, 0 or 1. */
export function compareIP(a: IPAddress, b: IPAddress): -1 | 0 | 1 {
  if (a.family !== b.family) return a.family < b.family ? -1 : 1;
  if (a.value === b.value) return 0;
  return a.value < b.value ? -1 : 1;
}

/**
 * The address right after `ip` in the same family.
 * @throws AddressRangeError at 255.255.255.255 or ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff (no wrap-around).
 */
export function nextIP(ip: IPAddress): IPAddress {
  if (ip.value >= familyMax(ip.family)) {
    throw new AddressRangeError(
      ip.family,
      ip.value,
      `${formatIPValue(ip.family, ip.value)} is the last IPv${ip.family} address: there is no next address`,
    );
  }
  return makeIP(ip.family, ip.value + 1n);
}

/**
 * The address right before `ip` in the same family.
 * @throws AddressRangeError at 0.0.0.0 or :: (no wrap-around).
 */
export function prevIP(ip: IPAddress): IPAddress {
  if (ip.value <= 0n) {
    throw new AddressRangeError(
      ip.family,
      ip.value,
      `${formatIPValue(ip.family, ip.value)} is the first IPv${ip.family} address: there is no previous address`,
    );
  }
  return makeIP(ip.family, ip.value - 1n);
}
