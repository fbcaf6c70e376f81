/**
 * IPInstance (`networking.alibaba.com/v1`, namespaced, plural `ipinstances`): one allocated address, named after the
 * IP in DNS-label form and living in the pod's namespace; the hand-off from the manager (IPAM) to the daemon (datapath).
 * SPEC §2.3.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { IP_VERSIONS, NETWORKING_API_VERSION, NETWORKING_GROUP, NETWORKING_VERSION } from './constants.ts';
import { ObjectMetaSchema } from './meta.ts';
import type { PrinterColumn, ResourceDescriptor } from './resource.ts';
import { Int32, Nullable, StringConst, StringEnum, Timestamp } from './schema-kit.ts';

/** API location of IPInstance: namespaced, plural `ipinstances` (SPEC §2.3). */
export const IPInstanceResource = {
  group: NETWORKING_GROUP,
  version: NETWORKING_VERSION,
  apiVersion: NETWORKING_API_VERSION,
  kind: 'IPInstance',
  listKind: 'IPInstanceList',
  plural: 'ipinstances',
  singular: 'ipinstance',
  shortNames: [],
  namespaced: true,
} as const satisfies ResourceDescriptor;

/** Schema of `IPInstance.spec.address` (Go `Address`, SPEC §2.3). `version`, `ip`, `mac` required. */
export const AddressSchema = Type.Object(
  {
    version: StringEnum(IP_VERSIONS, { description: 'IP version: "4" or "6".' }),
    ip: Type.String({ description: 'Address with the subnet prefix length, e.g. 10.14.100.5/24.' }),
    gateway: Type.Optional(Type.String({ description: "The subnet's gateway; omitted when the subnet has none." })),
    netID: Type.Optional(Nullable(Int32({ minimum: 0, description: 'Effective netID of the subnet, or null.' }))),
    mac: Type.String({ description: 'MAC of the pod interface; the same for both addresses of a dual-stack pod.' }),
  },
  { description: 'The allocated address.' },
);

/** `IPInstance.spec.address`: `{version: '4' | '6', ip: 'ip/prefixlen', gateway?, netID?: number | null, mac}`. */
export type Address = Static<typeof AddressSchema>;

/** Schema of `binding.referredObject` (Go short `ObjectMeta`): the owner the address is bound to (SPEC §2.3). */
export const ReferredObjectSchema = Type.Object(
  {
    kind: Type.Optional(Type.String({ description: 'Owner kind: a stateful controller kind, VirtualMachine or Pod.' })),
    name: Type.Optional(Type.String({ description: 'Owner name.' })),
    uid: Type.Optional(Type.String({ description: 'Owner UID.' })),
  },
  { description: 'The object the address belongs to; an empty kind marks a legacy (< v0.5) object.' },
);

/** `binding.referredObject`: `{kind?, name?, uid?}`. */
export type ReferredObject = Static<typeof ReferredObjectSchema>;

/** Schema of `binding.stateful` (Go `StatefulInfo`, SPEC §2.3). */
export const StatefulInfoSchema = Type.Object(
  {
    index: Type.Optional(
      Int32({
        minimum: 0,
        description: "Ordinal of the stateful pod (trailing integer of its name; 2147483647 if it isn't numeric).",
      }),
    ),
  },
  { description: 'Present only when the owner is a stateful workload.' },
);

/** `binding.stateful`: `{index?}`. */
export type StatefulInfo = Static<typeof StatefulInfoSchema>;

/** Schema of `IPInstance.spec.binding` (SPEC §2.3). */
export const BindingSchema = Type.Object(
  {
    referredObject: Type.Optional(ReferredObjectSchema),
    nodeName: Type.Optional(Type.String({ description: 'Node of the pod; empty means the address is reserved.' })),
    podUID: Type.Optional(Type.String({ description: 'UID of the pod using the address.' })),
    podName: Type.Optional(Type.String({ description: 'Name of the pod using the address.' })),
    stateful: Type.Optional(StatefulInfoSchema),
  },
  { description: 'Who the address is bound to.' },
);

/** `IPInstance.spec.binding`: `{referredObject?, nodeName?, podUID?, podName?, stateful?}`. */
export type Binding = Static<typeof BindingSchema>;

/** Schema of `IPInstance.spec` (SPEC §2.3). `network`, `subnet`, `address` required. */
export const IPInstanceSpecSchema = Type.Object(
  {
    network: Type.String({ description: 'Network name.' }),
    subnet: Type.String({ description: 'Subnet name.' }),
    address: AddressSchema,
    binding: Type.Optional(BindingSchema),
  },
  { description: 'Desired state of the IPInstance, written by the manager.' },
);

/** `IPInstance.spec`: `{network, subnet, address, binding?}`. */
export type IPInstanceSpec = Static<typeof IPInstanceSpecSchema>;

/** Schema of `IPInstance.status`, written by the daemon after a successful CNI ADD (SPEC §2.3). */
export const IPInstanceStatusSchema = Type.Object(
  {
    nodeName: Type.Optional(Type.String({ description: 'Node where the address was wired.' })),
    podName: Type.Optional(Type.String({ description: 'Pod the address was wired for.' })),
    podNamespace: Type.Optional(Type.String({ description: 'Namespace of that pod.' })),
    sandboxID: Type.Optional(Type.String({ description: 'Container (sandbox) ID of that pod.' })),
    updateTimestamp: Type.Optional(Timestamp({ description: 'Time of the last status change (RFC 3339).' })),
  },
  { description: 'Observed state of the IPInstance, written by the daemon.' },
);

/** `IPInstance.status`: `{nodeName?, podName?, podNamespace?, sandboxID?, updateTimestamp? (RFC 3339 string)}`. */
export type IPInstanceStatus = Static<typeof IPInstanceStatusSchema>;

/** Schema of a whole IPInstance object (SPEC §2.3). */
export const IPInstanceSchema = Type.Object(
  {
    apiVersion: StringConst(NETWORKING_API_VERSION),
    kind: StringConst(IPInstanceResource.kind),
    metadata: ObjectMetaSchema,
    spec: IPInstanceSpecSchema,
    status: Type.Optional(IPInstanceStatusSchema),
  },
  { description: 'IPInstance is one address allocated to a pod (Hybridnet).' },
);

/** An IPInstance object: `{apiVersion: 'networking.alibaba.com/v1', kind: 'IPInstance', metadata, spec, status?}`. */
export type IPInstance = Static<typeof IPInstanceSchema>;

/**
 * `kubectl get ipinstances` columns (SPEC §2.3). PodName and Node read `spec.binding`, as in the chart CRD of v0.8.9
 * (older Go markers pointed at `status`).
 */
export const IPInstancePrinterColumns: readonly PrinterColumn[] = [
  { name: 'IP', type: 'string', jsonPath: '.spec.address.ip' },
  { name: 'Gateway', type: 'string', jsonPath: '.spec.address.gateway' },
  { name: 'PodName', type: 'string', jsonPath: '.spec.binding.podName' },
  { name: 'Node', type: 'string', jsonPath: '.spec.binding.nodeName' },
  { name: 'Subnet', type: 'string', jsonPath: '.spec.subnet' },
  { name: 'Network', type: 'string', jsonPath: '.spec.network' },
];
