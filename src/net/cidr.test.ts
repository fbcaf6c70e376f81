import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CIDR,
  InvalidCIDRError,
  cidrContains,
  cidrContainsValue,
  cidrFirst,
  cidrLast,
  cidrMask,
  cidrSize,
  cidrsOverlap,
  defaultRangeEnd,
  defaultRangeStart,
  formatCIDR,
  parseCIDR,
} from './cidr.ts';
import { type IPFamily, formatIPValue, ipFromValue, parseIP } from './ip.ts';

const V6_MAX = (1n << 128n) - 1n;

describe('parseCIDR accepts canonical CIDRs', () => {
  it.each<[string, IPFamily, bigint, number]>([
    ['10.0.0.0/24', 4, 0x0a000000n, 24],
    ['0.0.0.0/0', 4, 0n, 0],
    ['10.0.0.5/32', 4, 0x0a000005n, 32],
    ['192.168.0.0/16', 4, 0xc0a80000n, 16],
    ['2001:db8::/64', 6, 0x20010db8000000000000000000000000n, 64],
    ['2001:0DB8:0:0::/32', 6, 0x20010db8000000000000000000000000n, 32],
    ['::/0', 6, 0n, 0],
    ['::1/128', 6, 1n, 128],
    ['::ffff:10.0.0.0/104', 6, 0xffff0a000000n, 104],
  ])('%s', (text, family, network, prefixLength) => {
    const c = parseCIDR(text);
    expect(c).toEqual({ family, network, prefixLength });
    expect(Object.isFrozen(c)).toBe(true);
  });
});

describe('parseCIDR refuses, with the exact message', () => {
  it.each<[string, string]>([
    ['10.0.0.1/24', 'spec.range.cidr "10.0.0.1/24" has host bits set: the network is 10.0.0.0/24'],
    ['2001:db8::1/64', 'spec.range.cidr "2001:db8::1/64" has host bits set: the network is 2001:db8::/64'],
    ['10.0.0.128/24', 'spec.range.cidr "10.0.0.128/24" has host bits set: the network is 10.0.0.0/24'],
    [
      '10.0.0.0',
      'spec.range.cidr "10.0.0.0" is not a valid CIDR: the prefix length is missing (expected <address>/<prefix>, e.g. 10.0.0.0/24)',
    ],
    ['10.0.0.0/', 'spec.range.cidr "10.0.0.0/" is not a valid CIDR: the prefix length after "/" is empty'],
    [
      '10.0.0.0/33',
      'spec.range.cidr "10.0.0.0/33" is not a valid CIDR: prefix length 33 is out of range for IPv4 (0–32)',
    ],
    [
      '2001:db8::/129',
      'spec.range.cidr "2001:db8::/129" is not a valid CIDR: prefix length 129 is out of range for IPv6 (0–128)',
    ],
    ['10.0.0.0/024', 'spec.range.cidr "10.0.0.0/024" is not a valid CIDR: prefix length "024" has a leading zero'],
    ['10.0.0.0/+24', 'spec.range.cidr "10.0.0.0/+24" is not a valid CIDR: prefix length "+24" is not a decimal number'],
    ['10.0.0.0/-1', 'spec.range.cidr "10.0.0.0/-1" is not a valid CIDR: prefix length "-1" is not a decimal number'],
    ['10.0.0.0/2a', 'spec.range.cidr "10.0.0.0/2a" is not a valid CIDR: prefix length "2a" is not a decimal number'],
    ['10.0.0.0/24/8', 'spec.range.cidr "10.0.0.0/24/8" is not a valid CIDR: contains more than one "/"'],
    ['', 'spec.range.cidr "" is not a valid CIDR: the text is empty'],
    [
      ' 10.0.0.0/24',
      'spec.range.cidr " 10.0.0.0/24" is not a valid CIDR: leading or trailing whitespace is not allowed',
    ],
    [
      '10.0.0.300/24',
      'spec.range.cidr "10.0.0.300/24" is not a valid CIDR: address "10.0.0.300": octet 300 is greater than 255',
    ],
    [
      '010.0.0.0/8',
      'spec.range.cidr "010.0.0.0/8" is not a valid CIDR: address "010.0.0.0": IPv4 part "010" has a leading zero',
    ],
    [
      'fe80::%eth0/64',
      'spec.range.cidr "fe80::%eth0/64" is not a valid CIDR: address "fe80::%eth0": a zone identifier ("%…") is not allowed here',
    ],
    ['/24', 'spec.range.cidr "/24" is not a valid CIDR: address "": the text is empty'],
  ])('%j', (text, message) => {
    expect(() => parseCIDR(text, 'spec.range.cidr')).toThrow(message);
    expect(() => parseCIDR(text, 'spec.range.cidr')).toThrow(InvalidCIDRError);
  });

  it('carries field, value, reason and the canonical network for host bits', () => {
    let caught: unknown;
    try {
      parseCIDR('10.0.0.1/24', 'spec.range.cidr');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidCIDRError);
    expect(caught).toMatchObject({
      name: 'InvalidCIDRError',
      field: 'spec.range.cidr',
      value: '10.0.0.1/24',
      reason: 'has host bits set: the network is 10.0.0.0/24',
      canonical: '10.0.0.0/24',
    });
    expect(() => parseCIDR('10.0.0.1/24')).toThrow(/^"10\.0\.0\.1\/24" has host bits set/);
  });
});

describe('formatCIDR', () => {
  it.each([
    ['10.0.0.0/24', '10.0.0.0/24'],
    ['2001:0DB8:0000::/48', '2001:db8::/48'],
    ['::/0', '::/0'],
  ])('%s → %s', (text, expected) => {
    expect(formatCIDR(parseCIDR(text))).toBe(expected);
  });
});

describe('range helpers', () => {
  it.each<[string, string, string, bigint, string, string]>([
    // cidr, first, last, size, defaultRangeStart, defaultRangeEnd (SPEC §2.2: IPv4 excludes broadcast, IPv6 does not)
    ['10.0.0.0/24', '10.0.0.0', '10.0.0.255', 256n, '10.0.0.1', '10.0.0.254'],
    ['10.0.0.0/30', '10.0.0.0', '10.0.0.3', 4n, '10.0.0.1', '10.0.0.2'],
    ['10.0.0.0/8', '10.0.0.0', '10.255.255.255', 1n << 24n, '10.0.0.1', '10.255.255.254'],
    [
      '2001:db8::/64',
      '2001:db8::',
      '2001:db8::ffff:ffff:ffff:ffff',
      1n << 64n,
      '2001:db8::1',
      '2001:db8::ffff:ffff:ffff:ffff',
    ],
    ['2001:db8::/126', '2001:db8::', '2001:db8::3', 4n, '2001:db8::1', '2001:db8::3'],
    [
      '::/0',
      '::',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      1n << 128n,
      '::1',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ],
  ])('%s', (text, first, last, size, start, end) => {
    const c = parseCIDR(text);
    const fmt = (v: bigint) => formatIPValue(c.family, v);
    expect(fmt(cidrFirst(c))).toBe(first);
    expect(fmt(cidrLast(c))).toBe(last);
    expect(cidrSize(c)).toBe(size);
    expect(fmt(defaultRangeStart(c))).toBe(start);
    expect(fmt(defaultRangeEnd(c))).toBe(end);
  });
});

describe('cidrMask', () => {
  it('gives the network mask as a value', () => {
    expect(cidrMask(4, 24)).toBe(0xffffff00n);
    expect(cidrMask(4, 0)).toBe(0n);
    expect(cidrMask(4, 32)).toBe(0xffffffffn);
    expect(cidrMask(6, 64)).toBe(0xffffffffffffffff0000000000000000n);
    expect(cidrMask(6, 128)).toBe(V6_MAX);
  });

  it.each([
    [4, 33],
    [4, -1],
    [6, 129],
    [4, 24.5],
  ] as const)('refuses IPv%i prefix %s', (family, prefix) => {
    expect(() => cidrMask(family, prefix)).toThrow(RangeError);
  });
});

describe('cidrContains', () => {
  const c4 = parseCIDR('10.0.0.0/24');
  const c6 = parseCIDR('2001:db8::/64');
  it.each<[CIDR, string, boolean]>([
    [c4, '10.0.0.0', true],
    [c4, '10.0.0.255', true],
    [c4, '10.0.1.0', false],
    [c4, '9.255.255.255', false],
    [c4, '::ffff:10.0.0.1', false], // other family: a mapped address is not in an IPv4 CIDR
    [c6, '2001:db8::ffff:ffff:ffff:ffff', true],
    [c6, '2001:db8:0:1::', false],
    [c6, '10.0.0.1', false],
  ])('%o contains %s: %s', (c, text, expected) => {
    const ip = parseIP(text);
    expect(cidrContains(c, ip)).toBe(expected);
    expect(cidrContainsValue(c, ip.family, ip.value)).toBe(expected);
  });

  const anyCIDR = fc
    .oneof(
      fc.tuple(fc.constant<IPFamily>(4), fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.integer({ min: 0, max: 32 })),
      fc.tuple(fc.constant<IPFamily>(6), fc.bigInt({ min: 0n, max: V6_MAX }), fc.integer({ min: 0, max: 128 })),
    )
    .map(([family, value, prefixLength]) => {
      const c = parseCIDR(`${formatIPValue(family, value & cidrMask(family, prefixLength))}/${prefixLength}`);
      return { c, value };
    });

  it('property: contains(c, v) ⇔ first(c) ≤ v ≤ last(c), and boundaries behave', () => {
    fc.assert(
      fc.property(anyCIDR, ({ c, value }) => {
        const max = c.family === 4 ? 0xffffffffn : V6_MAX;
        expect(cidrContainsValue(c, c.family, value)).toBe(cidrFirst(c) <= value && value <= cidrLast(c));
        expect(cidrContainsValue(c, c.family, value)).toBe(true); // value was masked from inside c
        expect(cidrContains(c, ipFromValue(c.family, cidrFirst(c)))).toBe(true);
        expect(cidrContains(c, ipFromValue(c.family, cidrLast(c)))).toBe(true);
        if (cidrFirst(c) > 0n) expect(cidrContainsValue(c, c.family, cidrFirst(c) - 1n)).toBe(false);
        if (cidrLast(c) < max) expect(cidrContainsValue(c, c.family, cidrLast(c) + 1n)).toBe(false);
        expect(cidrLast(c) - cidrFirst(c) + 1n).toBe(cidrSize(c));
        expect(parseCIDR(formatCIDR(c))).toEqual(c);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: cidrsOverlap ⇔ the address ranges intersect', () => {
    const pair = fc.tuple(anyCIDR, anyCIDR);
    fc.assert(
      fc.property(pair, ([{ c: a }, { c: b }]) => {
        const intersect = a.family === b.family && cidrFirst(a) <= cidrLast(b) && cidrFirst(b) <= cidrLast(a);
        expect(cidrsOverlap(a, b)).toBe(intersect);
        expect(cidrsOverlap(b, a)).toBe(intersect);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('cidrsOverlap', () => {
  it.each([
    ['10.0.0.0/24', '10.0.0.0/25', true],
    ['10.0.0.0/25', '10.0.0.128/25', false],
    ['10.0.0.0/8', '10.200.0.0/16', true],
    ['0.0.0.0/0', '::/0', false],
    ['2001:db8::/32', '2001:db8:ffff::/48', true],
  ])('%s and %s: %s', (a, b, expected) => {
    expect(cidrsOverlap(parseCIDR(a), parseCIDR(b))).toBe(expected);
  });
});
