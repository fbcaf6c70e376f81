/**
 * Inputs and outputs of pod network selection (SPEC §4.4): the minimal shapes of the Pod and
 * Namespace it reads, the read-only cluster view it queries, the configured defaults, and the
 * result. Structural types so that `@kubernetes/client-node`'s `V1Pod` / `V1Namespace`, informer
 * caches of the manager and plain test objects all fit.
 */
import type { IPFamily, IPInstance, Network, NetworkType, Subnet } from '../api/index.ts';

/** An owner reference as read from `metadata.ownerReferences`. */
export interface OwnerReferenceLike {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}

/** The metadata fields selection reads. */
export interface ObjectMetaLike {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReferenceLike[];
}

/** A Pod (only the fields selection and the webhook read). */
export interface PodLike {
  metadata?: ObjectMetaLike;
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    nodeSelector?: Record<string, string>;
  };
}

/** A Namespace (annotations and labels are what matter). */
export interface NamespaceLike {
  metadata?: ObjectMetaLike;
}

/** Label-equality filter of IPInstances (all namespaces when `namespace` is absent). */
export interface IPInstanceFilter {
  namespace?: string;
  labels?: Record<string, string>;
}

/**
 * A synchronous, read-only view of the cluster objects selection needs. Implementations: the
 * webhook's informer cache, the manager's cache, plain arrays in tests. Returned objects must not
 * be mutated by the caller. `listIPInstances` returns terminating objects too; selection filters.
 */
export interface SelectionView {
  getNetwork(name: string): Network | undefined;
  getSubnet(name: string): Subnet | undefined;
  listIPInstances(filter: IPInstanceFilter): readonly IPInstance[];
}

/** Configured defaults (flags and environment of the manager and the webhook, SPEC §1.3, §3.1, §4.4). */
export interface SelectionDefaults {
  /**
   * Parsed `DEFAULT_NETWORK_TYPE` (see `parseNetworkType`); an unknown spelling is kept verbatim so
   * that pods relying on it are refused with the operator's own value in the message.
   */
  networkType: string;
  /** Parsed `DEFAULT_IP_FAMILY` (see `parseIPFamily`), kept verbatim when unknown. */
  ipFamily: string;
  /** `--stateful-workload-kinds` (default `StatefulSet`). */
  statefulWorkloadKinds: readonly string[];
  /** `--default-ip-retain` (default true). */
  ipRetain: boolean;
}

/** Where the decision came from (SPEC §4.4 steps 1–3, or nothing specified anywhere). */
export type SelectionSource = 'retained-ips' | 'pod' | 'namespace' | 'defaults';

/** The result of {@link selectPodNetwork}. */
export interface PodNetworkSelection {
  /** Network name if one was specified, implied by specified subnets, or held by retained IPs; else `''`. */
  network: string;
  /** Specified subnets: `[]`, `[name]` or `[v4name, v6name]`. */
  subnets: string[];
  /** The resolved network type (specified, inherited from the network, or the default). */
  networkType: NetworkType;
  /** The resolved IP family (from retained IPs, the annotation, or the default). */
  ipFamily: IPFamily;
  /** `spec.nodeSelector` of the network when a network name is known. */
  networkNodeSelector?: Record<string, string>;
  /** True when the pod already holds retained IPInstances (a stateful pod re-created). */
  retainedIPExist: boolean;
  source: SelectionSource;
}
