import { describe, expect, it } from 'vitest';
import { formatIPValue, ipFromInstanceName, parseIP } from '../net/index.ts';
import { canonicalizeSubnet } from './canonical-subnet.ts';
import { InvalidSubnetError } from './errors.ts';
import { subnetObject } from './fixtures.ts';
import { HolderTable } from './holders.ts';
import { type HolderInput, SubnetState } from './subnet.ts';
import type { IPAMAddressRange } from './types.ts';

type Range = Omit<IPAMAddressRange, 'version'>;

const v = (text: string): bigint => parseIP(text).value;

function build(
  range: Range,
  options: { instances?: [string, string?][]; lastAllocatedIP?: string; private?: boolean } = {},
): { subnet: SubnetState; rejected: [string, string][] } {
  const spec = canonicalizeSubnet(
    subnetObject('s', 'n', range, {
      ...(options.lastAllocatedIP === undefined ? {} : { lastAllocatedIP: options.lastAllocatedIP }),
      ...(options.private === undefined ? {} : { private: options.private }),
    }),
    7,
  );
  const inputs: HolderInput[] = (options.instances ?? []).map(([ip, node]) => ({
    value: v(ip),
    namespace: 'ns',
    podName: `pod-${ip}`,
    podUID: '',
    nodeName: node ?? 'node-1',
  }));
  const rejected: [string, string][] = [];
  const subnet = SubnetState.build(spec, new HolderTable(), inputs, (input, reason) =>
    rejected.push([formatIPValue(spec.family, input.value), reason]),
  );
  return { subnet, rejected };
}

function drain(subnet: SubnetState): string[] {
  const out: string[] = [];
  for (;;) {
    const value = subnet.allocateNext('ns', `p${out.length}`, '', 'node-1');
    if (value === undefined) return out;
    out.push(formatIPValue(subnet.family, value));
  }
}

describe('canonicalizeSubnet (SPEC §4.1 steps 1–3)', () => {
  const canon = (range: Range & { version?: '4' | '6' }, netID: number | null = null) =>
    canonicalizeSubnet(subnetObject('s', 'n', range), netID);

  it('defaults start to network+1 and end to broadcast−1 (IPv4) or the all-ones address (IPv6)', () => {
    const c4 = canon({ cidr: '10.0.0.0/24' });
    expect([formatIPValue(4, c4.start), formatIPValue(4, c4.end)]).toEqual(['10.0.0.1', '10.0.0.254']);
    const c6 = canon({ cidr: 'fd00::/64' });
    expect([formatIPValue(6, c6.start), formatIPValue(6, c6.end)]).toEqual(['fd00::1', 'fd00::ffff:ffff:ffff:ffff']);
  });

  it('treats empty gateway/start/end strings as absent', () => {
    const c = canon({ cidr: '10.0.0.0/24', gateway: '', start: '', end: '' });
    expect(c.gateway).toBeUndefined();
    expect(c.start).toBe(v('10.0.0.1'));
  });

  it.each([
    ['/31 is too small', { cidr: '10.0.0.0/31' }, 'too small to allocate from'],
    ['/127 is too small', { cidr: 'fd00::/127' }, 'too small to allocate from'],
    ['/32 is too small', { cidr: '10.0.0.1/32' }, 'too small to allocate from'],
    ['host bits', { cidr: '10.0.0.1/24' }, 'the network is 10.0.0.0/24'],
    ['version mismatch', { cidr: '10.0.0.0/24', version: '6' as const }, 'is IPv4 but the range version is "6"'],
    ['gateway outside', { cidr: '10.0.0.0/24', gateway: '10.0.1.1' }, 'spec.range.gateway: 10.0.1.1 not in CIDR'],
    ['start outside', { cidr: '10.0.0.0/24', start: '10.0.1.1' }, 'spec.range.start: 10.0.1.1 not in CIDR'],
    ['end outside', { cidr: '10.0.0.0/24', end: '9.0.0.1' }, 'spec.range.end: 9.0.0.1 not in CIDR'],
    ['excludeIP outside', { cidr: '10.0.0.0/24', excludeIPs: ['10.0.0.3', '10.9.0.1'] }, 'excludeIPs[1]'],
    ['reservedIP of the other family', { cidr: '10.0.0.0/24', reservedIPs: ['fd00::1'] }, 'not an IPv4 address'],
    ['unparsable gateway', { cidr: '10.0.0.0/24', gateway: '10.0.0.300' }, 'spec.range.gateway "10.0.0.300"'],
  ])('refuses %s', (_name, range, message) => {
    expect(() => canon(range)).toThrow(InvalidSubnetError);
    expect(() => canon(range)).toThrow(message);
  });

  it('accepts /30 and /126, the smallest allocatable prefixes', () => {
    expect(canon({ cidr: '10.0.0.0/30' }).cidr.prefixLength).toBe(30);
    expect(canon({ cidr: 'fd00::/126' }).cidr.prefixLength).toBe(126);
  });

  it('refuses an empty name or parent network', () => {
    expect(() => canonicalizeSubnet(subnetObject('', 'n', { cidr: '10.0.0.0/24' }), null)).toThrow('name');
    expect(() => canonicalizeSubnet(subnetObject('s', '', { cidr: '10.0.0.0/24' }), null)).toThrow(
      'must have parent network',
    );
  });

  it('inherits the network netID only when the subnet has none (0 is a netID)', () => {
    expect(canonicalizeSubnet(subnetObject('s', 'n', { cidr: '10.0.0.0/24' }), 30).netID).toBe(30);
    expect(canonicalizeSubnet(subnetObject('s', 'n', { cidr: '10.0.0.0/24' }, { netID: 0 }), 30).netID).toBe(0);
    expect(canonicalizeSubnet(subnetObject('s', 'n', { cidr: '10.0.0.0/24' }), null).netID).toBeNull();
  });
});

describe('SubnetState (SPEC §4.1 steps 4–8, §4.2 AllocateNext)', () => {
  it('contains(ip) = in [start,end] ∧ ≠ gateway ∧ ∉ excludeIPs; reservedIPs are contained but not allocatable', () => {
    const { subnet } = build({
      cidr: '10.0.0.0/24',
      gateway: '10.0.0.1',
      start: '10.0.0.1',
      end: '10.0.0.100',
      excludeIPs: ['10.0.0.5'],
      reservedIPs: ['10.0.0.6'],
    });
    expect(subnet.contains(v('10.0.0.1'))).toBe(false);
    expect(subnet.contains(v('10.0.0.5'))).toBe(false);
    expect(subnet.contains(v('10.0.0.101'))).toBe(false);
    expect(subnet.contains(v('10.0.0.0'))).toBe(false);
    expect(subnet.contains(v('10.0.0.6'))).toBe(true);
    expect(subnet.isAllocatable(v('10.0.0.6'))).toBe(false);
    expect(subnet.contains(v('10.0.0.2'))).toBe(true);
  });

  it('total counts only really allocatable addresses (D9: excludeIPs outside [start,end] do not reduce it)', () => {
    const { subnet } = build({
      cidr: '10.0.0.0/24',
      gateway: '10.0.0.1',
      // .5 .6 and .250 are in range; .255 (broadcast) is outside the default end; .5 is listed twice.
      excludeIPs: ['10.0.0.5', '10.0.0.6', '10.0.0.250', '10.0.0.255', '10.0.0.5'],
      // .5 is excluded (so not a reservedIP for the IPAM), .1 is the gateway, .7 .8 count.
      reservedIPs: ['10.0.0.7', '10.0.0.8', '10.0.0.5', '10.0.0.1'],
    });
    expect(subnet.reserved).toEqual(new Set([v('10.0.0.7'), v('10.0.0.8')]));
    // 254 in range − gateway − 3 excluded in range − 2 reserved.
    expect(subnet.usage()).toMatchObject({ total: 248n, used: 0n, available: 248n, isAvailable: true });
  });

  it('excluded, gateway and reserved addresses are never returned by allocateNext', () => {
    const { subnet } = build({
      cidr: '10.0.0.0/28',
      gateway: '10.0.0.2',
      excludeIPs: ['10.0.0.4', '10.0.0.14'],
      reservedIPs: ['10.0.0.5', '10.0.0.6'],
    });
    const got = drain(subnet);
    expect(got).toEqual(['1', '3', '7', '8', '9', '10', '11', '12', '13'].map((x) => `10.0.0.${x}`));
    expect(subnet.usage()).toMatchObject({ total: 9n, used: 9n, available: 0n, isAvailable: false });
  });

  it('start > end gives zero capacity and no address', () => {
    const { subnet } = build({ cidr: '10.0.0.0/24', start: '10.0.0.50', end: '10.0.0.40' });
    expect(subnet.usage()).toMatchObject({ total: 0n, used: 0n, available: 0n, isAvailable: false });
    expect(subnet.allocateNext('ns', 'p', '', 'node-1')).toBeUndefined();
    expect(subnet.notContainedReason(v('10.0.0.45'))).toContain('its range start 10.0.0.50 is after end 10.0.0.40');
  });

  it('start == end gives exactly one address', () => {
    const { subnet } = build({ cidr: 'fd00::/64', start: 'fd00::7', end: 'fd00::7' });
    expect(subnet.total).toBe(1n);
    expect(drain(subnet)).toEqual(['fd00::7']);
  });

  it('is next-fit: a released address is reused only after the cursor wraps', () => {
    const { subnet } = build({ cidr: '10.0.0.0/29' }); // .1 … .6
    expect(drain(subnet).length).toBe(6);
    subnet.release(v('10.0.0.2'));
    subnet.release(v('10.0.0.5'));
    // Cursor is on .6: the next search starts after it and wraps to the first free address.
    expect(formatIPValue(4, subnet.allocateNext('ns', 'x', '', 'n')!)).toBe('10.0.0.2');
    expect(formatIPValue(4, subnet.allocateNext('ns', 'y', '', 'n')!)).toBe('10.0.0.5');
    expect(subnet.usage().lastAllocatedIP).toBe('10.0.0.5');
  });

  it.each([
    ['a valid lastAllocatedIP resumes right after it', '10.0.0.3', '10.0.0.4'],
    ['an excluded lastAllocatedIP restarts from the beginning', '10.0.0.5', '10.0.0.1'],
    ['a reservedIP lastAllocatedIP restarts from the beginning', '10.0.0.6', '10.0.0.1'],
    ['an out-of-range lastAllocatedIP restarts from the beginning', '10.0.1.3', '10.0.0.1'],
    ['an IPv6 lastAllocatedIP restarts from the beginning', 'fd00::3', '10.0.0.1'],
    ['garbage restarts from the beginning', 'not-an-ip', '10.0.0.1'],
    ['the last address wraps to the first', '10.0.0.254', '10.0.0.1'],
  ])('after a rebuild %s', (_name, last, expected) => {
    const { subnet } = build(
      { cidr: '10.0.0.0/24', excludeIPs: ['10.0.0.5'], reservedIPs: ['10.0.0.6'] },
      { lastAllocatedIP: last },
    );
    expect(formatIPValue(4, subnet.allocateNext('ns', 'p', '', 'n')!)).toBe(expected);
  });

  it('resumes after lastAllocatedIP even when that address is held, skipping held ones', () => {
    const { subnet } = build(
      { cidr: '10.0.0.0/24' },
      { lastAllocatedIP: '10.0.0.3', instances: [['10.0.0.3'], ['10.0.0.4'], ['10.0.0.5', '']] },
    );
    expect(subnet.usage().lastAllocatedIP).toBe('10.0.0.3');
    expect(formatIPValue(4, subnet.allocateNext('ns', 'p', '', 'n')!)).toBe('10.0.0.6');
  });

  it('allocates above the 2^63 offset of a /64; the address and its IPInstance name round-trip exactly', () => {
    const { subnet } = build({ cidr: 'fd00:1:2:3::/64', start: 'fd00:1:2:3:8000::fffe', gateway: 'fd00:1:2:3::1' });
    const first = subnet.allocateNext('ns', 'p', '', 'node-1')!;
    expect(first - v('fd00:1:2:3::')).toBe((1n << 63n) + 0xfffen);
    const r = subnet.result(first);
    expect(r.ip).toBe('fd00:1:2:3:8000::fffe');
    expect(r.address).toBe('fd00:1:2:3:8000::fffe/64');
    expect(r.ipInstanceName).toBe('fd00-1-2-3-8000-0-0-fffe');
    expect(ipFromInstanceName(r.ipInstanceName).value).toBe(first);
    expect(parseIP(r.ip).value).toBe(first);
    const second = subnet.result(subnet.allocateNext('ns', 'q', '', 'node-1')!);
    expect(second.ip).toBe('fd00:1:2:3:8000::ffff');
    expect(subnet.total).toBe((1n << 63n) - 0xfffen);
  });

  it('a /8 and a /64 are built without enumerating them (a few free intervals)', { timeout: 2000 }, () => {
    const v4 = build({ cidr: '10.0.0.0/8', gateway: '10.0.0.1', excludeIPs: ['10.200.0.1'] }).subnet;
    expect(v4.total).toBe((1n << 24n) - 2n - 2n);
    expect(v4.freeIntervalCount).toBe(2); // the gateway is the first address; one split at the excludeIP
    const v6 = build({ cidr: 'fd00::/64', reservedIPs: ['fd00::ffff'] }).subnet;
    expect(v6.total).toBe((1n << 64n) - 1n - 1n);
    expect(v6.freeIntervalCount).toBe(2);
    expect(v6.usage().available).toBe((1n << 64n) - 2n);
  });

  it('keeps instances that pass contains and reports the others', () => {
    const { subnet, rejected } = build(
      { cidr: '10.0.0.0/24', gateway: '10.0.0.1', excludeIPs: ['10.0.0.9'], reservedIPs: ['10.0.0.7'] },
      {
        instances: [
          ['10.0.0.2'],
          ['10.0.0.3', ''], // Reserved (retained stateful IP): counts as used
          ['10.0.0.7'], // on a reservedIP (forced assignment): not counted
          ['10.0.0.1'], // gateway
          ['10.0.0.9'], // excluded
          ['10.0.0.255'], // broadcast, outside [start,end]
          ['10.0.0.2'], // duplicate
        ],
      },
    );
    expect(rejected).toEqual([
      ['10.0.0.1', 'not-allocatable'],
      ['10.0.0.9', 'not-allocatable'],
      ['10.0.0.255', 'not-allocatable'],
      ['10.0.0.2', 'duplicate'],
    ]);
    // 254 − gateway − excluded − reserved = 251; used = .2 and .3.
    expect(subnet.usage()).toMatchObject({ total: 251n, used: 2n, available: 249n });
    expect(subnet.freeCount).toBe(249n);
    expect(subnet.heldCount).toBe(3);
  });

  it('a reservedIP held by force counts in neither total nor used; releasing it makes it a bare reservedIP', () => {
    const { subnet } = build({ cidr: '10.0.0.0/29', reservedIPs: ['10.0.0.3'] });
    const before = subnet.usage();
    expect(subnet.checkAssign(v('10.0.0.3'), 'ns', 'p', false)).toMatchObject({ ok: false, kind: 'not-available' });
    expect(subnet.checkAssign(v('10.0.0.3'), 'ns', 'p', true)).toEqual({ ok: true });
    subnet.assign(v('10.0.0.3'), 'ns', 'p', 'uid', 'node-1');
    expect(subnet.usage()).toEqual(before);
    expect(subnet.release(v('10.0.0.3'))).toBe(true);
    expect(subnet.holderOf(v('10.0.0.3'))).toBeUndefined();
    expect(subnet.isFree(v('10.0.0.3'))).toBe(false);
    expect(subnet.usage()).toEqual(before);
    expect(drain(subnet)).not.toContain('10.0.0.3');
  });
});
