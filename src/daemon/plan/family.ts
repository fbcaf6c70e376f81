/**
 * The IP family a pod ADD expects IPInstances for (SPEC §7.3 step 1 with §4.4): a pod the webhook handled carries the
 * decided `networking.alibaba.com/ip-family`; otherwise the rule of `selectPodNetwork` — the pod's own inputs when any
 * of specified-network / specified-subnet / network-type / ip-family is set on it, else the namespace's — and the
 * daemon's default when the chosen source names no family. (Retained IPs of stateful pods are not looked at: the
 * manager keeps their family, and the ADD then waits for that many IPInstances only if the inputs agree.)
 */
import { ANNOTATION_HANDLED_BY_WEBHOOK, ANNOTATION_IP_FAMILY } from '../../api/index.ts';
import { isEmptyConfig, readSpecifiedConfig } from '../../selection/index.ts';

interface MetaLike {
  metadata?: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
}

/** True when the namespace's annotations are needed to know the pod's family (see module doc). */
export function familyNeedsNamespace(pod: MetaLike): boolean {
  if (pod.metadata?.annotations?.[ANNOTATION_HANDLED_BY_WEBHOOK] !== undefined) return false;
  return isEmptyConfig(readSpecifiedConfig('pod', pod.metadata, pod.metadata?.namespace ?? ''));
}

/**
 * The ip-family input text of a pod (`''` = none given ⇒ the caller's default).
 * @param namespaceObj the pod's Namespace, when {@link familyNeedsNamespace} said so and it could be read.
 */
export function podFamilyInput(pod: MetaLike, namespaceObj: MetaLike | undefined): string {
  if (!familyNeedsNamespace(pod)) return pod.metadata?.annotations?.[ANNOTATION_IP_FAMILY] ?? '';
  return namespaceObj?.metadata?.annotations?.[ANNOTATION_IP_FAMILY] ?? '';
}
