/**
 * IPInstance controller (SPEC §4.7) and the IPAM refresh controller (SPEC §4.1).
 *
 * IPInstance: when an instance is being deleted, drop it from the pod IP cache, release its address in the IPAM and
 * remove the finalizer (merge patch with the read resourceVersion, retried on conflict). The release is observed
 * before the object vanishes, so memory and API cannot drift apart.
 *
 * IPAM refresh (keyed by network name): rebuild one network from the API (not from the informer cache, which may lag
 * behind our own writes), under the allocation gate so no in-flight allocation can be missed.
 */
import type { IPInstance, Network, Subnet } from '../api/index.ts';
import { FINALIZER_IP_ALLOCATED, LABEL_SUBNET } from '../api/index.ts';
import { IPAMError, type IPAMNetworkObject, type IPAMSubnetObject, type IPAMInstanceObject } from '../ipam/index.ts';
import { KubeApiError, retryOnConflict } from '../kube/index.ts';
import { formatIP, ipFromInstanceName } from '../net/index.ts';
import type { ManagerContext } from './context.ts';
import { isTerminating, paths } from './context.ts';

/** Reconcile of one IPInstance key (`namespace/name`). */
export function ipInstanceReconciler(ctx: ManagerContext): (key: string) => Promise<void> {
  const log = ctx.logger.child({ component: 'ipinstance-controller' });
  return async (key: string): Promise<void> => {
    if (!ctx.isActive()) return;
    const inst = ctx.caches.ipInstances.get(key);
    if (inst === undefined || !isTerminating(inst)) return;
    if (!(inst.metadata.finalizers ?? []).includes(FINALIZER_IP_ALLOCATED)) return;
    const ns = inst.metadata.namespace ?? '';
    const name = inst.metadata.name ?? '';
    ctx.podIPCache.forgetInstance(ns, name);
    let ip: string;
    try {
      ip = formatIP(ipFromInstanceName(name));
    } catch (err) {
      log.warn({ err, ipinstance: key }, 'IPInstance name is not an address; removing finalizer without release');
      ip = '';
    }
    // Shared with allocations, exclusive with refreshes: a refresh cannot re-read this instance after its release.
    await ctx.gate.shared(async () => {
      if (!ctx.isActive()) return;
      if (ip !== '') {
        try {
          // Release only when memory says this instance's pod (or nobody) holds the address: an old duplicate object
          // (e.g. a retained address force-assigned to a pod of another namespace) must not free the new holder's IP.
          const subnet = ctx.ipam.hasNetwork(inst.spec.network)
            ? ctx.ipam.network(inst.spec.network).subnet(inst.spec.subnet)
            : undefined;
          const value = ipFromInstanceName(name).value;
          const mine = subnet?.checkAssign(value, ns, inst.spec.binding?.podName ?? '', false).ok ?? true;
          if (mine) ctx.ipam.release(inst.spec.network, [{ subnet: inst.spec.subnet, ip }]);
          else
            log.warn(
              { ipinstance: key, network: inst.spec.network, subnet: inst.spec.subnet, ip },
              'address held by another pod in memory; not released',
            );
        } catch (err) {
          if (!(err instanceof IPAMError)) throw err;
          // Network or subnet already gone from memory: nothing to release.
          log.info(
            { ipinstance: key, network: inst.spec.network, subnet: inst.spec.subnet, err: err.message },
            'release skipped',
          );
        }
      }
      try {
        await retryOnConflict(async () => {
          const cur = await ctx.client.get<IPInstance>(paths.ipInstance(ns, name));
          if (cur.metadata.uid !== inst.metadata.uid) return;
          await ctx.client.mergePatch(paths.ipInstance(ns, name), {
            metadata: { finalizers: null, resourceVersion: cur.metadata.resourceVersion },
          });
        });
      } catch (err) {
        if (!(err instanceof KubeApiError && err.code === 404)) throw err;
      }
    });
    log.info({ ipinstance: key, network: inst.spec.network, subnet: inst.spec.subnet, ip }, 'released');
    ctx.queues.networkStatus.addAfter(inst.spec.network, 300);
    ctx.queues.subnetStatus.addAfter(inst.spec.subnet, 300);
  };
}

/** Refresh of one network key (SPEC §4.1 Refresh). */
export function ipamReconciler(ctx: ManagerContext): (key: string) => Promise<void> {
  const log = ctx.logger.child({ component: 'ipam-controller' });
  return async (network: string): Promise<void> => {
    if (!ctx.isActive()) return;
    await ctx.gate.exclusive(async () => {
      let obj: Network;
      try {
        obj = await ctx.client.get<Network>(paths.network(network));
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 404) {
          ctx.ipam.removeNetwork(network);
          log.info({ network }, 'network removed from IPAM');
          return;
        }
        throw err;
      }
      const subnets = (await ctx.client.listAll<Subnet>(paths.subnet())).items.filter(
        (s) => s.spec.network === network,
      );
      const instances: IPInstance[] = [];
      if (subnets.length > 0) {
        const selector = `${LABEL_SUBNET} in (${subnets.map((s) => s.metadata.name).join(',')})`;
        instances.push(
          ...(await ctx.client.listAll<IPInstance>(paths.ipInstance(), { labelSelector: selector })).items,
        );
      }
      if (!ctx.isActive()) return;
      try {
        const report = ctx.ipam.refreshNetwork(
          obj as IPAMNetworkObject,
          subnets as IPAMSubnetObject[],
          instances as IPAMInstanceObject[],
        );
        for (const s of report.skipped)
          log.warn({ network, subnet: s.subnet, ipinstance: `${s.namespace}/${s.name}`, reason: s.reason }, s.message);
      } catch (err) {
        if (err instanceof IPAMError) {
          log.error({ network, err: err.message }, 'IPAM refresh refused: network keeps its previous state');
          return;
        }
        throw err;
      }
      log.info({ network, subnets: subnets.length, ipinstances: instances.length }, 'IPAM refreshed');
    });
    ctx.queues.networkStatus.add(network);
    for (const s of ctx.caches.subnets.list())
      if (s.spec.network === network) ctx.queues.subnetStatus.add(s.metadata.name ?? '');
    for (const n of ctx.caches.nodes.list()) ctx.queues.node.add(n.metadata?.name ?? '');
  };
}

/** Whether a Subnet or Network change is a refresh trigger (SPEC §4.1): generation moved and a relevant field changed. */
export function isRefreshTrigger(
  kind: 'network' | 'subnet',
  oldObj: Network | Subnet,
  newObj: Network | Subnet,
): boolean {
  if (isTerminating(newObj) !== isTerminating(oldObj)) return true;
  if (oldObj.metadata.generation === newObj.metadata.generation) return false;
  if (kind === 'network') {
    const a = oldObj as Network;
    const b = newObj as Network;
    return (
      a.spec.netID !== b.spec.netID ||
      JSON.stringify(a.spec.nodeSelector ?? {}) !== JSON.stringify(b.spec.nodeSelector ?? {})
    );
  }
  const a = oldObj as Subnet;
  const b = newObj as Subnet;
  return (
    JSON.stringify(a.spec.range) !== JSON.stringify(b.spec.range) ||
    (a.spec.config?.private ?? false) !== (b.spec.config?.private ?? false) ||
    a.spec.netID !== b.spec.netID
  );
}
