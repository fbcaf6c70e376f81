/**
 * Network and Subnet status controllers (SPEC §4.8, §2.1, §2.2): keep the metrics finalizer, compute status from the
 * IPAM usage and the caches, merge-patch `/status` only when it changed, and set the `ip_usage` / `subnet_ip_usage`
 * gauges. Counts are clamped to int32 (the CRD fields are int32; an IPv6 /64 holds 2^64 addresses).
 */
import type { V1Node } from '@kubernetes/client-node';
import type { Network, Subnet } from '../api/index.ts';
import {
  FINALIZER_METRICS_REGISTERED,
  LABEL_BGP_NETWORK_ATTACHMENT,
  NetworkType,
  effectiveNetworkType,
} from '../api/index.ts';
import { toStatusCount, type NetworkUsage } from '../ipam/index.ts';
import { KubeApiError, retryOnConflict } from '../kube/index.ts';
import type { ManagerContext } from './context.ts';
import { isTerminating, paths, selectorMatches } from './context.ts';

/** Nodes of a network (SPEC §2.1 `status.nodeList`): selector match; Overlay ⇒ all; GlobalBGP ⇒ bgp attachment label. */
export function networkNodes(network: Network, nodes: readonly V1Node[]): string[] {
  const type = effectiveNetworkType(network);
  return nodes
    .filter((n) => !isTerminating(n))
    .filter((n) => {
      if (type === NetworkType.Overlay) return true;
      if (type === NetworkType.GlobalBGP) return n.metadata?.labels?.[LABEL_BGP_NETWORK_ATTACHMENT] === 'true';
      return selectorMatches(network.spec.nodeSelector, n.metadata?.labels);
    })
    .map((n) => n.metadata?.name ?? '')
    .sort();
}

const count = (u: {
  total: bigint;
  used: bigint;
  available: bigint;
}): { total: number; used: number; available: number } => ({
  total: toStatusCount(u.total),
  used: toStatusCount(u.used),
  available: toStatusCount(u.available),
});

/** The status a Network should have. */
export function networkStatusOf(
  network: Network,
  usage: NetworkUsage | undefined,
  subnets: readonly Subnet[],
  nodes: readonly V1Node[],
): Record<string, unknown> {
  const name = network.metadata.name ?? '';
  const subnetList = subnets
    .filter((s) => s.spec.network === name && !isTerminating(s))
    .map((s) => s.metadata.name ?? '')
    .sort();
  const zero = { total: 0n, used: 0n, available: 0n };
  return {
    lastAllocatedSubnet: usage?.ipv4.lastAllocatedSubnet ?? '',
    lastAllocatedIPv6Subnet: usage?.ipv6.lastAllocatedSubnet ?? '',
    subnetList,
    nodeList: networkNodes(network, nodes),
    statistics: count(usage?.ipv4 ?? zero),
    ipv6Statistics: count(usage?.ipv6 ?? zero),
    dualStackStatistics: { available: toStatusCount(usage?.dualStack.available ?? 0n) },
  };
}

function sameJSON(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): string =>
    JSON.stringify(v, (_k, x: unknown) => (Array.isArray(x) && x.length === 0 ? undefined : x));
  return norm(a) === norm(b);
}

/** Adds or removes the metrics finalizer; returns false when the object is gone. */
async function ensureFinalizer(ctx: ManagerContext, path: string, want: boolean): Promise<boolean> {
  try {
    await retryOnConflict(async () => {
      const cur = await ctx.client.get<Network>(path);
      const fins = cur.metadata.finalizers ?? [];
      if (fins.includes(FINALIZER_METRICS_REGISTERED) === want) return;
      const next = want
        ? [...fins, FINALIZER_METRICS_REGISTERED]
        : fins.filter((f) => f !== FINALIZER_METRICS_REGISTERED);
      await ctx.client.mergePatch(path, {
        metadata: { finalizers: next, resourceVersion: cur.metadata.resourceVersion },
      });
    });
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404) return false;
    throw err;
  }
}

/** Reconcile of one Network name. */
export function networkStatusReconciler(ctx: ManagerContext): (key: string) => Promise<void> {
  const { caches, metrics } = ctx;
  return async (name: string): Promise<void> => {
    if (!ctx.isActive()) return;
    const network = caches.networks.get(name);
    if (network === undefined) return;
    const families = ['ipv4', 'ipv6', 'dualstack'];
    if (isTerminating(network)) {
      for (const f of families)
        for (const t of ['total', 'used', 'available'])
          metrics.ipUsage.remove({ networkName: name, ipFamily: f, usageType: t });
      await ensureFinalizer(ctx, paths.network(name), false);
      return;
    }
    if (!(await ensureFinalizer(ctx, paths.network(name), true))) return;
    const usage = ctx.ipam.hasNetwork(name) ? ctx.ipam.networkUsage(name) : undefined;
    const status = networkStatusOf(network, usage, caches.subnets.list(), caches.nodes.list());
    const st = status as {
      statistics: Record<string, number>;
      ipv6Statistics: Record<string, number>;
      dualStackStatistics: Record<string, number>;
    };
    for (const t of ['total', 'used', 'available']) {
      metrics.ipUsage.set({ networkName: name, ipFamily: 'ipv4', usageType: t }, st.statistics[t] ?? 0);
      metrics.ipUsage.set({ networkName: name, ipFamily: 'ipv6', usageType: t }, st.ipv6Statistics[t] ?? 0);
    }
    metrics.ipUsage.set(
      { networkName: name, ipFamily: 'dualstack', usageType: 'available' },
      st.dualStackStatistics.available ?? 0,
    );
    if (sameJSON(network.status ?? {}, status)) return;
    if (!ctx.isActive()) return;
    const before = JSON.stringify([
      network.status?.statistics?.available ? 1 : 0,
      network.status?.ipv6Statistics?.available ? 1 : 0,
      network.status?.nodeList ?? [],
    ]);
    try {
      await ctx.client.mergePatch(paths.network(name, 'status'), { status });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return;
      throw err;
    }
    const after = JSON.stringify([
      st.statistics.available ? 1 : 0,
      st.ipv6Statistics.available ? 1 : 0,
      status.nodeList,
    ]);
    // Quota labels depend on availability flipping between zero and non-zero and on the node list (SPEC §4.8).
    if (before !== after && effectiveNetworkType(network) === NetworkType.Underlay) {
      for (const n of caches.nodes.list()) ctx.queues.node.add(n.metadata?.name ?? '');
    }
  };
}

/** Reconcile of one Subnet name. */
export function subnetStatusReconciler(ctx: ManagerContext): (key: string) => Promise<void> {
  const { caches, metrics } = ctx;
  return async (name: string): Promise<void> => {
    if (!ctx.isActive()) return;
    const subnet = caches.subnets.get(name);
    if (subnet === undefined) return;
    const network = subnet.spec.network;
    if (isTerminating(subnet)) {
      for (const t of ['total', 'used', 'available'])
        metrics.subnetIPUsage.remove({ subnetName: name, networkName: network, usageType: t });
      await ensureFinalizer(ctx, paths.subnet(name), false);
      return;
    }
    if (!(await ensureFinalizer(ctx, paths.subnet(name), true))) return;
    let usage;
    try {
      usage = ctx.ipam.hasNetwork(network) ? ctx.ipam.subnetUsage(network, name) : undefined;
    } catch {
      usage = undefined; // subnet not in memory yet (refresh pending)
    }
    if (usage === undefined) return;
    const status = { ...count(usage), lastAllocatedIP: usage.lastAllocatedIP };
    for (const t of ['total', 'used', 'available'] as const) {
      metrics.subnetIPUsage.set({ subnetName: name, networkName: network, usageType: t }, status[t]);
    }
    const cur = subnet.status ?? {};
    // An empty lastAllocatedIP (nothing allocated since the last rebuild) must not erase the persisted cursor.
    if (status.lastAllocatedIP === '')
      status.lastAllocatedIP = (cur as { lastAllocatedIP?: string }).lastAllocatedIP ?? '';
    if (sameJSON(cur, status)) return;
    if (!ctx.isActive()) return;
    try {
      await ctx.client.mergePatch(paths.subnet(name, 'status'), { status });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return;
      throw err;
    }
  };
}
