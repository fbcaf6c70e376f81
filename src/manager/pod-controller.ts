/**
 * The pod controller (SPEC §4.5, §4.6): gives scheduled pods their addresses as IPInstance objects, keeps stateful
 * pods' addresses across re-creation, reserves them when a stateful pod terminates, and decouples evicted or completed
 * pods. A reconcile takes only the key, re-reads the pod from the cache and is idempotent. This module does the doing:
 * it reads the caches, asks `pod-decision.ts` for the action and carries it out (API writes, IPAM changes under the
 * allocation gate, the pod IP cache, events, metrics).
 */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { IPInstance } from '../api/index.ts';
import { FINALIZER_IP_ALLOCATED } from '../api/index.ts';
import type { AllocatedIP } from '../ipam/index.ts';
import { IPAMError } from '../ipam/index.ts';
import { KubeApiError, PodsPath, resourcePath, retryOnConflict } from '../kube/index.ts';
import { formatIP, generateMAC, ipFromInstanceName, podLabelValue } from '../net/index.ts';
import type { ManagerContext } from './context.ts';
import { INDEX_NETWORK, INDEX_POD, isTerminating, paths, podIndexKey, selectionView } from './context.ts';
import type { PodAction, PodView, StatefulPlan } from './pod-decision.ts';
import { decidePodAction, planStatefulAllocation } from './pod-decision.ts';
import { ipInstanceBody, podRefOf, reCouplePatch, reserveBindingPatch, reserveStatusPatch } from './pod-ipinstance.ts';
import type { PodNetworkChoice } from './pod-network-choice.ts';
import { PodAllocationError } from './pod-network-choice.ts';

export { PodAllocationError };

/** The actions that allocate addresses, or refuse to: their failures are reported as Warning events. */
type AllocationAction = Extract<PodAction, { kind: 'allocate' | 'stateful-allocate' | 'refuse' }>;

const isAllocation = (action: PodAction): action is AllocationAction =>
  action.kind === 'allocate' || action.kind === 'stateful-allocate' || action.kind === 'refuse';

/** Creates the reconcile function of the pod controller. */
export function podReconciler(ctx: ManagerContext): (key: string) => Promise<void> {
  const { client, caches, ipam, podIPCache, recorder, config, metrics } = ctx;
  const log = ctx.logger.child({ component: 'pod-controller' });
  const view = selectionView(caches);

  /** Records an event without waiting for it: events are best effort (never reject) and stay off the allocation path. */
  const podEvent = async (pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> => {
    await recorder.record({ apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }, type, reason, message);
  };

  const assertActive = (): void => {
    if (!ctx.isActive()) throw new Error('not leading any more: allocation stopped');
  };

  const podPath = (pod: V1Pod): string => resourcePath(PodsPath, pod.metadata?.namespace, pod.metadata?.name);

  /** Adds or removes the pod finalizer with the read resourceVersion; 404 ⇒ nothing to do. */
  const setPodFinalizer = async (pod: V1Pod, present: boolean): Promise<void> => {
    assertActive();
    try {
      await retryOnConflict(async () => {
        const cur = await client.get<V1Pod>(podPath(pod));
        if (cur.metadata?.uid !== pod.metadata?.uid) return;
        const fins = cur.metadata?.finalizers ?? [];
        if (fins.includes(FINALIZER_IP_ALLOCATED) === present) return;
        const next = present ? [...fins, FINALIZER_IP_ALLOCATED] : fins.filter((f) => f !== FINALIZER_IP_ALLOCATED);
        await client.mergePatch(podPath(pod), {
          metadata: { finalizers: next, resourceVersion: cur.metadata?.resourceVersion },
        });
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return;
      throw err;
    }
  };

  /** Non-terminating IPInstances labelled with the pod's name. */
  const podInstances = (namespace: string, name: string): IPInstance[] =>
    caches.ipInstances
      .byIndex(INDEX_POD, podIndexKey(namespace, podLabelValue(name)))
      .filter((i) => !isTerminating(i) && i.metadata.namespace === namespace);

  const deleteInstance = async (ip: IPInstance): Promise<void> => {
    assertActive();
    try {
      await client.delete(paths.ipInstance(ip.metadata.namespace, ip.metadata.name), {
        preconditions: { uid: ip.metadata.uid },
      });
    } catch (err) {
      if (err instanceof KubeApiError && (err.code === 404 || err.code === 409)) return;
      throw err;
    }
  };

  const releaseInMemory = (ips: readonly AllocatedIP[]): void => {
    for (const ip of ips) {
      try {
        ipam.release(ip.network, [{ subnet: ip.subnet, ip: ip.ip }]);
      } catch (err) {
        log.error({ err, network: ip.network, subnet: ip.subnet, ip: ip.ip }, 'rollback release failed');
      }
    }
  };

  const afterAllocation = (network: string, ips: readonly AllocatedIP[]): void => {
    ctx.queues.networkStatus.addAfter(network, 300);
    for (const ip of ips) ctx.queues.subnetStatus.addAfter(ip.subnet, 300);
  };

  /** Normal allocation + Couple (SPEC §4.6 `allocate`). */
  const allocate = async (pod: V1Pod, choice: PodNetworkChoice, stateful: boolean, mac?: string): Promise<void> => {
    const started = performance.now();
    const podKey = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    await ctx.gate.shared(async () => {
      assertActive();
      let ips: AllocatedIP[];
      try {
        ips = ipam.allocate(choice.network, podRefOf(pod), choice.family, choice.subnets);
      } catch (err) {
        metrics.observeAllocation(stateful ? 'stateful' : 'normal', false, (performance.now() - started) / 1000);
        if (err instanceof IPAMError) throw new PodAllocationError(podKey, err.message);
        throw err;
      }
      const useMac = mac ?? generateMAC((n) => randomBytes(n));
      const created: AllocatedIP[] = [];
      try {
        for (const ip of ips) {
          assertActive();
          await client.create(paths.ipInstance(pod.metadata?.namespace), ipInstanceBody(pod, ip, useMac, stateful));
          created.push(ip);
        }
      } catch (err) {
        // Couple failed: delete what was created and give the addresses back (SPEC §4.6).
        for (const ip of created) {
          await client
            .delete(paths.ipInstance(pod.metadata?.namespace, ip.ipInstanceName))
            .catch((e: unknown) => log.warn({ err: e, pod: podKey }, 'rollback delete failed'));
        }
        // Only free memory for addresses whose objects will never be observed as terminating by the IPInstance
        // controller: those never created. Created-then-deleted ones are released by their finalizer path.
        releaseInMemory(ips.filter((ip) => !created.includes(ip)));
        metrics.observeAllocation(stateful ? 'stateful' : 'normal', false, (performance.now() - started) / 1000);
        throw err;
      }
      podIPCache.record(
        pod.metadata?.namespace ?? '',
        pod.metadata?.name ?? '',
        pod.metadata?.uid ?? '',
        ips.map((i) => i.ipInstanceName),
      );
      metrics.observeAllocation(stateful ? 'stateful' : 'normal', true, (performance.now() - started) / 1000);
      afterAllocation(choice.network, ips);
      log.info({ pod: podKey, network: choice.network, ips: ips.map((i) => i.address) }, 'allocated');
      void podEvent(
        pod,
        'Normal',
        'IPAllocationSucceed',
        `allocate IPs [${ips.map((i) => i.ip).join(' ')}] successfully`,
      );
    });
  };

  /** Forced or retained assignment + ReCouple (SPEC §4.6 `assign`). */
  const assign = async (pod: V1Pod, plan: Extract<StatefulPlan, { kind: 'assign' }>): Promise<void> => {
    const { choice, suites, force } = plan;
    const started = performance.now();
    const ns = pod.metadata?.namespace ?? '';
    const podName = pod.metadata?.name ?? '';
    const podKey = `${ns}/${podName}`;
    // Delete this pod's instances that are no longer wanted (ip-pool changed, issue #417).
    for (const inst of plan.unwanted) await deleteInstance(inst);
    await ctx.gate.shared(async () => {
      assertActive();
      let ips: AllocatedIP[];
      try {
        ips = ipam.assign(choice.network, podRefOf(pod), choice.family, suites, force);
      } catch (err) {
        metrics.observeAllocation('stateful', false, (performance.now() - started) / 1000);
        if (err instanceof IPAMError) throw new PodAllocationError(podKey, err.message);
        throw err;
      }
      const byName = new Map(plan.existing.map((i) => [i.metadata.name ?? '', i]));
      const useMac = plan.mac ?? generateMAC((n) => randomBytes(n));
      const createdNew: AllocatedIP[] = [];
      try {
        for (const ip of ips) {
          assertActive();
          const cur = byName.get(ip.ipInstanceName);
          if (cur === undefined) {
            try {
              await client.create(paths.ipInstance(ns), ipInstanceBody(pod, ip, useMac, true));
              createdNew.push(ip);
              continue;
            } catch (err) {
              if (!(err instanceof KubeApiError) || err.code !== 409) throw err;
            }
          }
          await reCouple(pod, ip);
        }
      } catch (err) {
        const reused = new Set(byName.keys());
        releaseInMemory(ips.filter((ip) => !reused.has(ip.ipInstanceName) && !createdNew.includes(ip)));
        metrics.observeAllocation('stateful', false, (performance.now() - started) / 1000);
        throw err;
      }
      podIPCache.record(
        ns,
        podName,
        pod.metadata?.uid ?? '',
        ips.map((i) => i.ipInstanceName),
      );
      metrics.observeAllocation('stateful', true, (performance.now() - started) / 1000);
      afterAllocation(choice.network, ips);
      log.info({ pod: podKey, network: choice.network, ips: ips.map((i) => i.address), force }, 'assigned');
      void podEvent(
        pod,
        'Normal',
        'IPAllocationSucceed',
        `assign IPs [${ips.map((i) => i.ip).join(' ')}] successfully`,
      );
    });
  };

  /** ReCouple one existing IPInstance to the pod: labels, owner, binding; spec.address untouched. */
  const reCouple = async (pod: V1Pod, ip: AllocatedIP): Promise<void> => {
    const ns = pod.metadata?.namespace ?? '';
    await retryOnConflict(async () => {
      const cur = await client.get<IPInstance>(paths.ipInstance(ns, ip.ipInstanceName));
      if (isTerminating(cur)) {
        throw new PodAllocationError(
          `${ns}/${pod.metadata?.name}`,
          `IPInstance ${ns}/${ip.ipInstanceName} is being deleted`,
        );
      }
      assertActive();
      await client.mergePatch(
        paths.ipInstance(ns, ip.ipInstanceName),
        reCouplePatch(pod, ip, cur.metadata.resourceVersion),
      );
    });
  };

  /** IPReserve (SPEC §4.6 1b): unbinds the pod's instances from node and UID, keeps podName; marks them Reserved. */
  const reserve = async (pod: V1Pod): Promise<void> => {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    for (const inst of podInstances(ns, name)) {
      assertActive();
      await retryOnConflict(async () => {
        const cur = await client.get<IPInstance>(paths.ipInstance(ns, inst.metadata.name));
        if (isTerminating(cur)) return;
        if (cur.spec.binding?.nodeName || cur.spec.binding?.podUID) {
          await client.mergePatch(
            paths.ipInstance(ns, inst.metadata.name),
            reserveBindingPatch(cur.metadata.resourceVersion),
          );
        }
      }).catch((err: unknown) => {
        if (err instanceof KubeApiError && err.code === 404) return;
        throw err;
      });
      await client
        .mergePatch(paths.ipInstance(ns, inst.metadata.name, 'status'), reserveStatusPatch(new Date()))
        .catch((err: unknown) => log.warn({ err, pod: `${ns}/${name}` }, 'clearing IPInstance status failed'));
      // Keep memory equal to what a rebuild would produce (binding.nodeName empty ⇒ Reserved), so a forced
      // assignment (ip-pool) by another pod may take the address without waiting for a refresh.
      try {
        ipam.reserve(inst.spec.network, [
          { subnet: inst.spec.subnet, ip: formatIP(ipFromInstanceName(inst.metadata.name ?? '')) },
        ]);
      } catch (err) {
        log.warn({ err, pod: `${ns}/${name}`, network: inst.spec.network }, 'IPAM reserve failed');
      }
    }
    podIPCache.forgetPod(ns, name);
  };

  /** SPEC §4.6 `statefulAllocate`: the pod finalizer first, then the plan from the caches as they are then. */
  const statefulAllocate = async (pod: V1Pod, choice: PodNetworkChoice): Promise<void> => {
    await setPodFinalizer(pod, true);
    const plan = planStatefulAllocation(
      pod,
      choice,
      {
        instances: podInstances(pod.metadata?.namespace ?? '', pod.metadata?.name ?? ''),
        networkInstances: caches.ipInstances.byIndex(INDEX_NETWORK, choice.network),
      },
      config,
    );
    switch (plan.kind) {
      case 'refuse':
        throw new PodAllocationError(`${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`, plan.message);
      case 'allocate':
        for (const inst of plan.stale) await deleteInstance(inst);
        await allocate(pod, plan.choice, true, plan.mac);
        return;
      case 'assign':
        await assign(pod, plan);
    }
  };

  /** What the decision reads for `pod`, from the caches. */
  const podView = (pod: V1Pod): PodView => {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    return {
      instances: podInstances(ns, name),
      ipCache: { has: podIPCache.has(ns, name, pod.metadata?.uid ?? ''), count: podIPCache.count(ns, name) },
      namespace: caches.namespaces.get(ns),
      node: caches.nodes.get(pod.spec?.nodeName ?? ''),
      networks: caches.networks.list(),
      selection: view,
    };
  };

  /** Carries out an action that is no allocation (SPEC §4.6 step 1, half DualStack repair). */
  const act = async (pod: V1Pod, action: Exclude<PodAction, AllocationAction>): Promise<void> => {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    switch (action.kind) {
      case 'none':
        return;
      case 'remove-finalizer':
        await setPodFinalizer(pod, false);
        return;
      case 'reserve':
        // Under the allocation gate: a refresh cannot re-read the instances half-way through the reservation.
        await ctx.gate.shared(() => reserve(pod));
        await setPodFinalizer(pod, false);
        void podEvent(pod, 'Normal', 'IPReserveSucceed', 'reserve IPs successfully');
        return;
      case 'decouple':
        for (const inst of action.instances) await deleteInstance(inst);
        podIPCache.forgetPod(ns, name);
        if (action.instances.length > 0) {
          void podEvent(pod, 'Normal', 'IPReleaseSucceed', 'pre decouple all IPs successfully');
        }
        if (action.removeFinalizer) await setPodFinalizer(pod, false);
        return;
      case 'reallocate-dual-stack':
        log.warn(
          { pod: `${ns}/${name}`, ipinstances: action.instances.map((i) => i.metadata.name) },
          'DualStack pod holds one address; reallocating a pair',
        );
        for (const inst of action.instances) await deleteInstance(inst);
        podIPCache.forgetPod(ns, name);
    }
  };

  return async (key: string): Promise<void> => {
    if (!ctx.isActive()) return;
    const pod = caches.pods.get(key);
    if (pod === undefined) return;
    const action = decidePodAction(pod, podView(pod), config);
    if (!isAllocation(action)) {
      await act(pod, action);
      return;
    }
    try {
      if (action.kind === 'refuse') throw new PodAllocationError(key, action.message);
      if (action.kind === 'stateful-allocate') await statefulAllocate(pod, action.choice);
      else await allocate(pod, action.choice, false);
    } catch (err) {
      if (err instanceof PodAllocationError || err instanceof IPAMError) {
        log.warn({ pod: key, err: err.message }, 'allocation failed');
        void podEvent(pod, 'Warning', 'IPAllocationFail', err.message);
      }
      throw err;
    }
  };
}
