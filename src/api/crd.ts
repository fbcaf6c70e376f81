/**
 * Builds the apiextensions.k8s.io/v1 CustomResourceDefinitions of the four networking kinds from their TypeBox schemas
 * (the single source of truth), for `tools/gen-crds.ts` to write into `deploy/crds/`. SPEC §2: every kind has the
 * `status` subresource and the original's printer columns.
 */
import { Type } from '@sinclair/typebox';
import type { TObject } from '@sinclair/typebox';
import { IPInstancePrinterColumns, IPInstanceResource, IPInstanceSchema } from './ipinstance.ts';
import { NetworkPrinterColumns, NetworkResource, NetworkSchema } from './network.ts';
import { NodeInfoPrinterColumns, NodeInfoResource, NodeInfoSchema } from './nodeinfo.ts';
import type { PrinterColumn, ResourceDescriptor } from './resource.ts';
import { toCrdSchema } from './schema-kit.ts';
import type { CrdSchemaNode, JsonValue } from './schema-kit.ts';
import { SubnetPrinterColumns, SubnetResource, SubnetSchema } from './subnet.ts';

/** Everything needed to generate one CRD: API location, object schema, printer columns. */
export interface CrdSource {
  /** Group, version, names and scope. */
  readonly resource: ResourceDescriptor;
  /** TypeBox schema of the whole object (`apiVersion`, `kind`, `metadata`, `spec`, `status`). */
  readonly schema: TObject;
  /** `additionalPrinterColumns`, in display order. */
  readonly printerColumns: readonly PrinterColumn[];
}

/** The networking kinds in a stable order (the order of SPEC §2). */
export const NETWORKING_CRD_SOURCES: readonly CrdSource[] = [
  { resource: NetworkResource, schema: NetworkSchema, printerColumns: NetworkPrinterColumns },
  { resource: SubnetResource, schema: SubnetSchema, printerColumns: SubnetPrinterColumns },
  { resource: IPInstanceResource, schema: IPInstanceSchema, printerColumns: IPInstancePrinterColumns },
  { resource: NodeInfoResource, schema: NodeInfoSchema, printerColumns: NodeInfoPrinterColumns },
];

/** A generated CRD as plain JSON (ready for YAML), with its conventional name for logging. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: { [key: string]: JsonValue };
}

const ROOT_DESCRIPTIONS = {
  apiVersion:
    'APIVersion defines the versioned schema of this representation of an object. See the Kubernetes API conventions.',
  kind: 'Kind is a string value representing the REST resource this object represents. In CamelCase.',
};

/**
 * The `openAPIV3Schema` of a kind, derived from its TypeBox object schema. At the root, `apiVersion` and `kind` become
 * plain strings and `metadata` a bare `{type: object}` (Kubernetes owns and validates those; a CRD may not constrain
 * metadata beyond name), and only `spec` stays required. Everything below is emitted by {@link toCrdSchema}.
 *
 * Throws `NonStructuralSchemaError` if the schema leaves the structural subset.
 */
export function crdSchemaOf(schema: TObject): CrdSchemaNode {
  const required = (schema.required ?? []).filter((name) => name === 'spec');
  const root: TObject = {
    ...schema,
    properties: {
      ...schema.properties,
      apiVersion: Type.String({ description: ROOT_DESCRIPTIONS.apiVersion }),
      kind: Type.String({ description: ROOT_DESCRIPTIONS.kind }),
      metadata: Type.Unsafe<object>({ type: 'object' }),
    },
    required,
  };
  return toCrdSchema(root);
}

/** Builds the CRD of one kind: names, scope, one served+stored version with schema, status subresource, columns. */
export function buildCustomResourceDefinition(source: CrdSource): CustomResourceDefinition {
  const { resource } = source;
  const names: { [key: string]: JsonValue } = {
    kind: resource.kind,
    listKind: resource.listKind,
    plural: resource.plural,
    singular: resource.singular,
  };
  if (resource.shortNames.length > 0) names.shortNames = [...resource.shortNames];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${resource.plural}.${resource.group}` },
    spec: {
      group: resource.group,
      names,
      scope: resource.namespaced ? 'Namespaced' : 'Cluster',
      versions: [
        {
          name: resource.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: source.printerColumns.map((column) => ({ ...column })),
          schema: { openAPIV3Schema: crdSchemaOf(source.schema) as JsonValue },
        },
      ],
    },
  };
}

/** The CRDs of Network, Subnet, IPInstance and NodeInfo, in SPEC order. */
export function buildNetworkingCustomResourceDefinitions(): CustomResourceDefinition[] {
  return NETWORKING_CRD_SOURCES.map(buildCustomResourceDefinition);
}
