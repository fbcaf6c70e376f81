/**
 * The network of a scheduled pod (SPEC §4.5), chosen from plain values: the pod, its Namespace and Node, the cached
 * Networks and the selection view of the caches; and the refusal error the pod controller reports when there is none.
 * Pure: no API call, no IPAM change.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Network } from '../api/index.ts';
import {
  ANNOTATION_HANDLED_BY_WEBHOOK,
  ANNOTATION_IP_FAMILY,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_NETWORK,
  ANNOTATION_SPECIFIED_SUBNET,
  HANDLED_BY_WEBHOOK_VALUE,
  LABEL_BGP_NETWORK_ATTACHMENT,
  LABEL_NETWORK_TYPE,
  LABEL_SPECIFIED_NETWORK,
  LABEL_SPECIFIED_SUBNET,
  NetworkType,
  effectiveNetworkType,
  isIPFamily,
  isNetworkType,
  parseIPFamily,
  parseNetworkType,
} from '../api/index.ts';
import type { IPFamilyMode } from '../ipam/index.ts';
import type { NamespaceLike, SelectionView } from '../selection/index.ts';
import { PodSelectionError, selectPodNetwork } from '../selection/index.ts';
import type { ManagerConfig } from './config.ts';
import { isTerminating, selectorMatches } from './context.ts';

/**
 * A pod-level failure that must be reported to the user (Warning event `IPAllocationFail` with `message`) and
 * retried; `pod` is `namespace/name`. Thrown by {@link choosePodNetwork}; the pod controller throws it for a `refuse`
 * decision, an IPAM error and an IPInstance to re-couple that is being deleted.
 */
export class PodAllocationError extends Error {
  constructor(
    readonly pod: string,
    message: string,
  ) {
    super(message);
    this.name = 'PodAllocationError';
  }
}

function annotationOrLabel(pod: V1Pod, annotation: string, label: string): string {
  return pod.metadata?.annotations?.[annotation] || pod.metadata?.labels?.[label] || '';
}

/** The settings the pod decisions read (flags and environment of the manager, SPEC §1.3, §3.1). */
export type PodSettings = Pick<
  ManagerConfig,
  'defaultNetworkType' | 'defaultIPFamily' | 'statefulWorkloadKinds' | 'defaultIPRetain'
>;

/** What the pod asks for once its network is known. */
export interface PodNetworkChoice {
  network: string;
  /** Specified subnets: `[]`, `[name]` or `[v4name, v6name]`. */
  subnets: string[];
  family: IPFamilyMode;
  networkType: string;
}

/** The cache objects the network choice reads. */
export interface NetworkChoiceView {
  /** The pod's Namespace, undefined when not cached. */
  namespace: NamespaceLike | undefined;
  /** The pod's Node (`spec.nodeName`; only its labels are read), undefined when not cached. */
  node: { metadata?: { labels?: Record<string, string> } } | undefined;
  /** Every cached Network, terminating ones included, in cache order (GlobalBGP and Overlay take the first). */
  networks: readonly Network[];
  /** The caches as pod network selection reads them (SPEC §4.4). */
  selection: SelectionView;
}

/**
 * SPEC §4.5: the network of a scheduled pod. A pod the webhook handled (`ANNOTATION_HANDLED_BY_WEBHOOK`) is taken at
 * its word (specified network, subnets, type, family); any other is selected as the webhook would (SPEC §4.4). Without
 * a specified network: the first underlay network (by name) whose nodeSelector matches the node, or the first network
 * of the type (GlobalBGP: only on a node labelled `LABEL_BGP_NETWORK_ATTACHMENT`, unless handled).
 * @throws PodAllocationError for a selection error, an invalid family or type, a specified network that is missing or
 *   does not hold the node, or no network for the node; the message is the Warning event's.
 */
export function choosePodNetwork(pod: V1Pod, view: NetworkChoiceView, config: PodSettings): PodNetworkChoice {
  const podKey = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const nodeName = pod.spec?.nodeName ?? '';
  let specified: string;
  let subnets: string[];
  let networkType: string;
  let family: string;
  const handled = pod.metadata?.annotations?.[ANNOTATION_HANDLED_BY_WEBHOOK] === HANDLED_BY_WEBHOOK_VALUE;
  if (handled) {
    specified = annotationOrLabel(pod, ANNOTATION_SPECIFIED_NETWORK, LABEL_SPECIFIED_NETWORK);
    const subnetText = annotationOrLabel(pod, ANNOTATION_SPECIFIED_SUBNET, LABEL_SPECIFIED_SUBNET);
    subnets = subnetText === '' ? [] : subnetText.split('/');
    const typeText = annotationOrLabel(pod, ANNOTATION_NETWORK_TYPE, LABEL_NETWORK_TYPE);
    networkType = typeText === '' ? config.defaultNetworkType : parseNetworkType(typeText);
    const famText = pod.metadata?.annotations?.[ANNOTATION_IP_FAMILY] ?? '';
    family = famText === '' ? config.defaultIPFamily : parseIPFamily(famText);
  } else {
    try {
      const sel = selectPodNetwork(pod, pod.metadata?.namespace ?? '', view.namespace, view.selection, {
        networkType: config.defaultNetworkType,
        ipFamily: config.defaultIPFamily,
        statefulWorkloadKinds: config.statefulWorkloadKinds,
        ipRetain: config.defaultIPRetain,
      });
      specified = sel.network;
      subnets = sel.subnets;
      networkType = sel.networkType;
      family = sel.ipFamily;
    } catch (err) {
      if (err instanceof PodSelectionError) throw new PodAllocationError(podKey, err.message);
      throw err;
    }
  }
  if (!isIPFamily(family)) throw new PodAllocationError(podKey, `invalid ip family ${JSON.stringify(family)}`);
  if (!isNetworkType(networkType)) {
    throw new PodAllocationError(podKey, `invalid network type ${JSON.stringify(networkType)}`);
  }
  const node = view.node;
  const networks = view.networks.filter((n) => !isTerminating(n));
  let selected: Network | undefined;
  if (networkType === NetworkType.Underlay) {
    selected = networks
      .filter((n) => effectiveNetworkType(n) === NetworkType.Underlay)
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
      .find((n) => selectorMatches(n.spec.nodeSelector, node?.metadata?.labels));
  } else {
    selected = networks.find((n) => effectiveNetworkType(n) === networkType);
    if (
      networkType === NetworkType.GlobalBGP &&
      !handled &&
      node?.metadata?.labels?.[LABEL_BGP_NETWORK_ATTACHMENT] === undefined
    ) {
      selected = undefined;
    }
  }
  if (specified !== '') {
    if (handled) {
      return { network: specified, subnets, family: family, networkType };
    }
    if (view.selection.getNetwork(specified) === undefined) {
      throw new PodAllocationError(podKey, `specified network ${specified} not found`);
    }
    if (selected?.metadata.name !== specified) {
      throw new PodAllocationError(
        podKey,
        `different network selection between controller(${selected?.metadata.name ?? 'none'}) and webhook(${specified}): ` +
          `node ${nodeName} is not in network ${specified}`,
      );
    }
    return { network: specified, subnets, family: family, networkType };
  }
  if (selected === undefined) {
    if (networkType === NetworkType.Underlay) {
      throw new PodAllocationError(
        podKey,
        `unable to find underlay network for node ${nodeName}, should check webhook liveness`,
      );
    }
    throw new PodAllocationError(podKey, `unable to find ${networkType} network for node ${nodeName}`);
  }
  return { network: selected.metadata.name ?? '', subnets, family: family, networkType };
}
