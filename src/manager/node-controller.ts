/**
 * Node controller (SPEC §3.4, §4.8, D6): network attachment labels, address quota labels, and the
 * `node.kubernetes.io/network-unavailable:NoSchedule` taint on nodes that belong to no network (removed once they do).
 * One merge patch per change, carrying the read resourceVersion, retried on conflict.
 */
import type { V1Node, V1Taint } from '@kubernetes/client-node';
import type { Network } from '../api/index.ts';
import {
  ATTACHED,
  LABEL_BGP_NETWORK_ATTACHMENT,
  LABEL_DUALSTACK_ADDRESS_QUOTA,
  LABEL_IPV4_ADDRESS_QUOTA,
  LABEL_IPV6_ADDRESS_QUOTA,
  LABEL_OVERLAY_NETWORK_ATTACHMENT,
  LABEL_UNDERLAY_NETWORK_ATTACHMENT,
  NetworkMode,
  NetworkType,
  QuotaValue,
  TAINT_NETWORK_UNAVAILABLE,
  effectiveNetworkMode,
  effectiveNetworkType,
} from '../api/index.ts';
import { KubeApiError, NodesPath, resourcePath, retryOnConflict } from '../kube/index.ts';
import type { ManagerContext } from './context.ts';
import { isTerminating, selectorMatches } from './context.ts';

/** Desired hybridnet labels of a node (value null = absent) and whether it needs the taint. */
export interface NodePlan {
  labels: Record<string, string | null>;
  taint: boolean;
}

/**
 * Computes attachment + quota labels and the taint (pure).
 * @param quota availability (available > 0) per family of the node's first underlay network, if any.
 */
export function planNode(
  node: V1Node,
  networks: readonly Network[],
  quota: (network: string) => { v4: boolean; v6: boolean; dual: boolean } | undefined,
): NodePlan {
  const labels = node.metadata?.labels ?? {};
  const live = networks
    .filter((n) => !isTerminating(n))
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const underlays = live.filter(
    (n) => effectiveNetworkType(n) === NetworkType.Underlay && selectorMatches(n.spec.nodeSelector, labels),
  );
  const underlay = underlays.length > 0;
  const overlay = live.some((n) => effectiveNetworkType(n) === NetworkType.Overlay);
  const globalBGP = live.some((n) => effectiveNetworkType(n) === NetworkType.GlobalBGP);
  const bgp = underlay && globalBGP && underlays.some((n) => effectiveNetworkMode(n) === NetworkMode.BGP);
  const out: Record<string, string | null> = {
    [LABEL_UNDERLAY_NETWORK_ATTACHMENT]: underlay ? ATTACHED : null,
    [LABEL_OVERLAY_NETWORK_ATTACHMENT]: overlay ? ATTACHED : null,
    [LABEL_BGP_NETWORK_ATTACHMENT]: bgp ? ATTACHED : null,
    [LABEL_IPV4_ADDRESS_QUOTA]: null,
    [LABEL_IPV6_ADDRESS_QUOTA]: null,
    [LABEL_DUALSTACK_ADDRESS_QUOTA]: null,
  };
  const first = underlays[0];
  const q = first === undefined ? undefined : quota(first.metadata.name ?? '');
  if (q !== undefined) {
    out[LABEL_IPV4_ADDRESS_QUOTA] = q.v4 ? QuotaValue.NonEmpty : QuotaValue.Empty;
    out[LABEL_IPV6_ADDRESS_QUOTA] = q.v6 ? QuotaValue.NonEmpty : QuotaValue.Empty;
    out[LABEL_DUALSTACK_ADDRESS_QUOTA] = q.dual ? QuotaValue.NonEmpty : QuotaValue.Empty;
  }
  return { labels: out, taint: !underlay && !overlay && !bgp };
}

/** Reconcile of one Node name. */
export function nodeReconciler(ctx: ManagerContext): (key: string) => Promise<void> {
  const log = ctx.logger.child({ component: 'node-controller' });
  const quota = (network: string): { v4: boolean; v6: boolean; dual: boolean } | undefined => {
    if (!ctx.ipam.hasNetwork(network)) return undefined;
    const u = ctx.ipam.networkUsage(network);
    return { v4: u.ipv4.available > 0n, v6: u.ipv6.available > 0n, dual: u.dualStack.available > 0n };
  };
  return async (name: string): Promise<void> => {
    if (!ctx.isActive()) return;
    const cached = ctx.caches.nodes.get(name);
    if (cached === undefined || isTerminating(cached)) return;
    const path = resourcePath(NodesPath, undefined, name);
    try {
      await retryOnConflict(async () => {
        const node = await ctx.client.get<V1Node>(path);
        const plan = planNode(node, ctx.caches.networks.list(), quota);
        const labels = node.metadata?.labels ?? {};
        const labelPatch: Record<string, string | null> = {};
        for (const [k, v] of Object.entries(plan.labels)) if ((labels[k] ?? null) !== v) labelPatch[k] = v;
        const taints = node.spec?.taints ?? [];
        const has = taints.some((t) => t.key === TAINT_NETWORK_UNAVAILABLE && t.effect === 'NoSchedule');
        let newTaints: V1Taint[] | undefined;
        if (plan.taint && !has) newTaints = [...taints, { key: TAINT_NETWORK_UNAVAILABLE, effect: 'NoSchedule' }];
        if (!plan.taint && has)
          newTaints = taints.filter((t) => !(t.key === TAINT_NETWORK_UNAVAILABLE && t.effect === 'NoSchedule'));
        if (Object.keys(labelPatch).length === 0 && newTaints === undefined) return;
        if (!ctx.isActive()) return;
        await ctx.client.mergePatch(path, {
          metadata: {
            resourceVersion: node.metadata?.resourceVersion,
            ...(Object.keys(labelPatch).length > 0 ? { labels: labelPatch } : {}),
          },
          ...(newTaints === undefined ? {} : { spec: { taints: newTaints } }),
        });
        log.info({ node: name, labels: labelPatch, taint: plan.taint }, 'node updated');
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return;
      throw err;
    }
  };
}
