/**
 * Builders of the API objects the IPAM reads, for tests, benchmarks and the demo. Pure, no defaults hidden from the
 * caller beyond the obvious (empty status, Underlay type).
 */
import { IPAMEngine } from './engine.ts';
import type { IPAMAddressRange, IPAMInstanceObject, IPAMNetworkObject, IPAMSubnetObject, PodRef } from './types.ts';

/** A Network object (`spec.type` Underlay unless given) with optional status cursors. */
export function networkObject(
  name: string,
  options: {
    netID?: number | null;
    type?: string;
    lastAllocatedSubnet?: string;
    lastAllocatedIPv6Subnet?: string;
  } = {},
): IPAMNetworkObject {
  const status: NonNullable<IPAMNetworkObject['status']> = {};
  if (options.lastAllocatedSubnet !== undefined) status.lastAllocatedSubnet = options.lastAllocatedSubnet;
  if (options.lastAllocatedIPv6Subnet !== undefined) status.lastAllocatedIPv6Subnet = options.lastAllocatedIPv6Subnet;
  return { metadata: { name }, spec: { netID: options.netID ?? null, type: options.type ?? 'Underlay' }, status };
}

/**
 * A Subnet object. `range.version` is inferred from the CIDR (a colon ⇒ "6") unless given.
 */
export function subnetObject(
  name: string,
  network: string,
  range: Omit<IPAMAddressRange, 'version'> & { version?: '4' | '6' },
  options: { netID?: number | null; private?: boolean; lastAllocatedIP?: string } = {},
): IPAMSubnetObject {
  const object: IPAMSubnetObject = {
    metadata: { name },
    spec: {
      network,
      netID: options.netID ?? null,
      range: { ...range, version: range.version ?? (range.cidr.includes(':') ? '6' : '4') },
    },
  };
  if (options.private !== undefined) object.spec.config = { private: options.private };
  if (options.lastAllocatedIP !== undefined) object.status = { lastAllocatedIP: options.lastAllocatedIP };
  return object;
}

/**
 * An IPInstance object for `ip` (bare address text) with prefix length `prefix`, held by `pod`. `nodeName` empty
 * ⇒ Reserved. `name` defaults to a placeholder (the IPAM does not read it).
 */
export function instanceObject(
  network: string,
  subnet: string,
  ip: string,
  prefix: number,
  pod: { namespace: string; name: string; nodeName?: string; uid?: string },
  name = `ip-${ip.replaceAll(/[.:]/g, '-')}`,
): IPAMInstanceObject {
  return {
    metadata: { name, namespace: pod.namespace },
    spec: {
      network,
      subnet,
      address: { version: ip.includes(':') ? '6' : '4', ip: `${ip}/${prefix}` },
      binding: { nodeName: pod.nodeName ?? '', podName: pod.name, podUID: pod.uid ?? '' },
    },
  };
}

/** A pod reference on `node-1` in namespace `default` unless given. */
export function pod(name: string, options: Partial<PodRef> = {}): PodRef {
  return { namespace: 'default', nodeName: 'node-1', uid: `uid-${name}`, ...options, name };
}

/**
 * An engine holding the standard test network "net" (netID 100): IPv4 `a` (10.0.0.0/30, netID 7: .1 .2),
 * `b` (10.0.1.0/29, gateway .1: .2–.6), `p` (10.0.9.0/24, private); IPv6 `c` (fd00:c::/64, gateway ::1) and `d`
 * (fd00:d::/126: ::1–::3); plus a subnet of another network. Any part can be replaced.
 * @throws Error if a network fails to build (a broken fixture).
 */
export function testEngine(
  options: { network?: IPAMNetworkObject; subnets?: IPAMSubnetObject[]; instances?: IPAMInstanceObject[] } = {},
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
  if (report.failed.length > 0) throw new Error(`test fixture failed: ${report.failed[0]!.error.message}`);
  return engine;
}
