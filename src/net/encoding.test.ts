import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidMACError,
  MAX_INT32,
  generateMAC,
  hostVethName,
  ipFromInstanceName,
  ipInstanceName,
  normalizeMAC,
  podLabelValue,
  statefulIndex,
} from './encoding.ts';
import { AddressRangeError, InvalidAddressError, ipFromValue, parseIP } from './ip.ts';

const V6_MAX = (1n << 128n) - 1n;

describe('ipInstanceName (SPEC §4.3)', () => {
  // Expected values are Go's utils.ToDNSFormat(net.ParseIP(ip)) where that yields a valid object name.
  it.each([
    ['10.0.0.1', '10-0-0-1'],
    ['192.168.100.254', '192-168-100-254'],
    ['0.0.0.0', '0-0-0-0'],
    ['234e:0:4567::5f', '234e-0-4567-0-0-0-0-5f'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001-db8-0-0-0-0-2-1'],
    ['2001:db8:0:0:1:0:0:1', '2001-db8-0-0-1-0-0-1'],
    ['2001:DB8::A', '2001-db8-0-0-0-0-0-a'],
    ['2001:db8:0:1:1:1:1:1', '2001-db8-0-1-1-1-1-1'],
    ['1:2:3:4:5:6:7::', '1-2-3-4-5-6-7-0'],
    ['::1:2:3:4:5:6:7', '0-1-2-3-4-5-6-7'],
    ['::1.2.3.4', '0-0-0-0-0-0-102-304'],
  ])('%s → %s', (text, name) => {
    const ip = parseIP(text);
    expect(ipInstanceName(ip)).toBe(name);
    expect(ipFromInstanceName(name)).toEqual(ip);
  });

  // Go expands "::" by string replacement and leaves an empty first/last group here ("-0-0-0-0-0-0-1",
  // "2001-db8-0-0-1-0-0-"), which is not a valid object name; every group is written instead.
  it.each([
    ['::1', '0-0-0-0-0-0-0-1'],
    ['::', '0-0-0-0-0-0-0-0'],
    ['2001:db8::', '2001-db8-0-0-0-0-0-0'],
    ['2001:db8:0:0:1::', '2001-db8-0-0-1-0-0-0'],
    ['::ffff:10.0.0.1', '0-0-0-0-0-ffff-a00-1'],
  ])('%s → %s (leading/trailing "::" and mapped addresses)', (text, name) => {
    expect(ipInstanceName(parseIP(text))).toBe(name);
    expect(ipFromInstanceName(name)).toEqual(parseIP(text));
  });

  it('round-trips IPv6 addresses above 2^63 inside a /64 exactly', () => {
    const base = 0x20010db8000100020000000000000000n;
    for (const [offset, name] of [
      [(1n << 63n) + 5n, '2001-db8-1-2-8000-0-0-5'],
      [(1n << 64n) - 2n, '2001-db8-1-2-ffff-ffff-ffff-fffe'],
      [(1n << 63n) + 0x1_0000_0000n, '2001-db8-1-2-8000-1-0-0'],
    ] as const) {
      const ip = ipFromValue(6, base + offset);
      expect(ipInstanceName(ip)).toBe(name);
      expect(ipFromInstanceName(name)).toEqual(ip);
    }
  });

  it('refuses out-of-range values', () => {
    expect(() => ipInstanceName({ family: 4, value: 1n << 32n })).toThrow(AddressRangeError);
    expect(() => ipInstanceName({ family: 6, value: -1n })).toThrow(AddressRangeError);
  });

  it('property: ipFromInstanceName(ipInstanceName(ip)) = ip; names are valid DNS labels', () => {
    const anyIP = fc.oneof(
      fc.bigInt({ min: 0n, max: 0xffffffffn }).map((v) => ipFromValue(4, v)),
      fc.bigInt({ min: 0n, max: V6_MAX }).map((v) => ipFromValue(6, v)),
      fc
        .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
        .map((gs) =>
          ipFromValue(
            6,
            gs.reduce((v, g) => (v << 16n) | BigInt(g), 0n),
          ),
        ),
    );
    fc.assert(
      fc.property(anyIP, (ip) => {
        const name = ipInstanceName(ip);
        expect(name).toMatch(/^[0-9a-f]([0-9a-f-]*[0-9a-f])?$/); // RFC 1123 label, as Kubernetes requires
        expect(name.length).toBeLessThanOrEqual(63);
        expect(name.split('-')).toHaveLength(ip.family === 4 ? 4 : 8);
        expect(ipFromInstanceName(name)).toEqual(ip);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ipFromInstanceName refuses, with the exact message', () => {
  it.each([
    ['', 'the name is empty'],
    ['10-0-0', 'it has 2 dash(es): an IPv4 name has 3 (a-b-c-d) and an IPv6 name has 7 (eight groups)'],
    ['2001-db8--1', 'expected four dash-separated decimal octets 0-255'], // 3 dashes ⇒ read as IPv4
    ['10-0-0-300', 'expected four dash-separated decimal octets 0-255'],
    ['10-0-0-01', 'expected four dash-separated decimal octets 0-255'],
    ['a-b-c-d', 'expected four dash-separated decimal octets 0-255'],
    ['2001-DB8-0-0-0-0-0-1', 'only digits, lowercase hex letters and dashes are allowed'],
    ['10.0.0.1', 'it has 0 dash(es): an IPv4 name has 3 (a-b-c-d) and an IPv6 name has 7 (eight groups)'],
    ['2001-db8-0-0-0-0-0-01', 'it is not in canonical form: the name of 2001:db8::1 is 2001-db8-0-0-0-0-0-1'],
    ['2001-db8-0-0-0-0-0-', 'expected eight dash-separated IPv6 groups'],
    ['-0-0-0-0-0-0-1', 'expected eight dash-separated IPv6 groups'],
    ['2001-db8-0-0-0-0-0-10000', 'expected eight dash-separated IPv6 groups'],
  ])('%j: %s', (name, reason) => {
    expect(() => ipFromInstanceName(name)).toThrow(
      new InvalidAddressError({ field: 'IPInstance name', value: name, reason }),
    );
  });

  it('names the IPInstance name in the message', () => {
    expect(() => ipFromInstanceName('10-0-0-300')).toThrow(
      'IPInstance name "10-0-0-300" is not a valid IP address: expected four dash-separated decimal octets 0-255',
    );
  });
});

describe('podLabelValue (SPEC §4.3)', () => {
  // Expected values computed independently (Python hashlib and Go crypto/md5): name[:31] + md5hex(name[31:]).
  it.each([
    ['web-' + 'x'.repeat(57) + '-12', 64, 'web-xxxxxxxxxxxxxxxxxxxxxxxxxxxf6505c0948f7a7e44a51a0e958190a18'],
    [
      'a-really-long-statefulset-name-that-keeps-going-and-going-' + 'b'.repeat(40) + '-7',
      100,
      'a-really-long-statefulset-name-18ee52eb2ba5fb769158cad4cf39ddae',
    ],
    [
      'p' +
        Array.from({ length: 23 }, (_, i) => `segment${String(i).padStart(2, '0')}`).join('-') +
        '-' +
        'z'.repeat(20) +
        '-3',
      253,
      'psegment00-segment01-segment02-f96ca6d0c631f15ff15dae811d1b5c98',
    ],
  ])('a %#-th long name (%i chars) gives its fixed 63-char value', (name, length, expected) => {
    expect(name).toHaveLength(length);
    expect(podLabelValue(name)).toBe(expected);
    expect(podLabelValue(name)).toHaveLength(63);
    expect(podLabelValue(name)).toBe(podLabelValue(name));
  });

  it('keeps names of up to 63 characters unchanged', () => {
    expect(podLabelValue('web-0')).toBe('web-0');
    expect(podLabelValue('y'.repeat(63))).toBe('y'.repeat(63));
    expect(podLabelValue('')).toBe('');
  });

  it('distinguishes long names that differ only after character 31', () => {
    const a = 'x'.repeat(40) + '-a-' + 'y'.repeat(30);
    const b = 'x'.repeat(40) + '-b-' + 'y'.repeat(30);
    expect(podLabelValue(a)).not.toBe(podLabelValue(b));
    expect(podLabelValue(a).slice(0, 31)).toBe(podLabelValue(b).slice(0, 31));
  });
});

describe('statefulIndex (SPEC §2.3, §4.3; Go strconv.Atoi limited to int32)', () => {
  it.each([
    ['web-0', 0],
    ['web-12', 12],
    ['web-007', 7],
    ['my-db-3', 3],
    ['web-+5', 5],
    ['web-2147483647', 2147483647],
    ['5', 5],
    ['web', MAX_INT32],
    ['web-x', MAX_INT32],
    ['web-', MAX_INT32],
    ['web-+', MAX_INT32],
    ['web-1_000', MAX_INT32],
    ['web-1e3', MAX_INT32],
    ['web- 1', MAX_INT32],
    ['web-0x10', MAX_INT32],
    ['web-99999999999', MAX_INT32],
    ['web-2147483648', MAX_INT32],
    ['web-' + '9'.repeat(400), MAX_INT32],
    ['web-٣', MAX_INT32], // non-ASCII digit
  ])('%s → %i', (name, expected) => {
    expect(statefulIndex(name)).toBe(expected);
  });

  it('MAX_INT32 is 2^31 − 1', () => {
    expect(MAX_INT32).toBe(2 ** 31 - 1);
  });
});

describe('hostVethName (SPEC §4.3, §7.2)', () => {
  // Expected values computed with Go crypto/sha1 and Python hashlib.
  it.each([
    ['default', 'web-0', 'hybr0d7763386da'],
    ['kube-system', 'coredns-5d78c9869d-abcde', 'hybr4d5f75c480c'],
  ])('%s/%s → %s', (ns, pod, expected) => {
    expect(hostVethName(ns, pod)).toBe(expected);
    expect(hostVethName(ns, pod)).toHaveLength(15);
  });

  it('depends on the namespace and the pod name', () => {
    expect(hostVethName('a', 'b.c')).toBe(hostVethName('a.b', 'c')); // same "<ns>.<pod>" input, as in the original
    expect(hostVethName('default', 'web-1')).not.toBe(hostVethName('default', 'web-0'));
  });
});

describe('generateMAC', () => {
  it('uses the 02:12:34 prefix and the first three random bytes, lowercase', () => {
    const calls: number[] = [];
    const mac = generateMAC((n) => {
      calls.push(n);
      return new Uint8Array([0x0a, 0xbc, 0xff, 0x99]);
    });
    expect(mac).toBe('02:12:34:0a:bc:ff');
    expect(calls).toEqual([3]);
    expect(generateMAC(() => new Uint8Array([0, 0, 0]))).toBe('02:12:34:00:00:00');
  });

  it('refuses a short random source', () => {
    expect(() => generateMAC(() => new Uint8Array(2))).toThrow(RangeError);
  });

  it('property: output is a normalised MAC with the fixed prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 3, maxLength: 3 }), (bytes) => {
        const mac = generateMAC(() => bytes);
        expect(mac).toMatch(/^02:12:34(:[0-9a-f]{2}){3}$/);
        expect(normalizeMAC(mac)).toBe(mac);
      }),
    );
  });
});

describe('normalizeMAC (Go net.ParseMAC, 48-bit only)', () => {
  it.each([
    ['01:23:45:67:89:ab', '01:23:45:67:89:ab'],
    ['01:23:45:67:89:AB', '01:23:45:67:89:ab'],
    ['01-23-45-67-89-ab', '01:23:45:67:89:ab'],
    ['0123.4567.89AB', '01:23:45:67:89:ab'],
    ['00:00:00:00:00:00', '00:00:00:00:00:00'],
    ['FF-FF-FF-FF-FF-FF', 'ff:ff:ff:ff:ff:ff'],
  ])('%s → %s', (text, expected) => {
    expect(normalizeMAC(text)).toBe(expected);
  });

  const general = 'expected six hex octets as 01:23:45:67:89:ab, 01-23-45-67-89-ab or 0123.4567.89ab';
  it.each([
    ['', 'the text is empty'],
    [' 01:23:45:67:89:ab', 'leading or trailing whitespace is not allowed'],
    ['01:23-45:67:89:ab', general], // mixed separators (Go refuses too)
    ['1:23:45:67:89:ab', general], // one-digit group (Go refuses too)
    ['0123:4567:89ab', general],
    ['01.23.45.67.89.ab', general],
    ['01:23:45:67:89', general],
    ['01:23:45:67:89:gg', general],
    ['0123456789ab', general],
    [
      '01:23:45:67:89:ab:cd:ef',
      'it is an 8-octet EUI-64 hardware address; a pod interface needs a 48-bit Ethernet MAC such as 02:12:34:56:78:9a',
    ],
    [
      '0123.4567.89ab.cdef',
      'it is an 8-octet EUI-64 hardware address; a pod interface needs a 48-bit Ethernet MAC such as 02:12:34:56:78:9a',
    ],
    [
      Array.from({ length: 20 }, (_, i) => i.toString(16).padStart(2, '0')).join('-'),
      'it is a 20-octet IP-over-InfiniBand hardware address; a pod interface needs a 48-bit Ethernet MAC such as 02:12:34:56:78:9a',
    ],
  ])('%j: %s', (text, reason) => {
    expect(() => normalizeMAC(text, 'mac-pool[0]')).toThrow(
      new InvalidMACError({ field: 'mac-pool[0]', value: text, reason }),
    );
  });

  it('names the field, the value and the reason', () => {
    expect(() => normalizeMAC('zz', 'metadata.annotations[networking.alibaba.com/mac-pool]')).toThrow(
      `metadata.annotations[networking.alibaba.com/mac-pool] "zz" is not a valid MAC address: ${general}`,
    );
  });

  it('property: every accepted spelling of six bytes normalises to the same lowercase colon form', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        fc.constantFrom(':', '-', '.'),
        fc.boolean(),
        (b, sep, up) => {
          const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0'));
          const expected = hex.join(':');
          let text = sep === '.' ? [0, 2, 4].map((i) => hex[i]! + hex[i + 1]!).join('.') : hex.join(sep);
          if (up) text = text.toUpperCase();
          expect(normalizeMAC(text)).toBe(expected);
        },
      ),
    );
  });
});
