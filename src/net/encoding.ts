/**
 * Names and encodings shared by the manager, webhook and daemon that must match the Go original byte for byte
 * (SPEC §4.3): IPInstance object names, the pod label value, stateful indexes, MAC addresses and host veth names.
 */
import { createHash } from 'node:crypto';
import {
  AddressRangeError,
  type IPAddress,
  InvalidAddressError,
  familyMax,
  formatIPValue,
  ipv6Groups,
  tryParseIP,
} from './ip.ts';

/** Largest int32, Go's `math.MaxInt32`: the stateful index of a pod whose name has no numeric suffix (SPEC §2.3). */
export const MAX_INT32 = 2147483647;
const MIN_INT32 = -2147483648;

/** OUI prefix of generated pod MACs (locally administered, unicast), SPEC §2.3 / §4.3. */
export const GENERATED_MAC_PREFIX = '02:12:34';

/** Prefix of pod host-side veth names (SPEC §7.2). */
export const HOST_VETH_PREFIX = 'hybr';

/** Longest Kubernetes label value (Kubernetes API conventions: 63 characters). */
const MAX_LABEL_VALUE_LENGTH = 63;

/**
 * Thrown when text is not an acceptable pod MAC address.
 * Fields: `field` (optional, e.g. `metadata.annotations[networking.alibaba.com/mac-pool][2]`), `value`, `reason`.
 * Message: `<field> "<value>" is not a valid MAC address: <reason>`.
 */
export class InvalidMACError extends Error {
  readonly field?: string;
  readonly value: string;
  readonly reason: string;

  constructor(args: { field?: string; value: string; reason: string }) {
    const prefix = args.field === undefined ? '' : `${args.field} `;
    super(`${prefix}${JSON.stringify(args.value)} is not a valid MAC address: ${args.reason}`);
    this.name = 'InvalidMACError';
    if (args.field !== undefined) this.field = args.field;
    this.value = args.value;
    this.reason = args.reason;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// IPInstance names

/**
 * The IPInstance object name for an address ("DNS form", SPEC §2.3, §4.3; Go `utils.ToDNSFormat`).
 *
 * IPv4 `a.b.c.d` ⇒ `a-b-c-d`. IPv6 ⇒ all 8 groups in lowercase hex without leading zeros (the `::` of the canonical
 * text expanded into `0` groups) joined by `-`: `234e:0:4567::5f` ⇒ `234e-0-4567-0-0-0-0-5f`.
 *
 * Identical to the Go original whenever its output is a valid object name. The original expands `::` by string
 * replacement, so an address whose canonical text starts or ends with `::` (e.g. `::1`, `2001:db8:0:0:1::`) got a
 * name with an empty first/last group (`-0-0-0-0-0-0-1`), which the API server refuses; here every group is written.
 * An IPv4-mapped IPv6 address keeps family 6 and is named by its groups (`0-0-0-0-0-ffff-a00-1`).
 * @throws AddressRangeError if `ip.value` is outside its family's range.
 */
export function ipInstanceName(ip: IPAddress): string {
  const { family, value } = ip;
  if (value < 0n || value > familyMax(family)) {
    throw new AddressRangeError(family, value, `${value} is outside the IPv${family} address range`);
  }
  if (family === 4) {
    const n = Number(value);
    return `${n >>> 24}-${(n >>> 16) & 255}-${(n >>> 8) & 255}-${n & 255}`;
  }
  const g = ipv6Groups(value);
  return `${g[0]!.toString(16)}-${g[1]!.toString(16)}-${g[2]!.toString(16)}-${g[3]!.toString(16)}-${g[4]!.toString(16)}-${g[5]!.toString(16)}-${g[6]!.toString(16)}-${g[7]!.toString(16)}`;
}

/**
 * The address an IPInstance name stands for (inverse of `ipInstanceName`; Go `ToIPFormat`).
 * A name with exactly 7 dashes is IPv6 (dashes become colons), any other name is IPv4 (dashes become dots).
 *
 * Strict: the name must be exactly the one `ipInstanceName` would produce for that address (no leading zeros, no
 * uppercase, no `::`), so a name that does not round-trip is reported instead of silently mapping to another address.
 * @throws InvalidAddressError with `field` `IPInstance name` and `value` the name.
 */
export function ipFromInstanceName(name: string): IPAddress {
  const fail = (reason: string): InvalidAddressError =>
    new InvalidAddressError({ field: 'IPInstance name', value: String(name), reason });
  if (typeof name !== 'string' || name === '') throw fail('the name is empty');
  const dashes = name.split('-').length - 1;
  const isV6 = dashes === 7;
  if (!isV6 && dashes !== 3) {
    throw fail(`it has ${dashes} dash(es): an IPv4 name has 3 (a-b-c-d) and an IPv6 name has 7 (eight groups)`);
  }
  if (!/^[0-9a-f-]+$/.test(name)) throw fail('only digits, lowercase hex letters and dashes are allowed');
  const ip = tryParseIP(isV6 ? name.replaceAll('-', ':') : name.replaceAll('-', '.'));
  if (ip === undefined || ip.family !== (isV6 ? 6 : 4)) {
    throw fail(
      isV6 ? 'expected eight dash-separated IPv6 groups' : 'expected four dash-separated decimal octets 0-255',
    );
  }
  const canonical = ipInstanceName(ip);
  if (canonical !== name)
    throw fail(`it is not in canonical form: the name of ${formatIPValue(ip.family, ip.value)} is ${canonical}`);
  return ip;
}

// ---------------------------------------------------------------------------------------------------------------
// Pod-derived values

/**
 * The value of the `networking.alibaba.com/pod` label for a pod name (SPEC §2.3, §4.3): unchanged when at most 63
 * characters, else the first 31 characters followed by the lowercase hex MD5 of the rest (31 + 32 = 63 characters).
 * Go slices bytes; Kubernetes object names are ASCII (DNS-1123), where bytes and characters coincide.
 */
export function podLabelValue(podName: string): string {
  if (podName.length <= MAX_LABEL_VALUE_LENGTH) return podName;
  return podName.slice(0, 31) + createHash('md5').update(podName.slice(31)).digest('hex');
}

/**
 * The stateful index of a pod (`spec.binding.stateful.index`, SPEC §2.3, §4.3; Go `GetIndexFromName`): the last
 * `-`-separated token of the name parsed like Go `strconv.Atoi` (optional `+`/`-` sign, then ASCII decimal digits
 * only), limited to int32. Anything else — no digits, other characters, a value outside int32 — gives `MAX_INT32`.
 * `web-0` ⇒ 0, `web-12` ⇒ 12, `web-+7` ⇒ 7, `web` ⇒ MAX_INT32, `web-x` ⇒ MAX_INT32. (A `-` sign can never reach the
 * parser from a name, because `-` is the separator.)
 *
 * Go's `int` is 64-bit on the platforms Hybridnet ships for, and the field is an int32, so a suffix beyond int32
 * would be truncated there; it is mapped to `MAX_INT32` here instead.
 */
export function statefulIndex(podName: string): number {
  const token = podName.slice(podName.lastIndexOf('-') + 1);
  if (!/^[+-]?[0-9]+$/.test(token)) return MAX_INT32;
  const value = Number(token);
  if (!Number.isSafeInteger(value) || value > MAX_INT32 || value < MIN_INT32) return MAX_INT32;
  return value;
}

/**
 * The host-side veth name of a pod (SPEC §4.3, §7.2): `hybr` + the first 11 lowercase hex characters of
 * SHA-1(`<namespace>.<podName>`), 15 characters in all (the Linux IFNAMSIZ limit).
 */
export function hostVethName(namespace: string, podName: string): string {
  return HOST_VETH_PREFIX + createHash('sha1').update(`${namespace}.${podName}`).digest('hex').slice(0, 11);
}

// ---------------------------------------------------------------------------------------------------------------
// MAC addresses

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

/**
 * A random pod MAC `02:12:34:xx:xx:xx` (lowercase; SPEC §2.3, §4.3). `randomBytes(n)` must return at least `n`
 * bytes; pass `crypto.randomBytes` (or a seeded source in tests). Only the first 3 bytes are used.
 * @throws RangeError if `randomBytes(3)` returns fewer than 3 bytes.
 */
export function generateMAC(randomBytes: (n: number) => Uint8Array): string {
  const b = randomBytes(3);
  if (b.length < 3) throw new RangeError(`randomBytes(3) returned ${b.length} bytes`);
  return `${GENERATED_MAC_PREFIX}:${hex2(b[0]!)}:${hex2(b[1]!)}:${hex2(b[2]!)}`;
}

const MAC_COLON = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
const MAC_DASH = /^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$/i;
const MAC_DOT = /^[0-9a-f]{4}(?:\.[0-9a-f]{4}){2}$/i;
const HW_COLON = /^[0-9a-f]{2}(?::[0-9a-f]{2})+$/i;
const HW_DASH = /^[0-9a-f]{2}(?:-[0-9a-f]{2})+$/i;
const HW_DOT = /^[0-9a-f]{4}(?:\.[0-9a-f]{4})+$/i;

/**
 * Normalises a user-given MAC (annotation `networking.alibaba.com/mac-pool`, SPEC §3.1, §4.3) to lowercase colon
 * form, like Go `net.ParseMAC(s).String()` for 48-bit addresses. Accepted (case-insensitive):
 * `01:23:45:67:89:ab`, `01-23-45-67-89-ab`, `0123.4567.89ab` — one separator kind throughout, two (or, dotted,
 * four) hex digits per group.
 *
 * Deliberate difference: Go also accepts 8-octet (EUI-64) and 20-octet (IP over InfiniBand) addresses; a pod's
 * Ethernet interface cannot take those, so they are refused here with a reason saying so, instead of failing later
 * in the datapath.
 * @throws InvalidMACError naming `field`, the text and the reason.
 */
export function normalizeMAC(text: string, field?: string): string {
  const fail = (reason: string): InvalidMACError =>
    new InvalidMACError({ ...(field === undefined ? {} : { field }), value: String(text), reason });
  if (typeof text !== 'string' || text === '') throw fail('the text is empty');
  if (text.trim() !== text) throw fail('leading or trailing whitespace is not allowed');
  let hex: string | undefined;
  if (MAC_COLON.test(text) || MAC_DASH.test(text)) hex = text.replace(/[:-]/g, '');
  else if (MAC_DOT.test(text)) hex = text.replaceAll('.', '');
  if (hex !== undefined) {
    hex = hex.toLowerCase();
    return hex.replace(/(..)(?!$)/g, '$1:');
  }
  let octets = 0;
  if (HW_COLON.test(text) || HW_DASH.test(text)) octets = (text.length + 1) / 3;
  else if (HW_DOT.test(text)) octets = (2 * (text.length + 1)) / 5;
  if (octets === 8 || octets === 20) {
    throw fail(
      `it is ${octets === 8 ? 'an 8-octet EUI-64' : 'a 20-octet IP-over-InfiniBand'} hardware address; ` +
        'a pod interface needs a 48-bit Ethernet MAC such as 02:12:34:56:78:9a',
    );
  }
  throw fail('expected six hex octets as 01:23:45:67:89:ab, 01-23-45-67-89-ab or 0123.4567.89ab');
}
