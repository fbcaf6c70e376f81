/**
 * The API side of pod ADD (SPEC §7.3 steps 2–4, 11): the pod and its IP family, the wait for the manager's
 * IPInstances in the watch cache, the `cni.projectcalico.org/podIPs` and `/podIP` annotations and the IPInstance
 * status. Reads pods, namespaces and the caches; writes only those annotations and IPInstance status.
 */
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import {
  ANNOTATION_CALICO_POD_IP,
  ANNOTATION_CALICO_POD_IPS,
  IPInstanceResource,
  parseIPFamily,
  type IPInstance,
} from '../../api/index.ts';
import { KubeApiError, NamespacesPath, PodsPath, resourcePath, retryOnConflict } from '../../kube/index.ts';
import { CniRequestError } from '../config.ts';
import { familyNeedsNamespace, podFamilyInput } from '../plan/family.ts';
import { plainIP } from '../plan/network.ts';
import type { PodRequest } from '../server.ts';
import type { PodContext } from './context.ts';

/**
 * The pod of a request from the API server; 404 ⇒ CNI code 3, other failures ⇒ 11 (try again), a UID other than
 * the runtime's K8S_POD_UID ⇒ 3 (the sandbox belongs to a pod that is gone).
 * @throws CniRequestError as above.
 */
export async function readPod(ctx: PodContext, req: PodRequest, who: string): Promise<V1Pod> {
  let pod: V1Pod;
  try {
    pod = await ctx.client.get<V1Pod>(resourcePath(PodsPath, req.podNamespace, req.podName));
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404)
      throw new CniRequestError(400, 3, `pod ${who} not found in the API server`);
    throw new CniRequestError(500, 11, `pod ${who}: cannot read it from the API server: ${String(err)}`);
  }
  if (req.podUID && pod.metadata?.uid !== req.podUID)
    throw new CniRequestError(400, 3, `pod ${who}: UID ${req.podUID} is not the current pod's (${pod.metadata?.uid})`);
  return pod;
}

/** The pod's IP family (SPEC §4.4: its annotation, else its namespace's, else the daemon's default). */
export async function podFamily(ctx: PodContext, pod: V1Pod): Promise<ReturnType<typeof parseIPFamily>> {
  return parseIPFamily(
    podFamilyInput(pod, await namespaceForFamily(ctx, pod)),
    parseIPFamily(ctx.config.defaultIPFamily) as never,
  );
}

/** The pod's Namespace when its family comes from there (SPEC §4.4); unreadable ⇒ undefined (logged). */
async function namespaceForFamily(ctx: PodContext, pod: V1Pod): Promise<V1Namespace | undefined> {
  if (!familyNeedsNamespace(pod)) return undefined;
  const name = pod.metadata?.namespace ?? '';
  return ctx.client.get<V1Namespace>(resourcePath(NamespacesPath, undefined, name)).catch((err: unknown) => {
    ctx.logger.warn({ err, namespace: name }, 'cannot read the namespace of a pod; its ip-family defaults');
    return undefined;
  });
}

/** The pod's live IPInstances on this node, from the watch cache. */
export function localInstances(ctx: PodContext, req: PodRequest, pod: V1Pod): IPInstance[] {
  return ctx.cluster
    .instancesOfPod(pod.metadata?.uid ?? '')
    .filter((i) => !i.metadata?.deletionTimestamp && i.metadata?.namespace === req.podNamespace);
}

/**
 * Waits (polling the cache every 25 ms, `--ip-instance-wait-timeout`) until the pod has `expect` IPInstances here.
 * @throws CniRequestError code 11 naming the pod, the node and the counts when they do not come in time (D5).
 */
export async function waitInstances(
  ctx: PodContext,
  req: PodRequest,
  pod: V1Pod,
  expect: number,
): Promise<IPInstance[]> {
  const uid = pod.metadata?.uid ?? '';
  const deadline = Date.now() + ctx.config.ipInstanceWaitMs;
  let got: IPInstance[] = [];
  for (;;) {
    got = localInstances(ctx, req, pod);
    if (got.length >= expect) return got;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new CniRequestError(
    400,
    11,
    `failed to wait for pod ${req.podNamespace}/${req.podName} (uid ${uid}) to be coupled with ip on node ${ctx.config.nodeName}: expect ${expect} IPInstance(s) and got ${got.length} within ${ctx.config.ipInstanceWaitMs / 1000}s; is hybridnet-manager running and does the pod's network serve this node?`,
  );
}

/**
 * The Calico annotations of a pod with these plain IPs: `podIPs` all of them, comma-separated (SPEC §3.3), and the
 * singular `podIP` — the IPv4 address if any, else the first — which Felix's readiness needs when the pod has no
 * `status.podIP` yet (no kubelet has written it). `{}` for no IPs.
 */
export function calicoPodIPAnnotations(ips: string[]): Record<string, string> {
  const first = ips.find((ip) => !ip.includes(':')) ?? ips[0];
  if (first === undefined) return {};
  return { [ANNOTATION_CALICO_POD_IPS]: ips.join(','), [ANNOTATION_CALICO_POD_IP]: first };
}

/** SPEC §7.3 step 3: the Calico pod IP annotations, one merge patch (a failure is logged, ADD goes on). */
export async function patchCalicoPodIPs(ctx: PodContext, req: PodRequest, instances: IPInstance[]): Promise<void> {
  if (!ctx.config.patchCalicoPodIPsAnnotation) return;
  const annotations = calicoPodIPAnnotations(instances.map((i) => plainIP(i.spec.address.ip)));
  await ctx.client
    .mergePatch(resourcePath(PodsPath, req.podNamespace, req.podName), { metadata: { annotations } })
    .catch((err: unknown) => ctx.logger.warn({ err, pod: req.podName }, 'podIPs annotation patch failed'));
}

/** SPEC §7.3 step 11: the status of each IPInstance, concurrently, retried on conflict; never rejects (logged). */
export async function updateIPInstanceStatus(
  ctx: PodContext,
  req: PodRequest,
  pod: V1Pod,
  instances: IPInstance[],
): Promise<void> {
  if (!ctx.config.updateIPInstanceStatus) return;
  await Promise.all(
    instances.map(async (ins) => {
      const path = resourcePath(IPInstanceResource, ins.metadata?.namespace, ins.metadata?.name);
      await retryOnConflict(() =>
        ctx.client.mergePatch(`${path}/status`, {
          status: {
            sandboxID: req.containerID,
            nodeName: ctx.config.nodeName,
            podNamespace: req.podNamespace,
            podName: pod.metadata?.name ?? req.podName,
            updateTimestamp: new Date().toISOString(),
          },
        }),
      ).catch((err: unknown) =>
        ctx.logger.warn({ err, ipInstance: ins.metadata?.name }, 'IPInstance status patch failed'),
      );
    }),
  );
}
