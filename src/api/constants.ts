/**
 * Every annotation, label, finalizer and taint key, every well-known label value and every API default of Hybridnet,
 * in one module (SPEC.md §1.3, §2, §3). The keys are exact copies of the original project's so that manifests written
 * for it keep working. No other module of the project may spell one of these strings.
 *
 * Also holds the small parsers for the user-facing enumerations: network type, IP family and Go booleans.
 */

// ---------------------------------------------------------------------------------------------------------------------
// API groups and versions (SPEC §2)

/** API group of Network, Subnet, IPInstance and NodeInfo (SPEC §2.1). */
export const NETWORKING_GROUP = 'networking.alibaba.com';
/** The only served and stored version of {@link NETWORKING_GROUP} (SPEC §2.1). */
export const NETWORKING_VERSION = 'v1';
/** `apiVersion` field value of every networking object: `networking.alibaba.com/v1`. */
export const NETWORKING_API_VERSION = `${NETWORKING_GROUP}/${NETWORKING_VERSION}` as const;
/** API group of the multi-cluster kinds RemoteCluster, RemoteSubnet, RemoteVtep, RemoteEndpointSlice (SPEC §2.5). */
export const MULTICLUSTER_GROUP = 'multicluster.alibaba.com';
/** Version of {@link MULTICLUSTER_GROUP} (SPEC §2.5). */
export const MULTICLUSTER_VERSION = 'v1';
/** `apiVersion` field value of the multi-cluster kinds: `multicluster.alibaba.com/v1`. */
export const MULTICLUSTER_API_VERSION = `${MULTICLUSTER_GROUP}/${MULTICLUSTER_VERSION}` as const;

// ---------------------------------------------------------------------------------------------------------------------
// Enumerations used in CRD fields (SPEC §2.1, §2.2)

/**
 * Network types (`Network.spec.type`, SPEC §2.1). An empty `spec.type` means {@link NetworkType.Underlay}; see
 * `effectiveNetworkType`. Use as a value (`NetworkType.Overlay`) or as a type (`NetworkType`).
 */
export const NetworkType = {
  Underlay: 'Underlay',
  Overlay: 'Overlay',
  GlobalBGP: 'GlobalBGP',
} as const;
/** One of `Underlay` | `Overlay` | `GlobalBGP` (SPEC §2.1). */
export type NetworkType = (typeof NetworkType)[keyof typeof NetworkType];
/** All network types, in SPEC order. */
export const NETWORK_TYPES: readonly NetworkType[] = Object.values(NetworkType);

/**
 * Network modes (`Network.spec.mode`, SPEC §2.1). Empty means the type's default (VLAN for Underlay, VXLAN for Overlay,
 * GlobalBGP for GlobalBGP); see `effectiveNetworkMode`.
 */
export const NetworkMode = {
  VLAN: 'VLAN',
  BGP: 'BGP',
  VXLAN: 'VXLAN',
  GlobalBGP: 'GlobalBGP',
} as const;
/** One of `VLAN` | `BGP` | `VXLAN` | `GlobalBGP` (SPEC §2.1). */
export type NetworkMode = (typeof NetworkMode)[keyof typeof NetworkMode];
/** All network modes, in SPEC order. */
export const NETWORK_MODES: readonly NetworkMode[] = Object.values(NetworkMode);

/** Default mode of each network type when `spec.mode` is empty (SPEC §2.1). */
export const DEFAULT_NETWORK_MODE_OF_TYPE: Readonly<Record<NetworkType, NetworkMode>> = {
  Underlay: NetworkMode.VLAN,
  Overlay: NetworkMode.VXLAN,
  GlobalBGP: NetworkMode.GlobalBGP,
};

/** IP versions as written in `Subnet.spec.range.version` and `IPInstance.spec.address.version` (SPEC §2.2, §2.3). */
export const IPVersion = {
  IPv4: '4',
  IPv6: '6',
} as const;
/** `"4"` | `"6"` (a string, as in the original API). */
export type IPVersion = (typeof IPVersion)[keyof typeof IPVersion];
/** Both IP versions, v4 first. */
export const IP_VERSIONS: readonly IPVersion[] = Object.values(IPVersion);

/**
 * IP family of a pod (annotation {@link ANNOTATION_IP_FAMILY}, env `DEFAULT_IP_FAMILY`; SPEC §1.3, §3.1). The values are
 * the canonical names the mutating webhook writes back (SPEC §3.2).
 */
export const IPFamily = {
  IPv4Only: 'IPv4Only',
  IPv6Only: 'IPv6Only',
  DualStack: 'DualStack',
} as const;
/** One of `IPv4Only` | `IPv6Only` | `DualStack`. */
export type IPFamily = (typeof IPFamily)[keyof typeof IPFamily];
/** All IP families, in SPEC order. */
export const IP_FAMILIES: readonly IPFamily[] = Object.values(IPFamily);

// ---------------------------------------------------------------------------------------------------------------------
// Pod / Namespace inputs (SPEC §3.1) and webhook outputs (SPEC §3.2)

/** Annotation or label (Pod or Namespace; annotation wins): name of the Network to use (SPEC §3.1). */
export const ANNOTATION_SPECIFIED_NETWORK = 'networking.alibaba.com/specified-network';
/** Label form of {@link ANNOTATION_SPECIFIED_NETWORK}; the key is the same string (SPEC §3.1). */
export const LABEL_SPECIFIED_NETWORK = ANNOTATION_SPECIFIED_NETWORK;
/** Annotation or label: `"<subnet>"` or `"<v4subnet>/<v6subnet>"` (SPEC §3.1). */
export const ANNOTATION_SPECIFIED_SUBNET = 'networking.alibaba.com/specified-subnet';
/** Label form of {@link ANNOTATION_SPECIFIED_SUBNET}; the key is the same string (SPEC §3.1). */
export const LABEL_SPECIFIED_SUBNET = ANNOTATION_SPECIFIED_SUBNET;
/** Annotation or label: `Underlay` / `Overlay` / `GlobalBGP`, case-insensitive; see {@link parseNetworkType} (SPEC §3.1). */
export const ANNOTATION_NETWORK_TYPE = 'networking.alibaba.com/network-type';
/** Label form of {@link ANNOTATION_NETWORK_TYPE}; the key is the same string (SPEC §3.1). */
export const LABEL_NETWORK_TYPE = ANNOTATION_NETWORK_TYPE;
/** Annotation only (Pod or Namespace): IP family, see {@link parseIPFamily} (SPEC §3.1). */
export const ANNOTATION_IP_FAMILY = 'networking.alibaba.com/ip-family';
/** Pod annotation: comma-separated IPs (`ip` or `v4ip/v6ip`) indexed by the stateful pod's ordinal (SPEC §3.1). */
export const ANNOTATION_IP_POOL = 'networking.alibaba.com/ip-pool';
/** Pod annotation: comma-separated MACs indexed by the stateful pod's ordinal (SPEC §3.1). */
export const ANNOTATION_MAC_POOL = 'networking.alibaba.com/mac-pool';
/** Pod annotation: Go bool (see {@link parseGoBool}); keep a stateful pod's IPs across re-creation (SPEC §3.1). */
export const ANNOTATION_IP_RETAIN = 'networking.alibaba.com/ip-retain';
/** Service annotation (MultiCluster): bool, export/merge the endpoints across clusters (SPEC §3.1). */
export const ANNOTATION_GLOBAL_SERVICE = 'networking.alibaba.com/global-service';
/** Pod annotation written by the mutating webhook, value {@link HANDLED_BY_WEBHOOK_VALUE} (SPEC §3.2). */
export const ANNOTATION_HANDLED_BY_WEBHOOK = 'networking.alibaba.com/handled-by-webhook';
/** Value of {@link ANNOTATION_HANDLED_BY_WEBHOOK}: `"true"` (SPEC §3.2). */
export const HANDLED_BY_WEBHOOK_VALUE = 'true';
/** Pod annotation written by the daemon: `"<ip>[,<ip>]"`, plain IPs, read by felix (SPEC §3.3). */
export const ANNOTATION_CALICO_POD_IPS = 'cni.projectcalico.org/podIPs';
/**
 * Pod annotation written by the daemon with {@link ANNOTATION_CALICO_POD_IPS}: one plain IP, the IPv4 address if the
 * pod has one, else its first. Felix's readiness wants it (or `status.podIP`) before a pod becomes a workload endpoint,
 * so pods are enforced without waiting for the kubelet to write their status.
 */
export const ANNOTATION_CALICO_POD_IP = 'cni.projectcalico.org/podIP';

/** Pod label: `true`/`TRUE` makes the pod webhooks skip the pod (chart objectSelector, SPEC §3.1, §5.1). */
export const LABEL_WEBHOOK_IGNORE = 'webhook.hybridnet.io/ignore';
/** Values of {@link LABEL_WEBHOOK_IGNORE} the chart's objectSelector excludes (`NotIn [TRUE,true]`, SPEC §5.1). */
export const WEBHOOK_IGNORE_VALUES: readonly string[] = ['TRUE', 'true'];
/** Pod label key the chart's pod webhooks additionally exclude (`app NotIn [kube-proxy]`, SPEC §5.1, §10). */
export const LABEL_APP = 'app';
/** Value of {@link LABEL_APP} excluded from the pod webhooks by default (SPEC §5.1). */
export const KUBE_PROXY_APP_VALUE = 'kube-proxy';

// ---------------------------------------------------------------------------------------------------------------------
// IPInstance metadata (SPEC §2.3) and multi-cluster labels (SPEC §3.5)

/** IPInstance label: object schema version, always {@link IPINSTANCE_LATEST_VERSION} (SPEC §2.3). */
export const LABEL_VERSION = 'networking.alibaba.com/version';
/** Value of {@link LABEL_VERSION} written on every IPInstance: `v1.2` (SPEC §2.3). */
export const IPINSTANCE_LATEST_VERSION = 'v1.2';
/** IPInstance / RemoteSubnet label: subnet name (SPEC §2.3, §3.5). */
export const LABEL_SUBNET = 'networking.alibaba.com/subnet';
/** IPInstance label: network name (SPEC §2.3). */
export const LABEL_NETWORK = 'networking.alibaba.com/network';
/** IPInstance / RemoteVtep label: node name (`pod.spec.nodeName`; dropped on reservation) (SPEC §2.3, §3.5). */
export const LABEL_NODE = 'networking.alibaba.com/node';
/** IPInstance label: pod name, hashed when longer than 63 characters (SPEC §2.3, §4.3). */
export const LABEL_POD = 'networking.alibaba.com/pod';
/** IPInstance label: pod UID (dropped on reservation) (SPEC §2.3). */
export const LABEL_POD_UID = 'networking.alibaba.com/pod-uid';
/** IPInstance label (VMIPRetain): name of the owning VirtualMachine (SPEC §2.3, §4.4). */
export const LABEL_VM = 'networking.alibaba.com/vm';
/** RemoteSubnet / RemoteVtep label: remote cluster name (SPEC §2.5, §3.5). */
export const LABEL_CLUSTER = 'networking.alibaba.com/cluster';
/** Mirrored EndpointSlice label: remote cluster name (SPEC §3.5). */
export const LABEL_REMOTE_CLUSTER = 'networking.alibaba.com/remote-cluster';
/** Mirrored EndpointSlice label: owning Service name (Kubernetes well-known label, SPEC §3.5). */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
/** Mirrored EndpointSlice label: manager of the slice, value {@link REMOTE_ENDPOINTSLICE_MANAGER} (SPEC §3.5). */
export const LABEL_ENDPOINTSLICE_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
/** Value of {@link LABEL_ENDPOINTSLICE_MANAGED_BY} on mirrored EndpointSlices (SPEC §3.5). */
export const REMOTE_ENDPOINTSLICE_MANAGER = 'remote-endpointslice.hybridnet';

// ---------------------------------------------------------------------------------------------------------------------
// Node labels written by the manager (SPEC §3.4)

/** Node label: `true` when some Underlay network's nodeSelector matches the node (SPEC §3.4). */
export const LABEL_UNDERLAY_NETWORK_ATTACHMENT = 'networking.alibaba.com/underlay-network-attachment';
/** Node label: `true` when any Overlay network exists (SPEC §3.4). */
export const LABEL_OVERLAY_NETWORK_ATTACHMENT = 'networking.alibaba.com/overlay-network-attachment';
/** Node label: `true` when the node is attached to a BGP-mode underlay and a GlobalBGP network exists (SPEC §3.4). */
export const LABEL_BGP_NETWORK_ATTACHMENT = 'networking.alibaba.com/bgp-network-attachment';
/** Value of the `*-network-attachment` labels when attached (absent otherwise): `"true"` (SPEC §3.4). */
export const ATTACHED = 'true';

/** Node label: IPv4 quota of the node's underlay network, {@link QuotaValue} (SPEC §3.4). */
export const LABEL_IPV4_ADDRESS_QUOTA = 'networking.alibaba.com/ipv4-address-quota';
/** Node label: IPv6 quota of the node's underlay network, {@link QuotaValue} (SPEC §3.4). */
export const LABEL_IPV6_ADDRESS_QUOTA = 'networking.alibaba.com/ipv6-address-quota';
/** Node label: dual-stack quota of the node's underlay network, {@link QuotaValue} (SPEC §3.4). */
export const LABEL_DUALSTACK_ADDRESS_QUOTA = 'networking.alibaba.com/dualstack-address-quota';
/** Legacy single-stack quota label; declared by the original but never written (SPEC §3.4). */
export const LABEL_ADDRESS_QUOTA = 'networking.alibaba.com/address-quota';
/** Values of the quota labels: `nonempty` when `available > 0`, else `empty` (SPEC §3.4). */
export const QuotaValue = {
  NonEmpty: 'nonempty',
  Empty: 'empty',
} as const;
/** `nonempty` | `empty`. */
export type QuotaValue = (typeof QuotaValue)[keyof typeof QuotaValue];

// ---------------------------------------------------------------------------------------------------------------------
// Finalizers and taints (SPEC §2, §3.5)

/** Finalizer on every IPInstance, and on stateful / VM pods; removed after the IPAM release (SPEC §2.3, §3.5). */
export const FINALIZER_IP_ALLOCATED = 'networking.alibaba.com/ip-allocated';
/** Finalizer on Networks and Subnets while their usage metrics are registered (SPEC §2.1, §2.2, §3.5). */
export const FINALIZER_METRICS_REGISTERED = 'networking.alibaba.com/metrics-registered';
/** Finalizer on RemoteClusters while their manager runtime is registered (SPEC §2.5, §3.5). */
export const FINALIZER_MANAGER_RUNTIME_REGISTERED = 'multicluster.alibaba.com/manager-runtime-registered';
/** Taint key for nodes in no network (set/removed by our manager, D6) and tolerated by hostNetwork pods (SPEC §3.5). */
export const TAINT_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';
/** Well-known Kubernetes node label of the node's zone; the sandbox's underlay Network selects nodes by it. */
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';

// ---------------------------------------------------------------------------------------------------------------------
// Defaults (SPEC §1.3, §3.1, §4.4)

/** `--stateful-workload-kinds` default: owner kinds whose pods keep their IPs (SPEC §4.4). */
export const DEFAULT_STATEFUL_WORKLOAD_KINDS: readonly string[] = ['StatefulSet'];
/** `--default-ip-retain` default: retain IPs of stateful pods unless the pod says otherwise (SPEC §3.1). */
export const DEFAULT_IP_RETAIN = true;
/** Network type when `DEFAULT_NETWORK_TYPE` is unset (code default; the chart sets `Overlay`) (SPEC §1.3). */
export const DEFAULT_NETWORK_TYPE: NetworkType = NetworkType.Underlay;
/** IP family when `DEFAULT_IP_FAMILY` is unset (SPEC §1.3). */
export const DEFAULT_IP_FAMILY: IPFamily = IPFamily.IPv4Only;
/** Name of the environment variable holding the default network type (SPEC §1.3). */
export const ENV_DEFAULT_NETWORK_TYPE = 'DEFAULT_NETWORK_TYPE';
/** Name of the environment variable holding the default IP family (SPEC §1.3). */
export const ENV_DEFAULT_IP_FAMILY = 'DEFAULT_IP_FAMILY';

// ---------------------------------------------------------------------------------------------------------------------
// Parsers

/**
 * Parses a network type as the original does for env `DEFAULT_NETWORK_TYPE` and the `network-type` annotation/label
 * (SPEC §1.3, §3.1): case-insensitive `underlay` → `Underlay`, `overlay` → `Overlay`, `globalbgp` → `GlobalBGP`; the
 * empty string → `whenEmpty` (default `Underlay`, the env rule; pass the configured default when parsing an annotation,
 * SPEC §4.4 step 4). Anything else is returned verbatim, so callers can reject it with the user's own spelling; test the
 * result with {@link isNetworkType} (which narrows it to `NetworkType`). Never throws.
 */
export function parseNetworkType(text: string, whenEmpty: NetworkType = DEFAULT_NETWORK_TYPE): string {
  if (text === '') return whenEmpty;
  return NETWORK_TYPES.find((t) => t.toLowerCase() === text.toLowerCase()) ?? text;
}

/** True when `value` is exactly one of the canonical network type names (case-sensitive) (SPEC §2.1). */
export function isNetworkType(value: unknown): value is NetworkType {
  return typeof value === 'string' && (NETWORK_TYPES as readonly string[]).includes(value);
}

/** True when `value` is exactly one of the canonical network mode names (case-sensitive) (SPEC §2.1). */
export function isNetworkMode(value: unknown): value is NetworkMode {
  return typeof value === 'string' && (NETWORK_MODES as readonly string[]).includes(value);
}

const IP_FAMILY_ALIASES: ReadonlyMap<string, IPFamily> = new Map([
  ['ipv4', IPFamily.IPv4Only],
  ['ipv4only', IPFamily.IPv4Only],
  ['ipv6', IPFamily.IPv6Only],
  ['ipv6only', IPFamily.IPv6Only],
  ['dualstack', IPFamily.DualStack],
]);

/**
 * Parses an IP family as the original does for env `DEFAULT_IP_FAMILY` and the `ip-family` annotation (SPEC §1.3,
 * §3.1), case-insensitively: `ipv4` / `ipv4only` → `IPv4Only`; `ipv6` / `ipv6only` → `IPv6Only`; `dualstack` →
 * `DualStack`; the empty string → `whenEmpty` (default `IPv4Only`, the env rule; pass the configured default when
 * parsing an annotation, SPEC §4.4 step 4). Anything else is returned verbatim so callers can reject it; test the result
 * with {@link isIPFamily} (which narrows it to `IPFamily`). Never throws.
 */
export function parseIPFamily(text: string, whenEmpty: IPFamily = DEFAULT_IP_FAMILY): string {
  if (text === '') return whenEmpty;
  return IP_FAMILY_ALIASES.get(text.toLowerCase()) ?? text;
}

/** True when `value` is exactly one of the canonical IP family names (case-sensitive) (SPEC §1.3). */
export function isIPFamily(value: unknown): value is IPFamily {
  return typeof value === 'string' && (IP_FAMILIES as readonly string[]).includes(value);
}

/** True when `value` is `"4"` or `"6"` (SPEC §2.2). */
export function isIPVersion(value: unknown): value is IPVersion {
  return value === IPVersion.IPv4 || value === IPVersion.IPv6;
}

const GO_TRUE: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * Parses a boolean exactly like Go's `strconv.ParseBool` (used for `ip-retain`, `global-service`; SPEC §3.1): `1`, `t`,
 * `T`, `TRUE`, `true`, `True` → true; `0`, `f`, `F`, `FALSE`, `false`, `False` → false; anything else (including
 * surrounding spaces, `yes`, `tRUE`) → `undefined`, which callers treat as "unparsable, use the default". Never throws.
 */
export function parseGoBool(text: string): boolean | undefined {
  if (GO_TRUE.has(text)) return true;
  if (GO_FALSE.has(text)) return false;
  return undefined;
}
