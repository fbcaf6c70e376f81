/**
 * NodeInfo (`networking.alibaba.com/v1`, cluster-scoped, plural `nodeinfoes`): the VTEP data of one node (name = node
 * name), written by that node's daemon when an Overlay network exists. SPEC §2.4.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { NETWORKING_API_VERSION, NETWORKING_GROUP, NETWORKING_VERSION } from './constants.ts';
import { ObjectMetaSchema } from './meta.ts';
import type { PrinterColumn, ResourceDescriptor } from './resource.ts';
import { StringConst, Timestamp } from './schema-kit.ts';

/** API location of NodeInfo: cluster-scoped, plural `nodeinfoes` (SPEC §2.4). */
export const NodeInfoResource = {
  group: NETWORKING_GROUP,
  version: NETWORKING_VERSION,
  apiVersion: NETWORKING_API_VERSION,
  kind: 'NodeInfo',
  listKind: 'NodeInfoList',
  plural: 'nodeinfoes',
  singular: 'nodeinfo',
  shortNames: [],
  namespaced: false,
} as const satisfies ResourceDescriptor;

/** Schema of `NodeInfo.spec.vtepInfo` (Go `VTEPInfo`, SPEC §2.4, §7.8). */
export const VTEPInfoSchema = Type.Object(
  {
    ip: Type.Optional(Type.String({ description: 'VTEP address of the node.' })),
    mac: Type.Optional(Type.String({ description: 'VTEP MAC (the MAC of the parent interface).' })),
    localIPs: Type.Optional(
      Type.Array(Type.String(), { description: 'Sorted node addresses that overlay traffic may target.' }),
    ),
  },
  { description: 'The node as a VXLAN tunnel endpoint; absent when no overlay network exists.' },
);

/** `NodeInfo.spec.vtepInfo`: `{ip?, mac?, localIPs?}`. */
export type VTEPInfo = Static<typeof VTEPInfoSchema>;

/** Schema of `NodeInfo.spec` (SPEC §2.4). */
export const NodeInfoSpecSchema = Type.Object(
  {
    vtepInfo: Type.Optional(VTEPInfoSchema),
  },
  { description: 'Desired state of the NodeInfo, written by the daemon.' },
);

/** `NodeInfo.spec`: `{vtepInfo?}`. */
export type NodeInfoSpec = Static<typeof NodeInfoSpecSchema>;

/** Schema of one BGP peer of the node as its daemon sees it (`NodeInfo.status.bgpPeers[]`, additive to SPEC §2.4). */
export const NodeBGPPeerStatusSchema = Type.Object(
  {
    network: Type.String({ description: 'BGP network (Underlay, mode BGP) the peer belongs to.' }),
    address: Type.String({ description: 'Peer address.' }),
    asn: Type.Integer({ description: 'Peer AS number.' }),
    state: Type.String({ description: 'BGP FSM state (Idle, Connect, Active, OpenSent, OpenConfirm, Established).' }),
    lastError: Type.Optional(Type.String({ description: 'Why the session is not Established, when it is not.' })),
    updateTimestamp: Type.Optional(Timestamp({ description: 'Time the state or error last changed (RFC 3339).' })),
  },
  { description: 'A BGP peer of the node and its session state.' },
);

/** `NodeInfo.status.bgpPeers[]`. */
export type NodeBGPPeerStatus = Static<typeof NodeBGPPeerStatusSchema>;

/** Schema of `NodeInfo.status` (SPEC §2.4). */
export const NodeInfoStatusSchema = Type.Object(
  {
    updateTimestamp: Type.Optional(Timestamp({ description: 'Time of the last update (RFC 3339).' })),
    bgpPeers: Type.Optional(
      Type.Array(NodeBGPPeerStatusSchema, { description: 'BGP peers of the node (BGP networks only), by the daemon.' }),
    ),
  },
  { description: 'Observed state of the NodeInfo.' },
);

/** `NodeInfo.status`: `{updateTimestamp? (RFC 3339 string), bgpPeers?}`. */
export type NodeInfoStatus = Static<typeof NodeInfoStatusSchema>;

/** Schema of a whole NodeInfo object (SPEC §2.4). */
export const NodeInfoSchema = Type.Object(
  {
    apiVersion: StringConst(NETWORKING_API_VERSION),
    kind: StringConst(NodeInfoResource.kind),
    metadata: ObjectMetaSchema,
    spec: NodeInfoSpecSchema,
    status: Type.Optional(NodeInfoStatusSchema),
  },
  { description: 'NodeInfo holds the VTEP information of one node (Hybridnet).' },
);

/** A NodeInfo object: `{apiVersion: 'networking.alibaba.com/v1', kind: 'NodeInfo', metadata, spec, status?}`. */
export type NodeInfo = Static<typeof NodeInfoSchema>;

/** `kubectl get nodeinfoes` columns, names and JSONPaths as in the original CRD (SPEC §2.4). */
export const NodeInfoPrinterColumns: readonly PrinterColumn[] = [
  { name: 'VTEPIP', type: 'string', jsonPath: '.spec.vtepInfo.ip' },
  { name: 'VTEPMAC', type: 'string', jsonPath: '.spec.vtepInfo.mac' },
  { name: 'VTEPLOCALIPS', type: 'string', jsonPath: '.spec.vtepInfo.localIPs' },
];
