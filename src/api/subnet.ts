/**
 * Subnet (`networking.alibaba.com/v1`, cluster-scoped, plural `subnets`): an address range that belongs to exactly one
 * Network. SPEC §2.2. Canonical-CIDR, gateway-in-range and family checks are cross-field rules of the webhook (SPEC §5.3),
 * not of this schema.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { IP_VERSIONS, NETWORKING_API_VERSION, NETWORKING_GROUP, NETWORKING_VERSION } from './constants.ts';
import { ObjectMetaSchema } from './meta.ts';
import { CountSchema } from './network.ts';
import type { PrinterColumn, ResourceDescriptor } from './resource.ts';
import { Int32, Nullable, StringConst, StringEnum } from './schema-kit.ts';

/** API location of Subnet: cluster-scoped, plural `subnets` (SPEC §2.2). */
export const SubnetResource = {
  group: NETWORKING_GROUP,
  version: NETWORKING_VERSION,
  apiVersion: NETWORKING_API_VERSION,
  kind: 'Subnet',
  listKind: 'SubnetList',
  plural: 'subnets',
  singular: 'subnet',
  shortNames: [],
  namespaced: false,
} as const satisfies ResourceDescriptor;

/** Schema of `Subnet.spec.range` (Go `AddressRange`, SPEC §2.2). `version` and `cidr` required. */
export const AddressRangeSchema = Type.Object(
  {
    version: StringEnum(IP_VERSIONS, { description: 'IP version: "4" or "6".' }),
    cidr: Type.String({ description: 'Canonical CIDR (no host bits), e.g. 10.0.0.0/24 or fd00::/64.' }),
    gateway: Type.Optional(
      Type.String({ description: 'Gateway address; required for VLAN subnets; never allocated.' }),
    ),
    start: Type.Optional(Type.String({ description: 'First allocatable address; default network address + 1.' })),
    end: Type.Optional(
      Type.String({
        description: 'Last allocatable address; default broadcast - 1 (IPv4) or the last address (IPv6).',
      }),
    ),
    reservedIPs: Type.Optional(
      Type.Array(Type.String(), {
        description: 'Addresses only obtainable by forced assignment (ip-pool, VM retain).',
      }),
    ),
    excludeIPs: Type.Optional(Type.Array(Type.String(), { description: 'Addresses never used.' })),
  },
  { description: 'Address range of the subnet.' },
);

/** `Subnet.spec.range`: `{version: '4' | '6', cidr, gateway?, start?, end?, reservedIPs?, excludeIPs?}`. */
export type AddressRange = Static<typeof AddressRangeSchema>;

/** Schema of `Subnet.spec.config` (Go `SubnetConfig`, SPEC §2.2). */
export const SubnetConfigSchema = Type.Object(
  {
    gatewayType: Type.Optional(Type.String({ description: 'Declared by the original API; unused.' })),
    gatewayNode: Type.Optional(Type.String({ description: 'Declared by the original API; unused.' })),
    allowSubnets: Type.Optional(Type.Array(Type.String(), { description: 'Declared by the original API; unused.' })),
    autoNatOutgoing: Type.Optional(
      Nullable(Type.Boolean(), { description: 'Overlay only: SNAT traffic leaving the cluster; null means true.' }),
    ),
    private: Type.Optional(
      Nullable(Type.Boolean(), {
        description: 'Private subnets are used only when specified explicitly; null means false.',
      }),
    ),
  },
  { description: 'Optional subnet behaviour.' },
);

/** `Subnet.spec.config`: `{gatewayType?, gatewayNode?, allowSubnets?, autoNatOutgoing?: boolean | null, private?: boolean | null}`. */
export type SubnetConfig = Static<typeof SubnetConfigSchema>;

/** Schema of `Subnet.spec` (SPEC §2.2). `network` and `range` required. */
export const SubnetSpecSchema = Type.Object(
  {
    network: Type.String({ description: 'Name of the parent Network; immutable.' }),
    netID: Type.Optional(
      Nullable(
        Int32({
          minimum: 0,
          description: "VLAN id for VLAN networks (overrides or equals the network's); null otherwise.",
        }),
      ),
    ),
    range: AddressRangeSchema,
    config: Type.Optional(SubnetConfigSchema),
  },
  { description: 'Desired state of the Subnet.' },
);

/** `Subnet.spec`: `{network, netID?: number | null, range, config?}`. */
export type SubnetSpec = Static<typeof SubnetSpecSchema>;

/** Schema of `Subnet.status` (inline Go `Count` plus `lastAllocatedIP`), written by the manager (SPEC §2.2). */
export const SubnetStatusSchema = Type.Object(
  {
    ...CountSchema.properties,
    lastAllocatedIP: Type.Optional(Type.String({ description: 'Address at the allocation cursor.' })),
  },
  { description: 'Observed state of the Subnet, written by the manager.' },
);

/** `Subnet.status`: `{total?, used?, available?, lastAllocatedIP?}`. */
export type SubnetStatus = Static<typeof SubnetStatusSchema>;

/** Schema of a whole Subnet object (SPEC §2.2). */
export const SubnetSchema = Type.Object(
  {
    apiVersion: StringConst(NETWORKING_API_VERSION),
    kind: StringConst(SubnetResource.kind),
    metadata: ObjectMetaSchema,
    spec: SubnetSpecSchema,
    status: Type.Optional(SubnetStatusSchema),
  },
  { description: 'Subnet is an address range belonging to one Network (Hybridnet).' },
);

/** A Subnet object: `{apiVersion: 'networking.alibaba.com/v1', kind: 'Subnet', metadata, spec, status?}`. */
export type Subnet = Static<typeof SubnetSchema>;

/** `kubectl get subnets` columns, names and JSONPaths as in the original CRD (SPEC §2.2). */
export const SubnetPrinterColumns: readonly PrinterColumn[] = [
  { name: 'Version', type: 'string', jsonPath: '.spec.range.version' },
  { name: 'CIDR', type: 'string', jsonPath: '.spec.range.cidr' },
  { name: 'Start', type: 'string', jsonPath: '.spec.range.start' },
  { name: 'End', type: 'string', jsonPath: '.spec.range.end' },
  { name: 'Gateway', type: 'string', jsonPath: '.spec.range.gateway' },
  { name: 'Total', type: 'integer', jsonPath: '.status.total' },
  { name: 'Used', type: 'integer', jsonPath: '.status.used' },
  { name: 'Available', type: 'integer', jsonPath: '.status.available' },
  { name: 'NetID', type: 'integer', jsonPath: '.spec.netID' },
  { name: 'Network', type: 'string', jsonPath: '.spec.network' },
];
