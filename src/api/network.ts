/**
 * Network (`networking.alibaba.com/v1`, cluster-scoped, plural `networks`): a scheduling domain of nodes that share
 * L2/L3 properties, with its type, mode, netID (VLAN id / local AS / VXLAN VNI) and BGP peers. SPEC §2.1.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import {
  NETWORKING_API_VERSION,
  NETWORKING_GROUP,
  NETWORKING_VERSION,
  NETWORK_MODES,
  NETWORK_TYPES,
} from './constants.ts';
import { ObjectMetaSchema } from './meta.ts';
import type { PrinterColumn, ResourceDescriptor } from './resource.ts';
import { Described, Int32, Nullable, StringConst, StringEnum, StringMap } from './schema-kit.ts';

/** API location of Network: cluster-scoped, plural `networks` (SPEC §2.1). */
export const NetworkResource = {
  group: NETWORKING_GROUP,
  version: NETWORKING_VERSION,
  apiVersion: NETWORKING_API_VERSION,
  kind: 'Network',
  listKind: 'NetworkList',
  plural: 'networks',
  singular: 'network',
  shortNames: [],
  namespaced: false,
} as const satisfies ResourceDescriptor;

/** Schema of a BGP peer of a BGP-mode Network (`spec.config.bgpPeers[]`, SPEC §2.1). `asn` and `address` required. */
export const BGPPeerSchema = Type.Object(
  {
    asn: Int32({ minimum: 1, description: 'AS number of the peer router.' }),
    address: Type.String({ description: 'IP address of the peer router.' }),
    gracefulRestartSeconds: Type.Optional(
      Int32({
        minimum: 0,
        maximum: 4095,
        description: 'BGP graceful-restart time in seconds (12-bit field, RFC 4724); 0 means the daemon default 300.',
      }),
    ),
    password: Type.Optional(Type.String({ description: 'TCP MD5 authentication password for the session.' })),
    doesNotRouteTraffic: Type.Optional(
      Type.Boolean({ description: 'The peer is never used as next hop / gateway for pod traffic.' }),
    ),
    allowNotEstablished: Type.Optional(
      Type.Boolean({ description: 'Pod creation is not blocked while this peer is not Established.' }),
    ),
  },
  { description: 'A BGP peer of the nodes of a BGP-mode underlay network.' },
);

/** A BGP peer: `{asn, address, gracefulRestartSeconds?, password?, doesNotRouteTraffic?, allowNotEstablished?}`. */
export type BGPPeer = Static<typeof BGPPeerSchema>;

/** Schema of `Network.spec.config` (SPEC §2.1). */
export const NetworkConfigSchema = Type.Object(
  {
    bgpPeers: Type.Optional(Type.Array(BGPPeerSchema, { description: 'BGP peers; only for mode BGP.' })),
  },
  { description: 'Mode-specific configuration.' },
);

/** `Network.spec.config`: `{bgpPeers?: BGPPeer[]}`. */
export type NetworkConfig = Static<typeof NetworkConfigSchema>;

/** Schema of `Network.spec` (SPEC §2.1). */
export const NetworkSpecSchema = Type.Object(
  {
    nodeSelector: Type.Optional(
      StringMap({
        description:
          'Equality label selector of the member nodes. Required (non-empty) for Underlay; empty for Overlay and GlobalBGP.',
      }),
    ),
    netID: Type.Optional(
      Nullable(
        Int32({
          minimum: 0,
          description:
            'Underlay VLAN: VLAN id (optional). Underlay BGP: local AS number. Overlay: VXLAN VNI. GlobalBGP: null.',
        }),
      ),
    ),
    type: Type.Optional(
      StringEnum([...NETWORK_TYPES, ''], { description: 'Underlay, Overlay or GlobalBGP; empty means Underlay.' }),
    ),
    mode: Type.Optional(
      StringEnum([...NETWORK_MODES, ''], {
        description:
          'VLAN, BGP, VXLAN or GlobalBGP; empty means VLAN (Underlay), VXLAN (Overlay), GlobalBGP (GlobalBGP).',
      }),
    ),
    config: Type.Optional(NetworkConfigSchema),
  },
  { description: 'Desired state of the Network.' },
);

/** `Network.spec`: `{nodeSelector?, netID?: number | null, type?, mode?, config?}`. */
export type NetworkSpec = Static<typeof NetworkSpecSchema>;

/** Schema of an address count `{total, used, available}` (Go `Count`, int32 each, SPEC §2.1, §2.2). */
export const CountSchema = Type.Object(
  {
    total: Type.Optional(Int32({ minimum: 0, description: 'Allocatable addresses.' })),
    used: Type.Optional(Int32({ minimum: 0, description: 'Addresses in use or reserved.' })),
    available: Type.Optional(Int32({ minimum: 0, description: 'total - used.' })),
  },
  { description: 'Address usage counts.' },
);

/** Address counts `{total?, used?, available?}`; the manager always writes all three. */
export type Count = Static<typeof CountSchema>;

/** Schema of `Network.status`, written by the manager (SPEC §2.1). */
export const NetworkStatusSchema = Type.Object(
  {
    lastAllocatedSubnet: Type.Optional(Type.String({ description: 'IPv4 subnet allocation cursor.' })),
    lastAllocatedIPv6Subnet: Type.Optional(Type.String({ description: 'IPv6 subnet allocation cursor.' })),
    subnetList: Type.Optional(
      Type.Array(Type.String(), { description: 'Sorted names of the non-terminating subnets of this network.' }),
    ),
    nodeList: Type.Optional(
      Type.Array(Type.String(), { description: 'Sorted names of the non-terminating member nodes.' }),
    ),
    statistics: Type.Optional(Described(CountSchema, 'IPv4 address usage.')),
    ipv6Statistics: Type.Optional(Described(CountSchema, 'IPv6 address usage.')),
    dualStackStatistics: Type.Optional(
      Described(CountSchema, 'Dual-stack usage; only available = min(IPv4 available, IPv6 available).'),
    ),
  },
  { description: 'Observed state of the Network, written by the manager.' },
);

/** `Network.status`: cursors, sorted subnet and node lists, and IPv4 / IPv6 / dual-stack counts. */
export type NetworkStatus = Static<typeof NetworkStatusSchema>;

/** Schema of a whole Network object (SPEC §2.1). */
export const NetworkSchema = Type.Object(
  {
    apiVersion: StringConst(NETWORKING_API_VERSION),
    kind: StringConst(NetworkResource.kind),
    metadata: ObjectMetaSchema,
    spec: NetworkSpecSchema,
    status: Type.Optional(NetworkStatusSchema),
  },
  { description: 'Network is a scheduling domain of nodes sharing L2/L3 properties (Hybridnet).' },
);

/** A Network object: `{apiVersion: 'networking.alibaba.com/v1', kind: 'Network', metadata, spec, status?}`. */
export type Network = Static<typeof NetworkSchema>;

/** `kubectl get networks` columns, names and JSONPaths as in the original CRD (SPEC §2.1). */
export const NetworkPrinterColumns: readonly PrinterColumn[] = [
  { name: 'NetID', type: 'integer', jsonPath: '.spec.netID' },
  { name: 'Type', type: 'string', jsonPath: '.spec.type' },
  { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
  { name: 'V4Total', type: 'integer', jsonPath: '.status.statistics.total' },
  { name: 'V4Used', type: 'integer', jsonPath: '.status.statistics.used' },
  { name: 'V4Available', type: 'integer', jsonPath: '.status.statistics.available' },
  { name: 'LastAllocatedV4Subnet', type: 'string', jsonPath: '.status.lastAllocatedSubnet' },
  { name: 'V6Total', type: 'integer', jsonPath: '.status.ipv6Statistics.total' },
  { name: 'V6Used', type: 'integer', jsonPath: '.status.ipv6Statistics.used' },
  { name: 'V6Available', type: 'integer', jsonPath: '.status.ipv6Statistics.available' },
  { name: 'LastAllocatedV6Subnet', type: 'string', jsonPath: '.status.lastAllocatedIPv6Subnet' },
];
