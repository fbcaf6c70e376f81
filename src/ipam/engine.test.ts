import { describe, expect, it } from 'vitest';
import { IPAMEngine } from './engine.ts';
import {
  AssignedIPNotAvailableError,
  AssignedIPNotInSubnetError,
  InvalidRequestError,
  NetworkNotFoundError,
  NoAvailableIPError,
  NoAvailableSubnetError,
  SubnetNotFoundError,
} from './errors.ts';
import { instanceObject, networkObject, pod, subnetObject } from './fixtures.ts';
import type { IPAMInstanceObject, IPAMNetworkObject, IPAMSubnetObject } from './types.ts';

/** Network "net" with: v4 a (/30: .1 .2), v4 b (/29), v4 p (private), v6 c, v6 d (/126: ::1 ::2 ::3). */
function setup(
  options: {
    network?: IPAMNetworkObject;
    subnets?: IPAMSubnetObject[];
    instances?: IPAMInstanceObject[];
  } = {},
): IPAMEngine {
  const engine = new IPAMEngine();
  const report = engine.rebuild(
    [options.network ?? networkObject('net', { netID: 100 })],
    options.subnets ?? [
      subnetObject('b', 'net', { cidr: '10.0.1.0/29', gateway: '10.0.1.1' }),
      subnetObject('a', 'net', { cidr: '10.0.0.0/30' }, { netID: 7 }),
      subnetObject('p', 'net', { cidr: '10.0.9.0/24' }, { private: true }),
      subnetObject('c', 'net', { cidr: 'fd00:c::/64', gateway: 'fd00:c::1' }),
      subnetObject('d', 'net', { cidr: 'fd00:d::/126' }),
      subnetObject('other', 'elsewhere', { cidr: '10.9.0.0/24' }),
    ],
    options.instances ?? [],
  );
  expect(report.failed).toEqual([]);
  return engine;
}

const ips = (results: { ip: string }[]): string[] => results.map((r) => r.ip);

describe('allocate (SPEC §4.2)', () => {
  it('returns everything an IPInstance needs', () => {
    const engine = setup();
    const [r] = engine.allocate('net', pod('p1'), 'IPv4Only');
    expect(r).toEqual({
      network: 'net',
      subnet: 'a',
      family: 4,
      version: '4',
      ip: '10.0.0.1',
      value: 0x0a000001n,
      cidr: '10.0.0.0/30',
      prefixLength: 30,
      address: '10.0.0.1/30',
      netID: 7,
      ipInstanceName: '10-0-0-1',
    });
    const [b] = engine.allocate('net', pod('p2'), 'IPv4Only', ['b']);
    expect(b).toMatchObject({ subnet: 'b', ip: '10.0.1.2', gateway: '10.0.1.1', netID: 100 });
  });

  it('fills subnets one after another (fill-first cursor per family, name order)', () => {
    const engine = setup();
    const got = [1, 2, 3, 4].map((i) => engine.allocate('net', pod(`p${i}`), 'IPv4Only')[0]!);
    expect(got.map((r) => `${r.subnet}:${r.ip}`)).toEqual(['a:10.0.0.1', 'a:10.0.0.2', 'b:10.0.1.2', 'b:10.0.1.3']);
    const usage = engine.networkUsage('net');
    expect(usage.ipv4.lastAllocatedSubnet).toBe('b');
    expect(usage.ipv6.lastAllocatedSubnet).toBe('c'); // independent cursor, untouched
    engine.allocate('net', pod('v6'), 'IPv6Only');
    expect(engine.networkUsage('net').ipv6.lastAllocatedSubnet).toBe('c');
  });

  it('starts the fill-first search at status.lastAllocatedSubnet and wraps around', () => {
    const engine = setup({ network: networkObject('net', { lastAllocatedSubnet: 'b', lastAllocatedIPv6Subnet: 'd' }) });
    expect(engine.allocate('net', pod('x'), 'IPv4Only')[0]!.subnet).toBe('b');
    expect(engine.allocate('net', pod('y'), 'IPv6Only')[0]!.subnet).toBe('d');
    for (let i = 0; i < 4; i++) engine.allocate('net', pod(`fill${i}`), 'IPv4Only'); // b has 5 addresses
    expect(engine.allocate('net', pod('z'), 'IPv4Only')[0]!.subnet).toBe('a');
    expect(engine.networkUsage('net').ipv4.lastAllocatedSubnet).toBe('a');
  });

  it('never picks a private subnet automatically, but allocates from it when specified', () => {
    const engine = setup({
      subnets: [
        subnetObject('a', 'net', { cidr: '10.0.0.0/30' }, { private: true }),
        subnetObject('b', 'net', { cidr: '10.0.1.0/30' }),
      ],
    });
    expect(engine.allocate('net', pod('x'), 'IPv4Only')[0]!.subnet).toBe('b');
    expect(engine.allocate('net', pod('y'), 'IPv4Only', ['a'])[0]!.subnet).toBe('a');
    engine.allocate('net', pod('z'), 'IPv4Only');
    expect(() => engine.allocate('net', pod('w'), 'IPv4Only')).toThrow(
      'no available subnet for IPv4 in network "net" (subnets: a, b; all full or private)',
    );
  });

  it('reports a network without subnets of the family', () => {
    const engine = setup({ subnets: [subnetObject('a', 'net', { cidr: '10.0.0.0/30' })] });
    const err = (() => {
      try {
        engine.allocate('net', pod('x'), 'IPv6Only');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(NoAvailableSubnetError);
    expect(err).toMatchObject({ network: 'net', family: 6 });
    expect(String(err)).toContain('(the network has no IPv6 subnet)');
  });

  it.each([
    ['an unknown subnet', 'IPv4Only' as const, ['zz'], SubnetNotFoundError, 'no IPv4 subnet "zz" in network "net"'],
    ['a subnet of the other family', 'IPv4Only' as const, ['c'], SubnetNotFoundError, '"c" is an IPv6 subnet'],
    ['a subnet of another network', 'IPv4Only' as const, ['other'], SubnetNotFoundError, 'IPv4 subnets: a, b, p'],
    ['two subnets for one family', 'IPv6Only' as const, ['c', 'd'], InvalidRequestError, 'only support one specified'],
    [
      'one subnet for DualStack',
      'DualStack' as const,
      ['a'],
      InvalidRequestError,
      'only support two assigned subnets when DualStack family, but [a]',
    ],
    [
      'three subnets for DualStack',
      'DualStack' as const,
      ['a', 'c', 'd'],
      InvalidRequestError,
      'only support two assigned subnets',
    ],
    ['DualStack subnets in the wrong order', 'DualStack' as const, ['c', 'a'], SubnetNotFoundError, 'IPv6 subnet'],
    ['DualStack with two IPv4 subnets', 'DualStack' as const, ['a', 'b'], SubnetNotFoundError, 'no IPv6 subnet "b"'],
  ])('refuses %s', (_name, family, subnets, type, message) => {
    const engine = setup();
    const before = engine.snapshot();
    expect(() => engine.allocate('net', pod('x'), family, subnets)).toThrow(type);
    expect(() => engine.allocate('net', pod('x'), family, subnets)).toThrow(message);
    expect(engine.snapshot()).toEqual(before);
  });

  it.each([
    ['empty pod name', pod(''), 'IPv4Only', 'pod name must not be empty'],
    ['empty namespace', pod('x', { namespace: '' }), 'IPv4Only', 'pod namespace must not be empty'],
    ['empty node', pod('x', { nodeName: '' }), 'IPv4Only', 'pod nodeName must not be empty'],
    ['unknown family', pod('x'), 'IPv5', 'unsupported ip family "IPv5"'],
  ])('validates the request: %s', (_name, p, family, message) => {
    const engine = setup();
    // @ts-expect-error -- deliberately wrong family text in one row
    expect(() => engine.allocate('net', p, family)).toThrow(message);
  });

  it('names the network when it is unknown', () => {
    expect(() => setup().allocate('nope', pod('x'), 'IPv4Only')).toThrow(NetworkNotFoundError);
  });

  it('gives a clear no-available-IP error for a full specified subnet', () => {
    const engine = setup();
    engine.allocate('net', pod('x'), 'IPv4Only', ['a']);
    engine.allocate('net', pod('y'), 'IPv4Only', ['a']);
    expect(() => engine.allocate('net', pod('z'), 'IPv4Only', ['a'])).toThrow(NoAvailableIPError);
    expect(() => engine.allocate('net', pod('z'), 'IPv4Only', ['a'])).toThrow(
      'no available IPv4 address in subnet "a" of network "net" (all 2 allocatable addresses are in use)',
    );
  });

  it('explains start > end on allocation', () => {
    const engine = setup({
      subnets: [subnetObject('a', 'net', { cidr: '10.0.0.0/24', start: '10.0.0.9', end: '10.0.0.8' })],
    });
    expect(() => engine.allocate('net', pod('x'), 'IPv4Only', ['a'])).toThrow(
      'its range start 10.0.0.9 is after its end 10.0.0.8: it has no allocatable address',
    );
    expect(() => engine.allocate('net', pod('x'), 'IPv4Only')).toThrow(NoAvailableSubnetError);
  });

  it('DualStack without subnets picks an IPv4 and an IPv6 subnet independently, IPv4 first', () => {
    const engine = setup();
    const r = engine.allocate('net', pod('x'), 'DualStack');
    expect(r.map((x) => `${x.subnet}:${x.address}`)).toEqual(['a:10.0.0.1/30', 'c:fd00:c::2/64']);
    const named = engine.allocate('net', pod('y'), 'DualStack', ['b', 'd']);
    expect(ips(named)).toEqual(['10.0.1.2', 'fd00:d::1']);
    // An empty name means "choose automatically" for that family, as in Go.
    expect(engine.allocate('net', pod('z'), 'DualStack', ['', 'd']).map((x) => x.subnet)).toEqual(['a', 'd']);
  });

  it('a failed DualStack allocation leaves no trace: IPv4 address, IPv4 cursor and slice cursors roll back', () => {
    const engine = setup();
    for (let i = 0; i < 3; i++) engine.allocate('net', pod(`d${i}`), 'IPv6Only', ['d']); // d is now full
    engine.allocate('net', pod('a1'), 'IPv4Only', ['a']);
    engine.allocate('net', pod('a2'), 'IPv4Only', ['a']); // a full: the v4 cursor is on a, b has room
    const before = engine.snapshot();
    expect(() => engine.allocate('net', pod('x'), 'DualStack', ['b', 'd'])).toThrow(NoAvailableIPError);
    expect(engine.snapshot()).toEqual(before);
    expect(engine.networkUsage('net').ipv4.lastAllocatedSubnet).toBe('a');
    // The v6 side has no available subnet at all when c is private: the v4 slice cursor must not stay on b.
    const engine2 = setup({
      subnets: [
        subnetObject('a', 'net', { cidr: '10.0.0.0/30' }),
        subnetObject('b', 'net', { cidr: '10.0.1.0/30' }),
        subnetObject('c', 'net', { cidr: 'fd00::/126' }, { private: true }),
      ],
    });
    engine2.allocate('net', pod('a1'), 'IPv4Only');
    engine2.allocate('net', pod('a2'), 'IPv4Only');
    const before2 = engine2.snapshot();
    expect(() => engine2.allocate('net', pod('x'), 'DualStack')).toThrow('no available subnet for IPv6');
    expect(engine2.snapshot()).toEqual(before2);
    expect(engine2.networkUsage('net').ipv4.lastAllocatedSubnet).toBe('a');
  });
});

describe('assign (SPEC §4.2)', () => {
  const instances = [
    instanceObject('net', 'b', '10.0.1.3', 29, { namespace: 'ns', name: 'web-0', nodeName: 'node-1' }),
    instanceObject('net', 'b', '10.0.1.4', 29, { namespace: 'ns', name: 'web-1', nodeName: '' }), // Reserved
  ];
  const withReserved = (): IPAMEngine =>
    setup({
      subnets: [
        subnetObject('b', 'net', { cidr: '10.0.1.0/29', gateway: '10.0.1.1', reservedIPs: ['10.0.1.6'] }),
        subnetObject('p', 'net', { cidr: '10.0.9.0/24' }, { private: true }),
        subnetObject('c', 'net', { cidr: 'fd00:c::/64', excludeIPs: ['fd00:c::9'] }),
      ],
      instances,
    });
  const holder = (engine: IPAMEngine, ip: string) =>
    engine.snapshot().instances.find((i) => i.spec.address.ip.startsWith(`${ip}/`));

  it('takes a free address, finding its subnet by IP (private subnets included)', () => {
    const engine = withReserved();
    expect(engine.assign('net', pod('x'), 'IPv4Only', [{ ip: '10.0.9.77' }], false)[0]).toMatchObject({
      subnet: 'p',
      address: '10.0.9.77/24',
    });
    expect(engine.assign('net', pod('y'), 'IPv4Only', [{ subnet: 'b', ip: '10.0.1.2' }], false)[0]!.subnet).toBe('b');
    expect(engine.networkUsage('net').ipv4.lastAllocatedSubnet).toBe('b'); // cursors never move on assign
    expect(engine.subnetUsage('net', 'p').lastAllocatedIP).toBe('');
  });

  it.each([
    ['the gateway', 'b', '10.0.1.1', 'is the gateway of subnet "b"'],
    ['the broadcast', 'b', '10.0.1.7', 'is outside the allocatable range 10.0.1.1–10.0.1.6'],
    ['an address of no subnet', undefined, '10.7.7.7', 'any IPv4 subnet of network "net" (subnets: b, p)'],
  ])('refuses %s with assigned-ip-not-in-subnet', (_name, subnet, ip, message) => {
    const engine = withReserved();
    const suite = subnet === undefined ? { ip } : { subnet, ip };
    expect(() => engine.assign('net', pod('x'), 'IPv4Only', [suite], true)).toThrow(AssignedIPNotInSubnetError);
    expect(() => engine.assign('net', pod('x'), 'IPv4Only', [suite], true)).toThrow(`assigned ip not found: ${ip}`);
    expect(() => engine.assign('net', pod('x'), 'IPv4Only', [suite], true)).toThrow(message);
  });

  it('refuses an excluded IPv6 address', () => {
    expect(() => withReserved().assign('net', pod('x'), 'IPv6Only', [{ ip: 'fd00:c::9' }], true)).toThrow(
      AssignedIPNotInSubnetError,
    );
  });

  it('re-marks an address held by the same namespace and pod name as Allocated to the new pod', () => {
    const engine = withReserved();
    const p = pod('web-1', { namespace: 'ns', nodeName: 'node-2', uid: 'new-uid' });
    engine.assign('net', p, 'IPv4Only', [{ ip: '10.0.1.4' }], false);
    expect(holder(engine, '10.0.1.4')!.spec.binding).toEqual({
      nodeName: 'node-2',
      podName: 'web-1',
      podUID: 'new-uid',
    });
    // Allocated to the same pod: assigning again is fine too (idempotent).
    engine.assign('net', p, 'IPv4Only', [{ ip: '10.0.1.4' }], false);
  });

  it('takes a Reserved address of another pod only by force, never an Allocated one', () => {
    const engine = withReserved();
    expect(() => engine.assign('net', pod('x', { namespace: 'ns' }), 'IPv4Only', [{ ip: '10.0.1.4' }], false)).toThrow(
      'is reserved (retained) for pod ns/web-1; only a forced assignment may take it',
    );
    expect(() => engine.assign('net', pod('x'), 'IPv4Only', [{ ip: '10.0.1.3' }], true)).toThrow(
      'assigned ip is not available: 10.0.1.3 in subnet "b" of network "net" is allocated to pod ns/web-0 on node "node-1"',
    );
    engine.assign('net', pod('x'), 'IPv4Only', [{ ip: '10.0.1.4' }], true);
    expect(holder(engine, '10.0.1.4')!.spec.binding.podName).toBe('x');
  });

  it('takes a reservedIP nobody holds only by force', () => {
    const engine = withReserved();
    expect(() => engine.assign('net', pod('x'), 'IPv4Only', [{ ip: '10.0.1.6' }], false)).toThrow(
      AssignedIPNotAvailableError,
    );
    const usage = engine.subnetUsage('net', 'b');
    engine.assign('net', pod('x'), 'IPv4Only', [{ ip: '10.0.1.6' }], true);
    expect(engine.subnetUsage('net', 'b')).toEqual(usage); // reservedIPs count in neither total nor used
  });

  it.each([
    ['no suite', 'IPv4Only' as const, [], 'must assign only one IP when IPv4 family, but []'],
    ['two suites for one family', 'IPv6Only' as const, [{ ip: 'fd00:c::5' }, { ip: 'fd00:c::6' }], 'only one IP'],
    ['one suite for DualStack', 'DualStack' as const, [{ ip: '10.0.1.2' }], 'must assign two IPs when DualStack'],
    ['an IPv6 address for IPv4Only', 'IPv4Only' as const, [{ ip: 'fd00:c::5' }], 'not a valid IPv4 address'],
    ['garbage', 'IPv4Only' as const, [{ ip: '10.0.1' }], 'assigned ip "10.0.1" is not a valid IPv4 address'],
    [
      'DualStack in the wrong order',
      'DualStack' as const,
      [{ ip: 'fd00:c::5' }, { ip: '10.0.1.2' }],
      'DualStack expects [IPv4, IPv6]',
    ],
  ])('validates the request: %s', (_name, family, suites, message) => {
    const engine = withReserved();
    expect(() => engine.assign('net', pod('x'), family, suites, false)).toThrow(InvalidRequestError);
    expect(() => engine.assign('net', pod('x'), family, suites, false)).toThrow(message);
  });

  it('a named subnet must be of the right family', () => {
    expect(() => withReserved().assign('net', pod('x'), 'IPv4Only', [{ subnet: 'c', ip: '10.0.1.2' }], false)).toThrow(
      SubnetNotFoundError,
    );
  });

  it('DualStack assignment is atomic: when the IPv6 half fails the IPv4 half is not taken', () => {
    const engine = withReserved();
    engine.assign('net', pod('holder'), 'IPv6Only', [{ ip: 'fd00:c::5' }], false);
    const before = engine.snapshot();
    expect(() => engine.assign('net', pod('x'), 'DualStack', [{ ip: '10.0.1.2' }, { ip: 'fd00:c::5' }], true)).toThrow(
      AssignedIPNotAvailableError,
    );
    expect(engine.snapshot()).toEqual(before);
    expect(ips(engine.assign('net', pod('x'), 'DualStack', [{ ip: '10.0.1.2' }, { ip: 'fd00:c::6' }], false))).toEqual([
      '10.0.1.2',
      'fd00:c::6',
    ]);
  });
});

describe('release and reserve (SPEC §4.2)', () => {
  const engineWith = (): IPAMEngine =>
    setup({
      subnets: [subnetObject('b', 'net', { cidr: '10.0.1.0/29', reservedIPs: ['10.0.1.6'] })],
    });

  it('release frees an address; a released reservedIP goes back to "Reserved with no holder"', () => {
    const engine = engineWith();
    engine.allocate('net', pod('x'), 'IPv4Only');
    engine.assign('net', pod('y'), 'IPv4Only', [{ ip: '10.0.1.6' }], true);
    expect(engine.subnetUsage('net', 'b')).toMatchObject({ total: 5n, used: 1n, available: 4n });
    expect(
      engine.release('net', [
        { subnet: 'b', ip: '10.0.1.1' },
        { subnet: 'b', ip: '10.0.1.6' },
      ]),
    ).toBe(2);
    expect(engine.snapshot().instances).toEqual([]);
    expect(engine.subnetUsage('net', 'b')).toMatchObject({ total: 5n, used: 0n, available: 5n });
    expect(() => engine.assign('net', pod('z'), 'IPv4Only', [{ ip: '10.0.1.6' }], false)).toThrow('reservedIP');
    expect(engine.release('net', [{ subnet: 'b', ip: '10.0.1.3' }])).toBe(0); // nobody holds it
  });

  it('validates every entry before releasing anything', () => {
    const engine = engineWith();
    engine.allocate('net', pod('x'), 'IPv4Only');
    const before = engine.snapshot();
    expect(() =>
      engine.release('net', [
        { subnet: 'b', ip: '10.0.1.1' },
        { subnet: 'zz', ip: '10.0.1.2' },
      ]),
    ).toThrow(SubnetNotFoundError);
    expect(() => engine.release('net', [{ subnet: '', ip: '10.0.1.1' }])).toThrow(
      'must assign subnet when releasing IP',
    );
    expect(() => engine.release('net', [{ subnet: 'b', ip: 'x' }])).toThrow(InvalidRequestError);
    expect(engine.snapshot()).toEqual(before);
  });

  it('reserve keeps the pod name, clears node and UID, and keeps counting the address as used', () => {
    const engine = engineWith();
    engine.allocate('net', pod('vm-0', { namespace: 'ns' }), 'IPv4Only');
    expect(
      engine.reserve('net', [
        { subnet: 'b', ip: '10.0.1.1' },
        { subnet: 'b', ip: '10.0.1.2' },
      ]),
    ).toBe(1);
    expect(engine.snapshot().instances[0]!.spec.binding).toEqual({ nodeName: '', podName: 'vm-0', podUID: '' });
    expect(engine.subnetUsage('net', 'b').used).toBe(1n);
    expect(() => engine.assign('net', pod('other'), 'IPv4Only', [{ ip: '10.0.1.1' }], false)).toThrow(
      AssignedIPNotAvailableError,
    );
    engine.assign('net', pod('vm-0', { namespace: 'ns', nodeName: 'node-9' }), 'IPv4Only', [{ ip: '10.0.1.1' }], false);
    expect(engine.snapshot().instances[0]!.spec.binding.nodeName).toBe('node-9');
  });
});

describe('usage (SPEC §4.1)', () => {
  it('sums per family, counts private subnets, and DualStack available = min(v4, v6)', () => {
    const engine = setup();
    engine.allocate('net', pod('x'), 'DualStack', ['a', 'd']);
    const u = engine.networkUsage('net');
    // a: 2, b: 5 (gateway .1), p: 254 → 261; c: 2^64 − 2, d: 3.
    expect([u.ipv4.total, u.ipv4.used, u.ipv4.available]).toEqual([261n, 1n, 260n]);
    expect(u.ipv6.total).toBe((1n << 64n) - 2n + 3n);
    expect(u.ipv6.used).toBe(1n);
    expect(u.dualStack.available).toBe(260n);
    expect(u.subnets.map((s) => s.name)).toEqual(['a', 'b', 'p', 'c', 'd']);
    expect(u.subnets.find((s) => s.name === 'p')).toMatchObject({ private: true, isAvailable: false });
    expect(engine.subnetUsage('net', 'd')).toMatchObject({ used: 1n, available: 2n, lastAllocatedIP: 'fd00:d::1' });
    expect(() => engine.subnetUsage('net', 'zz')).toThrow(SubnetNotFoundError);
  });
});

describe('refresh, rebuild and snapshot (SPEC §4.1)', () => {
  it('ignores and reports instances that cannot be held', () => {
    const engine = new IPAMEngine();
    const report = engine.rebuild(
      [networkObject('net')],
      [subnetObject('b', 'net', { cidr: '10.0.1.0/29', gateway: '10.0.1.1' })],
      [
        instanceObject('net', 'b', '10.0.1.2', 29, { namespace: 'ns', name: 'ok', nodeName: 'n' }, 'ok'),
        instanceObject('net', 'b', '10.0.1.1', 29, { namespace: 'ns', name: 'p', nodeName: 'n' }, 'gw'),
        instanceObject('net', 'b', 'fd00::1', 64, { namespace: 'ns', name: 'p', nodeName: 'n' }, 'v6'),
        instanceObject('net', 'b', '10.0.1.2', 29, { namespace: 'other', name: 'p', nodeName: 'n' }, 'dup'),
        instanceObject('net', 'gone', '10.0.7.2', 24, { namespace: 'ns', name: 'p', nodeName: 'n' }, 'orphan'),
        instanceObject('net', 'b', 'garbage', 29, { namespace: 'ns', name: 'p' }, 'bad'),
      ],
    );
    expect(report.skipped.map((s) => [s.name, s.reason]).sort()).toEqual([
      ['bad', 'invalid-address'],
      ['dup', 'duplicate'],
      ['gw', 'not-allocatable'],
      ['orphan', 'subnet-not-found'],
      ['v6', 'not-allocatable'],
    ]);
    expect(report.skipped.find((s) => s.name === 'gw')!.message).toContain('is the gateway of subnet "b"');
    expect(engine.snapshot().instances.map((i) => i.spec.binding.podName)).toEqual(['ok']);
  });

  it('keeps the previous state when a subnet is invalid', () => {
    const engine = setup();
    engine.allocate('net', pod('x'), 'IPv4Only');
    const before = engine.snapshot();
    const bad = [subnetObject('a', 'net', { cidr: '10.0.0.0/31' })];
    expect(() => engine.refreshNetwork(networkObject('net'), bad, [])).toThrow('too small to allocate from');
    expect(engine.snapshot()).toEqual(before);
    const report = engine.rebuild([networkObject('net'), networkObject('empty')], bad, []);
    expect(report.failed.map((f) => f.network)).toEqual(['net']);
    expect(engine.snapshot().networks.map((n) => n.metadata.name)).toEqual(['empty', 'net']);
    expect(engine.snapshot().instances).toEqual(before.instances);
  });

  it('resumes next-fit after status.lastAllocatedIP and fill-first at the status subnet after a rebuild', () => {
    const engine = setup();
    engine.allocate('net', pod('x'), 'IPv4Only', ['b']);
    engine.allocate('net', pod('y'), 'IPv4Only', ['b']);
    engine.release('net', [{ subnet: 'b', ip: '10.0.1.2' }]);
    const snap = engine.snapshot();
    expect(snap.subnets.find((s) => s.metadata.name === 'b')!.status).toEqual({ lastAllocatedIP: '10.0.1.3' });
    const rebuilt = new IPAMEngine();
    rebuilt.rebuild(snap.networks, snap.subnets, snap.instances);
    expect(rebuilt.snapshot()).toEqual(snap);
    expect(rebuilt.allocate('net', pod('z'), 'IPv4Only', ['b'])[0]!.ip).toBe('10.0.1.4');
    expect(engine.allocate('net', pod('z'), 'IPv4Only', ['b'])[0]!.ip).toBe('10.0.1.4');
  });

  it('refreshNetwork replaces one network; removeNetwork drops it', () => {
    const engine = setup();
    engine.allocate('net', pod('x'), 'IPv4Only');
    engine.refreshNetwork(networkObject('net'), [subnetObject('a', 'net', { cidr: '10.0.0.0/30' })], []);
    expect(engine.snapshot().instances).toEqual([]);
    expect(engine.networkUsage('net').subnets.map((s) => s.name)).toEqual(['a']);
    expect(engine.removeNetwork('net')).toBe(true);
    expect(() => engine.networkUsage('net')).toThrow('network not found: network "net"');
  });
});
