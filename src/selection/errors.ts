/**
 * The one error type of pod network selection (SPEC §4.4). `code` says which rule failed so the
 * webhook can label its metrics and the manager can decide whether to retry; the message names the
 * object, the field (annotation or label, pod or namespace), the value and the rule.
 */

/** Which rule of SPEC §4.4 failed. */
export type PodSelectionErrorCode =
  /** The pod's retained IPInstances do not form one address or one IPv4 + one IPv6 pair. */
  | 'retained-ips'
  /** specified-subnet has more than two names, or an empty name. */
  | 'subnet-count'
  /** A specified subnet does not exist. */
  | 'subnet-not-found'
  /** With two names the first must be IPv4 and the second IPv6. */
  | 'subnet-order'
  /** Two specified subnets belong to different networks. */
  | 'subnet-network-mismatch'
  /** specified-network names another network than the specified subnets. */
  | 'network-subnet-conflict'
  /** The specified (or retained) network does not exist. */
  | 'network-not-found'
  /** network-type differs from the type of the specified network. */
  | 'network-type-mismatch'
  /** network-type (or DEFAULT_NETWORK_TYPE) is not Underlay, Overlay or GlobalBGP. */
  | 'invalid-network-type'
  /** ip-family (or DEFAULT_IP_FAMILY) is not IPv4/IPv4Only, IPv6/IPv6Only or DualStack. */
  | 'invalid-ip-family';

/** Raised by the selection functions; see {@link PodSelectionErrorCode}. */
export class PodSelectionError extends Error {
  constructor(
    readonly code: PodSelectionErrorCode,
    message: string,
    /** `namespace/name` of the pod, when known. */
    readonly pod?: string,
  ) {
    super(message);
    this.name = 'PodSelectionError';
  }
}
