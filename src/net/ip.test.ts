import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AddressRangeError,
  type IPFamily,
  InvalidAddressError,
  compareIP,
  familyBits,
  familyMax,
  formatIP,
  formatIPValue,
  ipFromValue,
  ipv6Groups,
  nextIP,
  parseIP,
  prevIP,
  tryParseIP,
} from './ip.ts';

const V6_MAX = (1n << 128n) - 1n;

describe('parseIP accepts', () => {
  it.each<[string, IPFamily, bigint]>([
    ['0.0.0.0', 4, 0n],
    ['10.0.0.1', 4, 0x0a000001n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['192.168.100.0', 4, 0xc0a86400n],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['1::', 6, 1n << 112n],
    ['2001:db8::1', 6, 0x20010db8000000000000000000000001n],
    ['2001:DB8::A', 6, 0x20010db800000000000000000000000an],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', 6, 0x20010db8000000000000000000020001n],
    ['1:2:3:4:5:6:7:8', 6, 0x00010002000300040005000600070008n],
    ['1:2:3:4:5:6:7::', 6, 0x00010002000300040005000600070000n],
    ['::1:2:3:4:5:6:7', 6, 0x00000001000200030004000500060007n],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 6, V6_MAX],
    // RFC 4291 §2.2 form 3: dotted tail = low 32 bits; mapped and compatible forms both stay family 6.
    ['::ffff:1.2.3.4', 6, 0xffff01020304n],
    ['::1.2.3.4', 6, 0x01020304n],
    ['1:2:3:4:5:6:1.2.3.4', 6, 0x00010002000300040005000601020304n],
    ['::FFFF:10.0.0.1', 6, 0xffff0a000001n],
  ])('%s → family %i', (text, family, value) => {
    const ip = parseIP(text);
    expect(ip).toEqual({ family, value });
    expect(Object.isFrozen(ip)).toBe(true);
  });
});

describe('parseIP refuses, with the exact message', () => {
  it.each<[string, string]>([
    ['', 'the text is empty'],
    ['10.0.0.300', 'octet 300 is greater than 255'],
    ['10.0.0.1000', 'octet 1000 is greater than 255'],
    ['10.1', 'an IPv4 address must have exactly four dot-separated decimal parts (got 2)'],
    ['10.0.1', 'an IPv4 address must have exactly four dot-separated decimal parts (got 3)'],
    ['167772161', 'an IPv4 address must have exactly four dot-separated decimal parts (got 1)'],
    ['10.0.0.1.5', 'an IPv4 address must have exactly four dot-separated decimal parts (got 5)'],
    ['010.0.0.1', 'IPv4 part "010" has a leading zero'],
    ['10.0.0.00', 'IPv4 part "00" has a leading zero'],
    ['0x0a.0.0.1', 'IPv4 part "0x0a" is not a decimal number (octal and hex forms are refused)'],
    ['10..0.1', 'an IPv4 address part is empty'],
    ['-1.0.0.1', 'IPv4 part "-1" is not a decimal number (octal and hex forms are refused)'],
    [' 10.0.0.1', 'leading or trailing whitespace is not allowed'],
    ['10.0.0.1\n', 'leading or trailing whitespace is not allowed'],
    ['::1 ', 'leading or trailing whitespace is not allowed'],
    ['fe80::1%eth0', 'a zone identifier ("%…") is not allowed here'],
    ['10.0.0.1%1', 'a zone identifier ("%…") is not allowed here'],
    ['12345::', 'group "12345" has more than 4 hex digits'],
    ['1::2::3', '"::" may appear only once'],
    [':::', '"::" may appear only once'],
    ['gg::1', 'only hex digits, ":" and a dotted IPv4 tail are allowed in an IPv6 address'],
    [
      '1:2:3:4:5:6:7',
      'expected an RFC 4291 IPv6 address: 8 colon-separated groups of 1–4 hex digits, or fewer with one "::"',
    ],
    [
      '1:2:3:4:5:6:7:8:9',
      'expected an RFC 4291 IPv6 address: 8 colon-separated groups of 1–4 hex digits, or fewer with one "::"',
    ],
    [
      ':1:2:3:4:5:6:7',
      'expected an RFC 4291 IPv6 address: 8 colon-separated groups of 1–4 hex digits, or fewer with one "::"',
    ],
    [
      '1:2:3:4:5:6:7:',
      'expected an RFC 4291 IPv6 address: 8 colon-separated groups of 1–4 hex digits, or fewer with one "::"',
    ],
    [
      '::0:1:2:3:4:5:6:7',
      'expected an RFC 4291 IPv6 address: 8 colon-separated groups of 1–4 hex digits, or fewer with one "::"',
    ],
    [
      '1:2:3:4:5:6:7:1.2.3.4',
      'expected an RFC 4291 IPv6 address: 8 colon-separated groups of 1–4 hex digits, or fewer with one "::"',
    ],
    ['::ffff:01.2.3.4', 'embedded IPv4 part "01.2.3.4": IPv4 part "01" has a leading zero'],
    [
      '::ffff:1.2.3',
      'embedded IPv4 part "1.2.3": an IPv4 address must have exactly four dot-separated decimal parts (got 3)',
    ],
    ['::ffff:1.2.3.256', 'embedded IPv4 part "1.2.3.256": octet 256 is greater than 255'],
    ['1.2.3.4::', 'an embedded IPv4 address is only allowed as the last 32 bits'],
    ['1.2.3.4:1::', 'an embedded IPv4 address is only allowed as the last 32 bits'],
  ])('%j: %s', (text, reason) => {
    expect(() => parseIP(text)).toThrow(new InvalidAddressError({ value: text, reason }));
    expect(tryParseIP(text)).toBeUndefined();
  });

  it('names the field, the value and the reason', () => {
    let caught: unknown;
    try {
      parseIP('10.0.0.300', 'spec.range.gateway');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidAddressError);
    const err = caught as InvalidAddressError;
    expect(err.message).toBe(
      'spec.range.gateway "10.0.0.300" is not a valid IP address: octet 300 is greater than 255',
    );
    expect(err).toMatchObject({
      field: 'spec.range.gateway',
      value: '10.0.0.300',
      reason: 'octet 300 is greater than 255',
    });
    expect(err.name).toBe('InvalidAddressError');
  });

  it('omits the field prefix when no field is given', () => {
    expect(() => parseIP('10.1')).toThrow(/^"10\.1" is not a valid IP address: an IPv4 address must have exactly four/);
  });
});

describe('formatIP / formatIPValue', () => {
  it.each<[string, string]>([
    // RFC 5952 §4 examples and rules
    ['2001:db8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3: leftmost of equal runs
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'], // §4.1 leading zeros, §4.2.1 longest run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: one zero group is not compressed
    ['2001:db8:0:0:0::1', '2001:db8::1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3: the longest run wins
    ['2001:DB8::AbCd', '2001:db8::abcd'], // §4.3 lowercase
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::1:2:3:4:5:6:7', '0:1:2:3:4:5:6:7'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'], // §5: IPv4-mapped keeps the dotted tail
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['::1.2.3.4', '::102:304'], // IPv4-compatible (deprecated) is plain hex, as in Go
    ['::fffe:1.2.3.4', '::fffe:102:304'],
    ['10.0.0.1', '10.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
  ])('%s → %s', (text, expected) => {
    expect(formatIP(parseIP(text))).toBe(expected);
  });

  // Produced once with Go 1.x `net.IP(bytes).String()` from random addresses with many zero groups
  // (math/rand seed 42); none is IPv4-mapped, where Go prints plain IPv4 instead.
  it.each<[string, string]>([
    ['00000000923e000000009b7000000000', '::923e:0:0:9b70:0:0'],
    ['000000040000000000040000882d0000', '0:4::4:0:882d:0'],
    ['00000000108e27ed000b00000000bfe8', '::108e:27ed:b:0:0:bfe8'],
    ['000d0000c3b000000009e45f33b30000', 'd:0:c3b0:0:9:e45f:33b3:0'],
    ['00003f300000000713702a9f00000000', '0:3f30:0:7:1370:2a9f::'],
    ['00000000c31e6a2b6216000000000000', '0:0:c31e:6a2b:6216::'],
    ['e3cf0000000000033c3f000000000000', 'e3cf:0:0:3:3c3f::'],
    ['00002761000014b1fd180000000006c3', '0:2761:0:14b1:fd18::6c3'],
    ['c511000065c723130000000000000000', 'c511:0:65c7:2313::'],
    ['0000d9fa40cb1f3b0000000700000004', '0:d9fa:40cb:1f3b:0:7:0:4'],
    ['0000558900000000479100000000a083', '0:5589::4791:0:0:a083'],
    ['00020000f9ee0000000056990006eedf', '2:0:f9ee::5699:6:eedf'],
    ['00000000242c00009ea10000000c0000', '::242c:0:9ea1:0:c:0'],
    ['a5d6a9910000192f000d0006000c000c', 'a5d6:a991:0:192f:d:6:c:c'],
    ['e11f00000000000021fe000c00000000', 'e11f::21fe:c:0:0'],
    ['0000ce6b000000000000000014204764', '0:ce6b::1420:4764'],
    ['000000009c9f00000009c5fa00000000', '::9c9f:0:9:c5fa:0:0'],
    ['00003a5b0000000000000000f3650000', '0:3a5b::f365:0'],
    ['000c0000000000007dddac8b0000000f', 'c::7ddd:ac8b:0:f'],
    ['000000000000000e00000000000bc8f2', '::e:0:0:b:c8f2'],
    ['0000000000000008002f000000000000', '::8:2f:0:0:0'],
    ['64fa0000000a0000000000070000cac1', '64fa:0:a::7:0:cac1'],
    ['0000b84ac58f000000019b8000000000', '0:b84a:c58f:0:1:9b80::'],
    ['00000000c5ed0000bd110001a1760000', '::c5ed:0:bd11:1:a176:0'],
  ])('%s → %s (same as Go)', (hex, expected) => {
    const value = BigInt(`0x${hex}`);
    expect(formatIPValue(6, value)).toBe(expected);
    expect(parseIP(expected).value).toBe(value);
  });

  it('round-trips IPv6 addresses above 2^63 inside a /64 exactly', () => {
    const base = 0x20010db8000100020000000000000000n; // 2001:db8:1:2::/64
    const cases: [bigint, string][] = [
      [(1n << 63n) + 5n, '2001:db8:1:2:8000::5'],
      [(1n << 63n) - 1n, '2001:db8:1:2:7fff:ffff:ffff:ffff'],
      [(1n << 64n) - 2n, '2001:db8:1:2:ffff:ffff:ffff:fffe'],
      [(1n << 64n) - 1n, '2001:db8:1:2:ffff:ffff:ffff:ffff'],
      [(1n << 63n) + 0x1234_5678_9abcn, '2001:db8:1:2:8000:1234:5678:9abc'],
      [1n << 48n, '2001:db8:1:2:1::'],
    ];
    for (const [offset, text] of cases) {
      const value = base + offset;
      expect(formatIPValue(6, value)).toBe(text);
      expect(parseIP(text)).toEqual({ family: 6, value });
    }
  });

  it('refuses values outside the family range', () => {
    expect(() => formatIPValue(4, 1n << 32n)).toThrow(AddressRangeError);
    expect(() => formatIPValue(4, -1n)).toThrow(AddressRangeError);
    expect(() => formatIPValue(6, 1n << 128n)).toThrow('is outside the IPv6 address range');
  });

  it('property: parse(format(v)) = v for any IPv4 value', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 0xffffffffn }), (value) => {
        expect(parseIP(formatIPValue(4, value))).toEqual({ family: 4, value });
      }),
      { numRuns: 2000 },
    );
  });

  it('property: parse(format(v)) = v for any IPv6 value, including sparse ones', () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    const sparse = fc
      .array(group, { minLength: 8, maxLength: 8 })
      .map((gs) => gs.reduce((v, g) => (v << 16n) | BigInt(g), 0n));
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: V6_MAX }), sparse), (value) => {
        const text = formatIPValue(6, value);
        expect(parseIP(text)).toEqual({ family: 6, value });
        // RFC 5952 shape: lowercase, no leading zeros, at most one "::", never compressing a single group.
        expect(text).toMatch(/^[0-9a-f:.]+$/);
        expect(text.split('::').length).toBeLessThanOrEqual(2);
        expect(text.split(':').every((g) => g === '' || g.includes('.') || !/^0./.test(g))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('property: every RFC 4291 spelling (padding, case, any "::") parses to the same value', () => {
    const groups = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    });
    fc.assert(
      fc.property(groups, fc.boolean(), fc.boolean(), fc.nat(), (gs, pad, upper, pick) => {
        const value = gs.reduce((v, g) => (v << 16n) | BigInt(g), 0n);
        let parts = gs.map((g) => (pad ? g.toString(16).padStart(4, '0') : g.toString(16)));
        if (upper) parts = parts.map((p) => p.toUpperCase());
        let text = parts.join(':');
        // Compress any run of zero groups (not necessarily the RFC 5952 choice).
        const runs: [number, number][] = [];
        for (let i = 0; i < 8; i++) {
          for (let j = i + 1; j <= 8 && gs.slice(i, j).every((g) => g === 0); j++) runs.push([i, j]);
        }
        const run = runs.length > 0 ? runs[pick % runs.length] : undefined;
        if (run !== undefined) text = `${parts.slice(0, run[0]).join(':')}::${parts.slice(run[1]).join(':')}`;
        expect(parseIP(text)).toEqual({ family: 6, value });
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ipv6Groups', () => {
  it('splits a value into eight 16-bit groups, most significant first', () => {
    expect(ipv6Groups(0x20010db8000000000001000000000001n)).toEqual([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]);
    expect(ipv6Groups(V6_MAX)).toEqual(Array(8).fill(0xffff));
  });
});

describe('ipFromValue', () => {
  it('builds frozen addresses and checks the range', () => {
    expect(ipFromValue(4, 0xffffffffn)).toEqual({ family: 4, value: 0xffffffffn });
    expect(Object.isFrozen(ipFromValue(6, 1n))).toBe(true);
    expect(() => ipFromValue(4, 1n << 32n)).toThrow(AddressRangeError);
    expect(() => ipFromValue(6, -1n)).toThrow(AddressRangeError);
    expect(() => ipFromValue(5 as IPFamily, 1n)).toThrow(TypeError);
  });
});

describe('familyBits / familyMax', () => {
  it('gives the width and the all-ones value', () => {
    expect(familyBits(4)).toBe(32);
    expect(familyBits(6)).toBe(128);
    expect(familyMax(4)).toBe(0xffffffffn);
    expect(familyMax(6)).toBe(V6_MAX);
  });
});

describe('compareIP', () => {
  it('orders IPv4 before IPv6, then by value', () => {
    const sorted = ['::', '0.0.0.1', '::ffff:0.0.0.0', '10.0.0.2', '10.0.0.10', '::1', '255.255.255.255']
      .map((t) => parseIP(t))
      .sort(compareIP)
      .map(formatIP);
    expect(sorted).toEqual(['0.0.0.1', '10.0.0.2', '10.0.0.10', '255.255.255.255', '::', '::1', '::ffff:0.0.0.0']);
    expect(compareIP(parseIP('10.0.0.1'), parseIP('10.0.0.1'))).toBe(0);
  });
});

describe('nextIP / prevIP', () => {
  it('steps across octet and group boundaries', () => {
    expect(formatIP(nextIP(parseIP('10.0.0.255')))).toBe('10.0.1.0');
    expect(formatIP(prevIP(parseIP('10.0.1.0')))).toBe('10.0.0.255');
    expect(formatIP(nextIP(parseIP('2001:db8::ffff')))).toBe('2001:db8::1:0');
    expect(formatIP(prevIP(parseIP('2001:db8:0:1::')))).toBe('2001:db8::ffff:ffff:ffff:ffff');
  });

  it.each<[string, 'next' | 'prev', string]>([
    ['255.255.255.255', 'next', '255.255.255.255 is the last IPv4 address: there is no next address'],
    [
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      'next',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff is the last IPv6 address: there is no next address',
    ],
    ['0.0.0.0', 'prev', '0.0.0.0 is the first IPv4 address: there is no previous address'],
    ['::', 'prev', ':: is the first IPv6 address: there is no previous address'],
  ])('%s has no %s address', (text, dir, message) => {
    const ip = parseIP(text);
    const step = dir === 'next' ? nextIP : prevIP;
    expect(() => step(ip)).toThrow(message);
    expect(() => step(ip)).toThrow(RangeError);
  });

  it('property: prev(next(x)) = x and next(prev(x)) = x', () => {
    const anyIP = fc.oneof(
      fc.bigInt({ min: 0n, max: 0xfffffffen }).map((v) => ipFromValue(4, v)),
      fc.bigInt({ min: 0n, max: V6_MAX - 1n }).map((v) => ipFromValue(6, v)),
    );
    fc.assert(
      fc.property(anyIP, (ip) => {
        const n = nextIP(ip);
        expect(compareIP(n, ip)).toBe(1);
        expect(prevIP(n)).toEqual(ip);
        expect(nextIP(prevIP(n))).toEqual(n);
      }),
      { numRuns: 2000 },
    );
  });
});
