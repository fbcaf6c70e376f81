/**
 * The pod controller (SPEC §4.5, §4.6): gives scheduled pods their addresses as IPInstance objects, keeps stateful
 * pods' addresses across re-creation, reserves them when a stateful pod terminates, and decouples evicted or completed
 * pods. A reconcile takes only the key, re-reads the pod from the cache and is idempotent.
 */
import { randomBytes } from 'node:crypto';
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { IPInstance, Network } from '../api/index.ts';
import {
  ANNOTATION_HANDLED_BY_WEBHOOK,
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_POOL,
  ANNOTATION_MAC_POOL,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_NETWORK,
  ANNOTATION_SPECIFIED_SUBNET,
  FINALIZER_IP_ALLOCATED,
  HANDLED_BY_WEBHOOK_VALUE,
  IPINSTANCE_LATEST_VERSION,
  IPInstanceResource,
  LABEL_BGP_NETWORK_ATTACHMENT,
  LABEL_NETWORK,
  LABEL_NETWORK_TYPE,
  LABEL_NODE,
  LABEL_POD,
  LABEL_POD_UID,
  LABEL_SPECIFIED_NETWORK,
  LABEL_SPECIFIED_SUBNET,
  LABEL_SUBNET,
  LABEL_VERSION,
  NetworkType,
  effectiveNetworkType,
  isIPFamily,
  isNetworkType,
  parseIPFamily,
  parseNetworkType,
} from '../api/index.ts';
import type { AllocatedIP, AssignSuite, IPFamilyMode } from '../ipam/index.ts';
import { IPAMError } from '../ipam/index.ts';
import { KubeApiError, PodsPath, resourcePath, retryOnConflict } from '../kube/index.ts';
import {
  formatIP,
  generateMAC,
  ipFromInstanceName,
  normalizeMAC,
  podLabelValue,
  statefulIndex,
  tryParseIP,
} from '../net/index.ts';
import { PodSelectionError, isStatefulPod, podIPRetain, selectPodNetwork } from '../selection/index.ts';
import type { ManagerContext } from './context.ts';
import { isTerminating, paths, podIndexKey, INDEX_POD, selectionView, selectorMatches } from './context.ts';

/** A pod-level failure that must be reported to the user (Warning event) and retried. */
export class PodAllocationError extends Error {
  constructor(
    readonly pod: string,
    message: string,
  ) {
    super(message);
    this.name = 'PodAllocationError';
  }
}

type Owner = Pick<V1OwnerReference, 'apiVersion' | 'kind' | 'name' | 'uid'>;

function controllerRef(pod: V1Pod): V1OwnerReference | undefined {
  return pod.metadata?.ownerReferences?.find((o) => o.controller === true);
}

function hasFinalizer(obj: { metadata?: { finalizers?: string[] } }): boolean {
  return obj.metadata?.finalizers?.includes(FINALIZER_IP_ALLOCATED) ?? false;
}

function anyContainerRunning(pod: V1Pod): boolean {
  const all = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  return all.some((c) => c.state?.running !== undefined && c.state.running !== null);
}

function isEvicted(pod: V1Pod): boolean {
  return pod.status?.phase === 'Failed' && pod.status.reason === 'Evicted';
}

function isCompleted(pod: V1Pod): boolean {
  if (pod.status?.phase !== 'Succeeded') return false;
  const statuses = new Set((pod.status.containerStatuses ?? []).map((c) => c.name));
  return (pod.spec?.containers ?? []).every((c) => statuses.has(c.name));
}

function annotationOrLabel(pod: V1Pod, annotation: string, label: string): string {
  return pod.metadata?.annotations?.[annotation] || pod.metadata?.labels?.[label] || '';
}

/** Family of a list of IP texts: one address ⇒ its family; two ⇒ DualStack. */
function familyOfIPs(ips: readonly string[]): IPFamilyMode {
  if (ips.length === 2) return 'DualStack';
  return tryParseIP(ips[0] ?? '')?.family === 6 ? 'IPv6Only' : 'IPv4Only';
}

/** What the pod asks for once its network is known. */
interface PodNetworkChoice {
  network: string;
  subnets: string[];
  family: IPFamilyMode;
  networkType: string;
}

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

  /** The IPInstance owner: the stateful controller ref, else the pod itself (SPEC §2.3). */
  const ownerOf = (pod: V1Pod, stateful: boolean): Owner & { controller: true; blockOwnerDeletion: boolean } => {
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
  };

  const instanceLabels = (pod: V1Pod, ip: AllocatedIP): Record<string, string> => ({
    [LABEL_VERSION]: IPINSTANCE_LATEST_VERSION,
    [LABEL_SUBNET]: ip.subnet,
    [LABEL_NETWORK]: ip.network,
    [LABEL_NODE]: pod.spec?.nodeName ?? '',
    [LABEL_POD]: podLabelValue(pod.metadata?.name ?? ''),
    [LABEL_POD_UID]: pod.metadata?.uid ?? '',
  });

  const binding = (pod: V1Pod, stateful: boolean): Record<string, unknown> => {
    const owner = ownerOf(pod, stateful);
    const b: Record<string, unknown> = {
      referredObject: { kind: owner.kind, name: owner.name, uid: owner.uid },
      nodeName: pod.spec?.nodeName ?? '',
      podUID: pod.metadata?.uid ?? '',
      podName: pod.metadata?.name ?? '',
    };
    if (stateful) b.stateful = { index: statefulIndex(pod.metadata?.name ?? '') };
    return b;
  };

  const instanceBody = (pod: V1Pod, ip: AllocatedIP, mac: string, stateful: boolean): IPInstance => ({
    apiVersion: IPInstanceResource.apiVersion,
    kind: IPInstanceResource.kind,
    metadata: {
      name: ip.ipInstanceName,
      namespace: pod.metadata?.namespace ?? '',
      labels: instanceLabels(pod, ip),
      finalizers: [FINALIZER_IP_ALLOCATED],
      ownerReferences: [ownerOf(pod, stateful)],
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
      binding: binding(pod, stateful),
    },
  });

  const podRef = (pod: V1Pod): { namespace: string; name: string; nodeName: string; uid: string } => ({
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    nodeName: pod.spec?.nodeName ?? '',
    uid: pod.metadata?.uid ?? '',
  });

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
        ips = ipam.allocate(choice.network, podRef(pod), choice.family, choice.subnets);
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
          await client.create(paths.ipInstance(pod.metadata?.namespace), instanceBody(pod, ip, useMac, stateful));
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
  const assign = async (
    pod: V1Pod,
    choice: PodNetworkChoice,
    suites: AssignSuite[],
    force: boolean,
    mac: string | undefined,
  ): Promise<void> => {
    const started = performance.now();
    const ns = pod.metadata?.namespace ?? '';
    const podName = pod.metadata?.name ?? '';
    const podKey = `${ns}/${podName}`;
    const existing = podInstances(ns, podName);
    if (force) {
      // Delete this pod's instances that are no longer wanted (ip-pool changed, issue #417).
      const wanted = new Set(suites.map((s) => tryParseIP(s.ip)?.value));
      for (const inst of existing) {
        let v: bigint | undefined;
        try {
          v = ipFromInstanceName(inst.metadata.name ?? '').value;
        } catch {
          v = undefined;
        }
        if (!wanted.has(v)) await deleteInstance(inst);
      }
    }
    await ctx.gate.shared(async () => {
      assertActive();
      let ips: AllocatedIP[];
      try {
        ips = ipam.assign(choice.network, podRef(pod), choice.family, suites, force);
      } catch (err) {
        metrics.observeAllocation('stateful', false, (performance.now() - started) / 1000);
        if (err instanceof IPAMError) throw new PodAllocationError(podKey, err.message);
        throw err;
      }
      const byName = new Map(existing.map((i) => [i.metadata.name ?? '', i]));
      const existingMac = existing[0]?.spec.address.mac;
      const useMac = mac ?? (existingMac || generateMAC((n) => randomBytes(n)));
      const createdNew: AllocatedIP[] = [];
      try {
        for (const ip of ips) {
          assertActive();
          const cur = byName.get(ip.ipInstanceName);
          if (cur === undefined) {
            try {
              await client.create(paths.ipInstance(ns), instanceBody(pod, ip, useMac, true));
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
      await client.mergePatch(paths.ipInstance(ns, ip.ipInstanceName), {
        metadata: {
          resourceVersion: cur.metadata.resourceVersion,
          labels: instanceLabels(pod, ip),
          ownerReferences: [ownerOf(pod, true)],
          finalizers: [FINALIZER_IP_ALLOCATED],
        },
        spec: { binding: binding(pod, true) },
      });
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
          await client.mergePatch(paths.ipInstance(ns, inst.metadata.name), {
            metadata: {
              resourceVersion: cur.metadata.resourceVersion,
              labels: { [LABEL_NODE]: null, [LABEL_POD_UID]: null },
            },
            spec: { binding: { nodeName: '', podUID: '' } },
          });
        }
      }).catch((err: unknown) => {
        if (err instanceof KubeApiError && err.code === 404) return;
        throw err;
      });
      await client
        .mergePatch(paths.ipInstance(ns, inst.metadata.name, 'status'), {
          status: {
            nodeName: null,
            podName: null,
            podNamespace: null,
            sandboxID: null,
            updateTimestamp: new Date().toISOString(),
          },
        })
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

  /** SPEC §4.5: the network of a scheduled pod. */
  const chooseNetwork = (pod: V1Pod): PodNetworkChoice => {
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
      const nsObj = caches.namespaces.get(pod.metadata?.namespace ?? '');
      try {
        const sel = selectPodNetwork(pod, pod.metadata?.namespace ?? '', nsObj, view, {
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
    const node = caches.nodes.get(nodeName);
    const networks = caches.networks.list().filter((n) => !isTerminating(n));
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
      if (caches.networks.get(specified) === undefined) {
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
  };

  /** SPEC §4.6 `statefulAllocate`. */
  const statefulAllocate = async (pod: V1Pod, choice: PodNetworkChoice): Promise<void> => {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const podKey = `${ns}/${name}`;
    await setPodFinalizer(pod, true);
    const ipPool = pod.metadata?.annotations?.[ANNOTATION_IP_POOL] ?? '';
    const preAssign = ipPool !== '';
    const ordinal = statefulIndex(name);
    let mac: string | undefined;
    const macPool = pod.metadata?.annotations?.[ANNOTATION_MAC_POOL] ?? '';
    if (macPool !== '') {
      const entries = macPool.split(',');
      const entry = entries[ordinal]?.trim();
      if (entry === undefined || entry === '') {
        throw new PodAllocationError(
          podKey,
          `unable to find assigned mac in mac-pool ${JSON.stringify(macPool)} for ordinal ${ordinal}`,
        );
      }
      try {
        mac = normalizeMAC(entry, ANNOTATION_MAC_POOL);
      } catch (err) {
        throw new PodAllocationError(podKey, (err as Error).message);
      }
      const clash = caches.ipInstances
        .byIndex('network', choice.network)
        .find(
          (i) =>
            !isTerminating(i) &&
            i.spec.address.mac === mac &&
            (i.metadata.namespace !== ns || i.spec.binding?.podName !== name),
        );
      if (clash !== undefined) {
        throw new PodAllocationError(
          podKey,
          `mac ${mac} from mac-pool is already used by IPInstance ${clash.metadata.namespace}/${clash.metadata.name} ` +
            `of pod ${clash.spec.binding?.podName ?? ''}`,
        );
      }
    }
    const retain = podIPRetain(pod, config.defaultIPRetain);
    if (!retain && !preAssign) {
      for (const inst of podInstances(ns, name)) await deleteInstance(inst);
      await allocate(pod, choice, true, mac);
      return;
    }
    let suites: AssignSuite[];
    let force = false;
    let family = choice.family;
    if (preAssign) {
      const entries = ipPool.split(',');
      const entry = entries[ordinal]?.trim();
      if (entry === undefined) {
        throw new PodAllocationError(
          podKey,
          `unable to find assigned ip in ip-pool ${JSON.stringify(ipPool)} by index ${ordinal}`,
        );
      }
      if (entry === '') throw new PodAllocationError(podKey, `ip-pool entry ${ordinal} is empty`);
      const ips = entry.split('/').map((t) => {
        const ip = tryParseIP(t.trim());
        if (ip === undefined)
          throw new PodAllocationError(
            podKey,
            `ip-pool entry ${JSON.stringify(entry)}: ${JSON.stringify(t)} is not an IP`,
          );
        return formatIP(ip);
      });
      suites = ips.map((ip) => ({ ip }));
      family = familyOfIPs(ips);
      force = true;
    } else {
      const existing = podInstances(ns, name).sort((a, b) =>
        a.spec.address.version === b.spec.address.version ? 0 : a.spec.address.version === '4' ? -1 : 1,
      );
      if (existing.length === 0) {
        await allocate(pod, choice, true, mac);
        return;
      }
      suites = existing.map((i) => ({
        subnet: i.spec.subnet,
        ip: formatIP(ipFromInstanceName(i.metadata.name ?? '')),
      }));
      family = familyOfIPs(suites.map((s) => s.ip));
      const network = existing[0]?.spec.network ?? choice.network;
      choice = { ...choice, network };
    }
    await assign(pod, { ...choice, family }, suites, force, mac);
  };

  /** Step 1 of SPEC §4.6: terminating (with finalizer), evicted or completed pods. */
  const finish = async (pod: V1Pod): Promise<void> => {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    let owner: { kind?: string } | undefined = controllerRef(pod);
    if (owner === undefined) {
      const inst = podInstances(ns, name).find((i) => i.metadata.ownerReferences?.some((o) => o.controller === true));
      owner = inst?.metadata.ownerReferences?.find((o) => o.controller === true);
      if (owner === undefined) {
        if (hasFinalizer(pod)) await setPodFinalizer(pod, false);
        return;
      }
    }
    if (owner.kind !== undefined && config.statefulWorkloadKinds.includes(owner.kind)) {
      if (anyContainerRunning(pod)) return; // preStop hooks keep networking until containers stop
      // Under the allocation gate: a refresh cannot re-read the instances half-way through the reservation.
      await ctx.gate.shared(() => reserve(pod));
      await setPodFinalizer(pod, false);
      void podEvent(pod, 'Normal', 'IPReserveSucceed', 'reserve IPs successfully');
      return;
    }
    if (isEvicted(pod) || isCompleted(pod)) {
      const insts = podInstances(ns, name).filter(
        (i) => i.spec.binding?.podUID === pod.metadata?.uid || !i.spec.binding?.podUID,
      );
      for (const inst of insts) await deleteInstance(inst);
      podIPCache.forgetPod(ns, name);
      if (insts.length > 0) void podEvent(pod, 'Normal', 'IPReleaseSucceed', 'pre decouple all IPs successfully');
    }
    if (hasFinalizer(pod)) await setPodFinalizer(pod, false);
  };

  /**
   * A manager killed between the two IPInstance creations of a DualStack pod leaves the pod with one address, and the
   * rebuilt pod IP cache says "done". For a non-stateful pod that should be DualStack and holds one address, delete
   * that address (released through its finalizer) and forget the pod: the IPInstance delete event requeues it and it
   * gets a fresh pair.
   */
  const repairHalfDualStack = async (pod: V1Pod): Promise<void> => {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    if (podIPCache.count(ns, name) !== 1 || isStatefulPod(pod, config.statefulWorkloadKinds)) return;
    let family: IPFamilyMode;
    try {
      family = chooseNetwork(pod).family;
    } catch {
      return;
    }
    if (family !== 'DualStack') return;
    const mine = podInstances(ns, name).filter((i) => i.spec.binding?.podUID === pod.metadata?.uid);
    log.warn(
      { pod: `${ns}/${name}`, ipinstances: mine.map((i) => i.metadata.name) },
      'DualStack pod holds one address; reallocating a pair',
    );
    for (const inst of mine) await deleteInstance(inst);
    podIPCache.forgetPod(ns, name);
  };

  return async (key: string): Promise<void> => {
    if (!ctx.isActive()) return;
    const pod = caches.pods.get(key);
    if (pod === undefined || pod.spec?.hostNetwork === true) return;
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const terminating = isTerminating(pod);
    if (terminating && !hasFinalizer(pod)) return;
    if (terminating || isEvicted(pod) || isCompleted(pod)) {
      await finish(pod);
      return;
    }
    if (!pod.spec?.nodeName) return;
    if (podIPCache.has(ns, name, pod.metadata?.uid ?? '')) {
      await repairHalfDualStack(pod);
      return;
    }
    try {
      const choice = chooseNetwork(pod);
      if (isStatefulPod(pod, config.statefulWorkloadKinds)) await statefulAllocate(pod, choice);
      else await allocate(pod, choice, false);
    } catch (err) {
      if (err instanceof PodAllocationError || err instanceof IPAMError) {
        log.warn({ pod: key, err: err.message }, 'allocation failed');
        void podEvent(pod, 'Warning', 'IPAllocationFail', err.message);
      }
      throw err;
    }
  };
}
