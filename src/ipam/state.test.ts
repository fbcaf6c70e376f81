import { describe, expect, it } from 'vitest';
import { IPAMEngine } from './engine.ts';
import { SubnetNotFoundError } from './errors.ts';
import { instanceObject, networkObject, pod, subnetObject, testEngine as setup } from './fixtures.ts';

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
