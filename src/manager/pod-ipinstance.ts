/**
 * The IPInstances of a pod as the pod controller writes them (SPEC §2.3, §4.6): the object created for an allocated
 * address (name, labels, finalizer, owner reference, binding), the merge patch that re-couples a retained one to a
 * re-created stateful pod, and the patches that reserve one when its stateful pod ends. Pure builders: no client, no
 * clock (the reserve time is passed in).
 */
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { IPInstance } from '../api/index.ts';
import {
  FINALIZER_IP_ALLOCATED,
  IPINSTANCE_LATEST_VERSION,
  IPInstanceResource,
  LABEL_NETWORK,
  LABEL_NODE,
  LABEL_POD,
  LABEL_POD_UID,
  LABEL_SUBNET,
  LABEL_VERSION,
} from '../api/index.ts';
import type { AllocatedIP, PodRef } from '../ipam/index.ts';
import { podLabelValue, statefulIndex } from '../net/index.ts';
import { controllerRef } from './pod-decision.ts';

/** The owner reference of a pod's IPInstances. */
export type IPInstanceOwner = Pick<V1OwnerReference, 'apiVersion' | 'kind' | 'name' | 'uid'> & {
  controller: true;
  blockOwnerDeletion: boolean;
};

/** The IPInstance owner: the stateful controller ref, else the pod itself (SPEC §2.3). */
export function ipInstanceOwner(pod: V1Pod, stateful: boolean): IPInstanceOwner {
  const ref = controllerRef(pod);
  if (stateful && ref !== undefined) {
    return {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      name: ref.name,
      uid: ref.uid,
      controller: true,
      blockOwnerDeletion: ref.blockOwnerDeletion ?? false,
    };
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    controller: true,
    blockOwnerDeletion: false,
  };
}

/** Labels of the IPInstance of `ip` bound to `pod`: version, subnet, network, node, pod name (label form), pod UID. */
export function ipInstanceLabels(pod: V1Pod, ip: AllocatedIP): Record<string, string> {
  return {
    [LABEL_VERSION]: IPINSTANCE_LATEST_VERSION,
    [LABEL_SUBNET]: ip.subnet,
    [LABEL_NETWORK]: ip.network,
    [LABEL_NODE]: pod.spec?.nodeName ?? '',
    [LABEL_POD]: podLabelValue(pod.metadata?.name ?? ''),
    [LABEL_POD_UID]: pod.metadata?.uid ?? '',
  };
}

/** `spec.binding` to `pod`: referred owner, node, pod UID and name; a stateful one adds the pod's ordinal. */
export function ipInstanceBinding(pod: V1Pod, stateful: boolean): Record<string, unknown> {
  const owner = ipInstanceOwner(pod, stateful);
  const b: Record<string, unknown> = {
    referredObject: { kind: owner.kind, name: owner.name, uid: owner.uid },
    nodeName: pod.spec?.nodeName ?? '',
    podUID: pod.metadata?.uid ?? '',
    podName: pod.metadata?.name ?? '',
  };
  if (stateful) b.stateful = { index: statefulIndex(pod.metadata?.name ?? '') };
  return b;
}

/** The IPInstance that couples `ip` to `pod` (SPEC §4.6 Couple), with the MAC address `mac`. */
export function ipInstanceBody(pod: V1Pod, ip: AllocatedIP, mac: string, stateful: boolean): IPInstance {
  return {
    apiVersion: IPInstanceResource.apiVersion,
    kind: IPInstanceResource.kind,
    metadata: {
      name: ip.ipInstanceName,
      namespace: pod.metadata?.namespace ?? '',
      labels: ipInstanceLabels(pod, ip),
      finalizers: [FINALIZER_IP_ALLOCATED],
      ownerReferences: [ipInstanceOwner(pod, stateful)],
    },
    spec: {
      network: ip.network,
      subnet: ip.subnet,
      address: {
        version: ip.version,
        ip: ip.address,
        ...(ip.gateway === undefined ? {} : { gateway: ip.gateway }),
        netID: ip.netID,
        mac,
      },
      binding: ipInstanceBinding(pod, stateful),
    },
  };
}

/**
 * ReCouple (SPEC §4.6 `assign`): the merge patch that binds an existing IPInstance of `ip` to the stateful `pod` —
 * labels, owner, finalizer, binding; `spec.address` untouched. Carries the read `resourceVersion`.
 */
export function reCouplePatch(pod: V1Pod, ip: AllocatedIP, resourceVersion: string | undefined): object {
  return {
    metadata: {
      resourceVersion,
      labels: ipInstanceLabels(pod, ip),
      ownerReferences: [ipInstanceOwner(pod, true)],
      finalizers: [FINALIZER_IP_ALLOCATED],
    },
    spec: { binding: ipInstanceBinding(pod, true) },
  };
}

/** IPReserve (SPEC §4.6 1b): the merge patch that unbinds an IPInstance from node and pod UID (podName stays). */
export function reserveBindingPatch(resourceVersion: string | undefined): object {
  return {
    metadata: { resourceVersion, labels: { [LABEL_NODE]: null, [LABEL_POD_UID]: null } },
    spec: { binding: { nodeName: '', podUID: '' } },
  };
}

/** IPReserve (SPEC §4.6 1b): the status merge patch that clears node, pod and sandbox, stamped `now`. */
export function reserveStatusPatch(now: Date): object {
  return {
    status: {
      nodeName: null,
      podName: null,
      podNamespace: null,
      sandboxID: null,
      updateTimestamp: now.toISOString(),
    },
  };
}

/** The pod as the IPAM engine records an address holder (SPEC §4.2). */
export function podRefOf(pod: V1Pod): Required<PodRef> {
  return {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    nodeName: pod.spec?.nodeName ?? '',
    uid: pod.metadata?.uid ?? '',
  };
}
