import { describe, expect, it } from 'vitest';
import { sampleIPInstances, sampleNetworks, sampleNodeInfos, sampleSubnets } from './testing.ts';
import {
  SchemaValidationError,
  isIPInstance,
  isNetwork,
  isNodeInfo,
  isSubnet,
  validateIPInstance,
  validateNetwork,
  validateNodeInfo,
  validateSubnet,
} from './validation.ts';
import type { SchemaIssue } from './validation.ts';

/** Runs `fn`, expects a SchemaValidationError and returns its issues. */
function issuesOf(fn: () => unknown): readonly SchemaIssue[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SchemaValidationError);
    return (error as SchemaValidationError).issues;
  }
  throw new Error('expected a SchemaValidationError, but validation passed');
}

describe('valid objects (SPEC §2)', () => {
  it.each(Object.entries(sampleNetworks()))('Network %s is accepted and returned unchanged', (_name, network) => {
    const copy = structuredClone(network);
    expect(validateNetwork(network)).toBe(network);
    expect(network).toEqual(copy);
    expect(isNetwork(network)).toBe(true);
  });

  it.each(Object.entries(sampleSubnets()))('Subnet %s is accepted', (_name, subnet) => {
    expect(validateSubnet(subnet)).toBe(subnet);
    expect(isSubnet(subnet)).toBe(true);
  });

  it.each(Object.entries(sampleIPInstances()))('IPInstance %s is accepted', (_name, ip) => {
    expect(validateIPInstance(ip)).toBe(ip);
    expect(isIPInstance(ip)).toBe(true);
  });

  it.each(Object.entries(sampleNodeInfos()))('NodeInfo %s is accepted', (_name, info) => {
    expect(validateNodeInfo(info)).toBe(info);
    expect(isNodeInfo(info)).toBe(true);
  });

  it('accepts null for every nullable field: netID, address.netID, autoNatOutgoing, private', () => {
    const network = sampleNetworks().overlay;
    network.spec.netID = null;
    expect(() => validateNetwork(network)).not.toThrow();
    const subnet = sampleSubnets().overlay;
    expect(subnet.spec.netID).toBeNull();
    expect(subnet.spec.config?.autoNatOutgoing).toBeNull();
    expect(() => validateSubnet(subnet)).not.toThrow();
    const ip = sampleIPInstances().v6;
    expect(ip.spec.address.netID).toBeNull();
    expect(() => validateIPInstance(ip)).not.toThrow();
  });

  it('accepts unknown fields (the API server prunes them; validation does not reject them)', () => {
    const network = { ...sampleNetworks().overlay, extra: 1 };
    expect(() => validateNetwork(network)).not.toThrow();
  });

  it('accepts metadata as the API server returns it (string timestamps, managedFields)', () => {
    const network = sampleNetworks().overlay;
    Object.assign(network.metadata, {
      uid: 'a1b2',
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: '2024-05-01T10:00:00Z',
      deletionTimestamp: '2024-05-02T10:00:00Z',
      managedFields: [
        { manager: 'kubectl', operation: 'Apply', time: '2024-05-01T10:00:00Z', fieldsV1: { 'f:spec': {} } },
      ],
    });
    expect(() => validateNetwork(network)).not.toThrow();
  });
});

describe('schema violations name the field path and value', () => {
  it('Network: wrong type enum, non-integer netID, peer without asn', () => {
    const network: Record<string, unknown> = structuredClone(sampleNetworks().bgp);
    const spec = network.spec as Record<string, unknown>;
    spec.type = 'underlay';
    spec.netID = 'abc';
    (spec.config as { bgpPeers: Record<string, unknown>[] }).bgpPeers[1] = { address: '10.0.0.1', asn: undefined };
    const issues = issuesOf(() => validateNetwork(network));
    expect(issues).toContainEqual({
      path: 'spec.type',
      message: 'must be one of "Underlay", "Overlay", "GlobalBGP", ""',
      value: 'underlay',
    });
    expect(issues).toContainEqual({ path: 'spec.netID', message: 'must be integer', value: 'abc' });
    expect(issues).toContainEqual({ path: 'spec.config.bgpPeers[1].asn', message: 'is required', value: undefined });
    expect(isNetwork(network)).toBe(false);
  });

  it('Network: mode outside the enum, asn 0, netID beyond int32, fractional netID', () => {
    const network = sampleNetworks().bgp;
    Object.assign(network.spec, { mode: 'vxlan' });
    network.spec.config!.bgpPeers![0]!.asn = 0;
    const paths = issuesOf(() => validateNetwork(network)).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['spec.mode', 'spec.config.bgpPeers[0].asn']));
    for (const netID of [2147483648, 1.5, -1]) {
      const n = sampleNetworks().overlay;
      n.spec.netID = netID;
      expect(issuesOf(() => validateNetwork(n)).map((i) => [i.path, i.value])).toContainEqual(['spec.netID', netID]);
    }
  });

  it('Network: null where the field is not nullable (nodeSelector value, statistics)', () => {
    const network: unknown = {
      ...sampleNetworks().underlayVlan,
      status: { statistics: null },
    };
    const withNullLabel = sampleNetworks().underlayVlan;
    (withNullLabel.spec.nodeSelector as Record<string, unknown>)['x'] = null;
    expect(issuesOf(() => validateNetwork(network)).map((i) => i.path)).toEqual(['status.statistics']);
    expect(issuesOf(() => validateNetwork(withNullLabel)).map((i) => i.path)).toEqual(['spec.nodeSelector.x']);
  });

  it('Subnet: required network and range.cidr, version enum; IPv6 version "6" only', () => {
    const subnet: Record<string, unknown> = structuredClone(sampleSubnets().ipv6);
    const spec = subnet.spec as Record<string, unknown>;
    delete spec.network;
    spec.range = { version: '5' };
    const issues = issuesOf(() => validateSubnet(subnet));
    expect(issues.map((i) => i.path)).toEqual(['spec.network', 'spec.range.cidr', 'spec.range.version']);
    expect(
      issuesOf(() => validateSubnet({ ...sampleSubnets().ipv6, spec: { ...spec, range: { version: 6 } } })),
    ).toContainEqual({
      path: 'spec.range.version',
      message: 'must be string and must be one of "4", "6"',
      value: 6,
    });
    expect(issues.find((i) => i.path === 'spec.range.version')).toMatchObject({
      message: 'must be one of "4", "6"',
      value: '5',
    });
  });

  it('Subnet: autoNatOutgoing must be a boolean or null', () => {
    const subnet = sampleSubnets().overlay;
    (subnet.spec.config as Record<string, unknown>).autoNatOutgoing = 'yes';
    expect(issuesOf(() => validateSubnet(subnet))).toEqual([
      { path: 'spec.config.autoNatOutgoing', message: 'must be boolean', value: 'yes' },
    ]);
  });

  it('IPInstance: required address fields, RFC 3339 updateTimestamp; message names namespace/name', () => {
    const ip = sampleIPInstances().v4;
    const address = ip.spec.address as Partial<typeof ip.spec.address>;
    delete address.mac;
    delete address.ip;
    ip.status!.updateTimestamp = 'yesterday';
    let caught: unknown;
    try {
      validateIPInstance(ip);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SchemaValidationError);
    const error = caught as SchemaValidationError;
    expect(error.kind).toBe('IPInstance');
    expect(error.objectName).toBe('default/10-14-100-11');
    expect(error.issues.map((i) => i.path)).toEqual(['spec.address.ip', 'spec.address.mac', 'status.updateTimestamp']);
    expect(error.message).toContain('IPInstance "default/10-14-100-11"');
    expect(error.message).toContain('spec.address.mac: is required');
    expect(error.message).toContain('status.updateTimestamp: must match format "date-time" (got "yesterday")');
  });

  it('IPInstance: stateful index and address.netID are int32', () => {
    const ip = sampleIPInstances().reserved;
    ip.spec.binding!.stateful!.index = -1;
    ip.spec.address.netID = 3.3;
    expect(issuesOf(() => validateIPInstance(ip))).toEqual([
      { path: 'spec.address.netID', message: 'must be integer', value: 3.3 },
      { path: 'spec.binding.stateful.index', message: 'must be >= 0', value: -1 },
    ]);
  });

  it('NodeInfo: localIPs must be strings; labels must be strings and keep their dotted key in the path', () => {
    const info = sampleNodeInfos().vtep;
    (info.spec.vtepInfo!.localIPs as unknown[])[1] = 7;
    info.metadata.labels = { 'kubernetes.io/hostname': 1 as unknown as string };
    expect(issuesOf(() => validateNodeInfo(info))).toEqual([
      { path: 'metadata.labels["kubernetes.io/hostname"]', message: 'must be string', value: 1 },
      { path: 'spec.vtepInfo.localIPs[1]', message: 'must be string', value: 7 },
    ]);
  });

  it('rejects the wrong apiVersion / kind, a missing spec, and non-objects', () => {
    const network = { ...sampleNetworks().overlay, apiVersion: 'networking.alibaba.com/v2', kind: 'Subnet' };
    expect(issuesOf(() => validateNetwork(network)).map((i) => i.path)).toEqual(['apiVersion', 'kind']);
    const { spec: _spec, ...withoutSpec } = sampleSubnets().ipv6;
    expect(issuesOf(() => validateSubnet(withoutSpec))).toEqual([
      { path: 'spec', message: 'is required', value: undefined },
    ]);
    expect(issuesOf(() => validateNodeInfo('node-1'))).toEqual([
      { path: '', message: 'must be object', value: 'node-1' },
    ]);
    expect(() => validateNodeInfo(null)).toThrow(/NodeInfo does not match the NodeInfo schema: <root>: must be object/);
  });
});
