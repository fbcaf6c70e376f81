import { describe, expect, it } from 'vitest';
import type { IPAMEngine } from './engine.ts';
import {
  AssignedIPNotAvailableError,
  AssignedIPNotInSubnetError,
  InvalidRequestError,
  SubnetNotFoundError,
} from './errors.ts';
import { instanceObject, pod, subnetObject, testEngine as setup } from './fixtures.ts';

const ips = (results: { ip: string }[]): string[] => results.map((r) => r.ip);

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
