import { describe, expect, it } from 'vitest';
import {
  InvalidRequestError,
  NetworkNotFoundError,
  NoAvailableIPError,
  NoAvailableSubnetError,
  SubnetNotFoundError,
} from './errors.ts';
import { networkObject, pod, subnetObject, testEngine as setup } from './fixtures.ts';

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
    expect(String(err)).toContain('(the network has no IPv6 subnet; create one)');
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
