import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { NETWORKING_CRD_SOURCES, buildNetworkingCustomResourceDefinitions, crdSchemaOf } from './crd.ts';
import type { CustomResourceDefinition } from './crd.ts';
import { NonStructuralSchemaError, Nullable, StringEnum, StringMap, toCrdSchema } from './schema-kit.ts';
import type { CrdSchemaNode } from './schema-kit.ts';

type Node = Record<string, unknown>;

function versionOf(crd: CustomResourceDefinition): Node {
  return (crd.spec.versions as Node[])[0] as Node;
}

function rootSchemaOf(crd: CustomResourceDefinition): Node {
  return (versionOf(crd).schema as Node).openAPIV3Schema as Node;
}

/** Visits every schema node below `node` with its dotted path. */
function walk(node: Node, path: string, visit: (node: Node, path: string) => void): void {
  visit(node, path);
  for (const [name, child] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) {
    walk(child, `${path}.${name}`, visit);
  }
  if (node.items !== undefined) walk(node.items as Node, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as Node, `${path}{}`, visit);
}

/** The schema node a simple printer-column JSONPath (`.spec.a.b`) points at, or undefined. */
function nodeAt(root: Node, jsonPath: string): Node | undefined {
  let node: Node | undefined = root;
  for (const name of jsonPath.split('.').slice(1)) {
    node = (node?.properties as Record<string, Node> | undefined)?.[name];
  }
  return node;
}

const crds = buildNetworkingCustomResourceDefinitions();

describe('generated CRDs are structural (Kubernetes "Specifying a structural schema")', () => {
  it.each(crds.map((crd) => [crd.metadata.name, crd] as const))('%s', (_name, crd) => {
    const root = rootSchemaOf(crd);
    walk(root, '', (node, path) => {
      expect(typeof node.type, `type at ${path || '<root>'}`).toBe('string');
      for (const keyword of [
        'anyOf',
        'oneOf',
        'allOf',
        'not',
        '$ref',
        '$id',
        'patternProperties',
        'const',
        'default',
      ]) {
        expect(node, `${keyword} at ${path}`).not.toHaveProperty(keyword);
      }
      if (node.properties !== undefined)
        expect(node, `properties+additionalProperties at ${path}`).not.toHaveProperty('additionalProperties');
      for (const value of Object.values(node)) {
        expect(typeof value).not.toBe('symbol');
      }
    });
    // metadata may not be constrained at the root beyond name/generateName: we leave it a bare object.
    expect((root.properties as Node).metadata).toEqual({ type: 'object' });
    expect((root.properties as Node).apiVersion).toMatchObject({ type: 'string' });
    expect((root.properties as Node).kind).toMatchObject({ type: 'string' });
    expect(root.required).toEqual(['spec']);
  });

  it('survive a JSON round trip unchanged (no symbols, undefined or non-JSON values)', () => {
    expect(JSON.parse(JSON.stringify(crds))).toEqual(crds);
  });
});

describe('CRD metadata (SPEC §2)', () => {
  it('has the names, scope and plural of the original', () => {
    expect(
      crds.map((crd) => [
        crd.metadata.name,
        crd.spec.scope,
        (crd.spec.names as Node).kind,
        (crd.spec.names as Node).listKind,
      ]),
    ).toEqual([
      ['networks.networking.alibaba.com', 'Cluster', 'Network', 'NetworkList'],
      ['subnets.networking.alibaba.com', 'Cluster', 'Subnet', 'SubnetList'],
      ['ipinstances.networking.alibaba.com', 'Namespaced', 'IPInstance', 'IPInstanceList'],
      ['nodeinfoes.networking.alibaba.com', 'Cluster', 'NodeInfo', 'NodeInfoList'],
    ]);
  });

  it.each(crds.map((crd) => [crd.metadata.name, crd] as const))('%s serves v1 with a status subresource', (_n, crd) => {
    expect(crd.spec.group).toBe('networking.alibaba.com');
    expect(versionOf(crd)).toMatchObject({ name: 'v1', served: true, storage: true, subresources: { status: {} } });
  });

  it.each(crds.map((crd) => [crd.metadata.name, crd] as const))(
    '%s printer columns point at schema fields of the declared type',
    (_name, crd) => {
      const root = rootSchemaOf(crd);
      const columns = versionOf(crd).additionalPrinterColumns as { name: string; type: string; jsonPath: string }[];
      expect(columns.length).toBeGreaterThan(0);
      for (const column of columns) {
        const node = nodeAt(root, column.jsonPath);
        expect(node, `${column.name} → ${column.jsonPath}`).toBeDefined();
        // An array of strings (VTEPLOCALIPS) is printed as a string column, like the original.
        expect([column.type, 'array']).toContain(node?.type);
      }
    },
  );

  it('Network columns match the original names and paths', () => {
    const columns = versionOf(crds[0]!).additionalPrinterColumns as { name: string; jsonPath: string }[];
    expect(columns.map((c) => `${c.name}=${c.jsonPath}`)).toEqual([
      'NetID=.spec.netID',
      'Type=.spec.type',
      'Mode=.spec.mode',
      'V4Total=.status.statistics.total',
      'V4Used=.status.statistics.used',
      'V4Available=.status.statistics.available',
      'LastAllocatedV4Subnet=.status.lastAllocatedSubnet',
      'V6Total=.status.ipv6Statistics.total',
      'V6Used=.status.ipv6Statistics.used',
      'V6Available=.status.ipv6Statistics.available',
      'LastAllocatedV6Subnet=.status.lastAllocatedIPv6Subnet',
    ]);
  });

  it('puts the nullable markers, enums and required lists where SPEC §2 needs them', () => {
    const [network, subnet, ipinstance] = crds.map(rootSchemaOf) as [Node, Node, Node, Node];
    expect(nodeAt(network, '.spec.netID')).toMatchObject({ type: 'integer', format: 'int32', nullable: true });
    expect(nodeAt(network, '.spec.type')).toMatchObject({ enum: ['Underlay', 'Overlay', 'GlobalBGP', ''] });
    expect(nodeAt(network, '.spec.mode')).toMatchObject({ enum: ['VLAN', 'BGP', 'VXLAN', 'GlobalBGP', ''] });
    expect(nodeAt(network, '.spec.nodeSelector')).toEqual({
      description: expect.any(String) as string,
      type: 'object',
      additionalProperties: { type: 'string' },
    });
    expect(nodeAt(subnet, '.spec')).toMatchObject({ required: ['network', 'range'] });
    expect(nodeAt(subnet, '.spec.range')).toMatchObject({ required: ['version', 'cidr'] });
    expect(nodeAt(subnet, '.spec.range.version')).toMatchObject({ type: 'string', enum: ['4', '6'] });
    expect(nodeAt(subnet, '.spec.config.autoNatOutgoing')).toMatchObject({ type: 'boolean', nullable: true });
    expect(nodeAt(subnet, '.spec.config.private')).toMatchObject({ type: 'boolean', nullable: true });
    expect(nodeAt(ipinstance, '.spec')).toMatchObject({ required: ['network', 'subnet', 'address'] });
    expect(nodeAt(ipinstance, '.spec.address')).toMatchObject({ required: ['version', 'ip', 'mac'] });
    expect(nodeAt(ipinstance, '.spec.address.netID')).toMatchObject({ nullable: true });
    expect(nodeAt(ipinstance, '.status.updateTimestamp')).toMatchObject({ type: 'string', format: 'date-time' });
  });

  it('has one source per kind', () => {
    expect(NETWORKING_CRD_SOURCES.map((s) => s.resource.plural)).toEqual([
      'networks',
      'subnets',
      'ipinstances',
      'nodeinfoes',
    ]);
  });
});

describe('toCrdSchema refuses non-structural schemas', () => {
  it.each([
    ['a union (anyOf)', Type.Object({ a: Type.Union([Type.String(), Type.Number()]) }), 'properties.a'],
    ['a node without type', Type.Object({ a: Type.Unknown() }), 'properties.a'],
    [
      'a TypeBox Record (patternProperties)',
      Type.Object({ a: Type.Record(Type.String(), Type.String()) }),
      'properties.a',
    ],
    ['a const', Type.Object({ a: Type.Literal('x') }), 'properties.a'],
  ])('%s', (_what, schema, where) => {
    expect(() => toCrdSchema(schema)).toThrow(NonStructuralSchemaError);
    expect(() => toCrdSchema(schema)).toThrow(where);
  });

  it('keeps property names that look like keywords and drops TypeBox symbols', () => {
    const out: CrdSchemaNode = toCrdSchema(
      Type.Object({ kind: Type.String(), type: StringEnum(['a', 'b']), map: StringMap(), n: Nullable(Type.Boolean()) }),
    );
    expect(out).toEqual({
      type: 'object',
      required: ['kind', 'type', 'map', 'n'],
      properties: {
        kind: { type: 'string' },
        type: { type: 'string', enum: ['a', 'b'] },
        map: { type: 'object', additionalProperties: { type: 'string' } },
        n: { type: 'boolean', nullable: true },
      },
    });
    expect(Object.getOwnPropertySymbols(out)).toEqual([]);
  });

  it('replaces root metadata by a bare object even though the validation schema details it', () => {
    const schema = crdSchemaOf(Type.Object({ metadata: Type.Object({ x: Type.Unknown() }), spec: Type.Object({}) }));
    expect(schema.properties).toMatchObject({ metadata: { type: 'object' } });
  });
});
