/**
 * What the pod controller does for one pod (SPEC §4.6), decided from plain values: the one action a reconcile
 * takes — allocate, stateful allocate (then {@link planStatefulAllocation}: ip-pool, mac-pool, re-couple retained
 * addresses), reserve the addresses of an ended stateful pod, decouple an evicted or completed pod, remove the pod
 * finalizer, reallocate a half DualStack pair, or nothing — and the pod predicates these rest on. Pure: it reads
 * only its arguments (the pod, cache objects, settings) and never calls the API, the IPAM engine, a random source or
 * the clock. `pod-controller.ts` reads the caches, calls it and carries the action out; the network comes from
 * `pod-network-choice.ts` (SPEC §4.5).
 */
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { IPInstance } from '../api/index.ts';
import { ANNOTATION_IP_POOL, ANNOTATION_MAC_POOL, FINALIZER_IP_ALLOCATED } from '../api/index.ts';
import type { AssignSuite, IPFamilyMode } from '../ipam/index.ts';
import { formatIP, ipFromInstanceName, normalizeMAC, statefulIndex, tryParseIP } from '../net/index.ts';
import { isStatefulPod, podIPRetain } from '../selection/index.ts';
import type { ManagerConfig } from './config.ts';
import { isTerminating } from './context.ts';
import type { NetworkChoiceView, PodNetworkChoice, PodSettings } from './pod-network-choice.ts';
import { PodAllocationError, choosePodNetwork } from './pod-network-choice.ts';

/** The controller owner reference of the pod (`controller: true`), if any. */
export function controllerRef(pod: V1Pod): V1OwnerReference | undefined {
  return pod.metadata?.ownerReferences?.find((o) => o.controller === true);
}

/** True when the object carries the `FINALIZER_IP_ALLOCATED` finalizer. */
export function hasFinalizer(obj: { metadata?: { finalizers?: string[] } }): boolean {
  return obj.metadata?.finalizers?.includes(FINALIZER_IP_ALLOCATED) ?? false;
}

/** True while a container or init container of the pod is running (its preStop hooks may still need the network). */
export function anyContainerRunning(pod: V1Pod): boolean {
  const all = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  return all.some((c) => c.state?.running !== undefined && c.state.running !== null);
}

/** Phase `Failed` with reason `Evicted`. */
export function isEvicted(pod: V1Pod): boolean {
  return pod.status?.phase === 'Failed' && pod.status.reason === 'Evicted';
}

/** Phase `Succeeded` with a status for every container of the spec. */
export function isCompleted(pod: V1Pod): boolean {
  if (pod.status?.phase !== 'Succeeded') return false;
  const statuses = new Set((pod.status.containerStatuses ?? []).map((c) => c.name));
  return (pod.spec?.containers ?? []).every((c) => statuses.has(c.name));
}

/** Family of a list of IP texts: one address ⇒ its family; two ⇒ DualStack. */
export function familyOfIPs(ips: readonly string[]): IPFamilyMode {
  if (ips.length === 2) return 'DualStack';
  return tryParseIP(ips[0] ?? '')?.family === 6 ? 'IPv6Only' : 'IPv4Only';
}

/** The cache objects a reconcile decision reads for one pod. */
export interface PodView extends NetworkChoiceView {
  /** The pod's non-terminating IPInstances (labelled with its name, in its namespace), in cache order. */
  instances: readonly IPInstance[];
  /** The pod IP cache (SPEC §4.6 step 4): whether it holds the pod's addresses under this pod UID, and how many. */
  ipCache: { has: boolean; count: number };
}

/** Why a reconcile does nothing. */
export type PodIdleReason =
  /** `spec.hostNetwork`: the pod uses the node's addresses. */
  | 'host-network'
  /** Terminating without our finalizer: nothing of ours left to do. */
  | 'terminating-without-finalizer'
  /** Not scheduled yet: allocation needs the node. */
  | 'unscheduled'
  /** The pod IP cache already holds the pod's addresses. */
  | 'allocated'
  /** An ended stateful pod whose containers still run (preStop hooks keep the network until they stop). */
  | 'containers-running'
  /** An ended pod with nothing to decouple and no finalizer to remove. */
  | 'no-finalizer';

/** The one action a reconcile takes for a pod (see {@link decidePodAction}). */
export type PodAction =
  | { kind: 'none'; reason: PodIdleReason }
  /** Remove the pod finalizer (SPEC §4.6 step 1: an ended pod whose addresses are not kept). */
  | { kind: 'remove-finalizer' }
  /**
   * IPReserve (SPEC §4.6 1b) of an ended stateful pod: unbind its IPInstances (read again under the allocation gate)
   * from node and UID, remove the pod finalizer, event `IPReserveSucceed`.
   */
  | { kind: 'reserve' }
  /**
   * Pre-decouple an evicted or completed pod (SPEC §4.6 step 1): delete `instances` (those bound to this pod UID or to
   * none), forget the pod in the pod IP cache, event `IPReleaseSucceed` when there were any, then remove the pod
   * finalizer when `removeFinalizer`.
   */
  | { kind: 'decouple'; instances: IPInstance[]; removeFinalizer: boolean }
  /**
   * A manager killed between the two IPInstance creations of a DualStack pod leaves it with one address, and the
   * rebuilt pod IP cache says "done". For a non-stateful pod that should be DualStack and holds one address: delete
   * `instances` (its own, by pod UID; released through their finalizer) and forget the pod; the IPInstance delete
   * event requeues it and it gets a fresh pair.
   */
  | { kind: 'reallocate-dual-stack'; instances: IPInstance[] }
  /** Normal allocation + Couple (SPEC §4.6 `allocate`) on `choice`. */
  | { kind: 'allocate'; choice: PodNetworkChoice }
  /** SPEC §4.6 `statefulAllocate`: set the pod finalizer, then act on {@link planStatefulAllocation}. */
  | { kind: 'stateful-allocate'; choice: PodNetworkChoice }
  /** Refuse the allocation: Warning event `IPAllocationFail` with `message`, and retry. */
  | { kind: 'refuse'; message: string };

/**
 * Step 1 of SPEC §4.6 for an ended pod (terminating with our finalizer, evicted or completed): its owner is its
 * controller reference, else the controller owner of its IPInstances. A stateful owner kind keeps the addresses
 * (reserve, once no container runs); any other lets an evicted or completed pod's addresses go (decouple).
 */
function decideEnded(pod: V1Pod, instances: readonly IPInstance[], config: PodSettings): PodAction {
  const withFinalizer = (): PodAction =>
    hasFinalizer(pod) ? { kind: 'remove-finalizer' } : { kind: 'none', reason: 'no-finalizer' };
  let owner: { kind?: string } | undefined = controllerRef(pod);
  if (owner === undefined) {
    const inst = instances.find((i) => i.metadata.ownerReferences?.some((o) => o.controller === true));
    owner = inst?.metadata.ownerReferences?.find((o) => o.controller === true);
    if (owner === undefined) return withFinalizer();
  }
  if (owner.kind !== undefined && config.statefulWorkloadKinds.includes(owner.kind)) {
    return anyContainerRunning(pod) ? { kind: 'none', reason: 'containers-running' } : { kind: 'reserve' };
  }
  if (isEvicted(pod) || isCompleted(pod)) {
    const mine = instances.filter((i) => i.spec.binding?.podUID === pod.metadata?.uid || !i.spec.binding?.podUID);
    return { kind: 'decouple', instances: mine, removeFinalizer: hasFinalizer(pod) };
  }
  return withFinalizer();
}

/** Half DualStack repair of an allocated pod (see the `reallocate-dual-stack` action); a choice error ⇒ nothing. */
function decideAllocated(pod: V1Pod, view: PodView, config: PodSettings): PodAction {
  const idle: PodAction = { kind: 'none', reason: 'allocated' };
  if (view.ipCache.count !== 1 || isStatefulPod(pod, config.statefulWorkloadKinds)) return idle;
  try {
    if (choosePodNetwork(pod, view, config).family !== 'DualStack') return idle;
  } catch {
    return idle;
  }
  const mine = view.instances.filter((i) => i.spec.binding?.podUID === pod.metadata?.uid);
  return { kind: 'reallocate-dual-stack', instances: mine };
}

/**
 * The action of one reconcile for `pod` (SPEC §4.6), in this order: host-network pods are not ours; terminating
 * without our finalizer ⇒ nothing; terminating, evicted or completed ⇒ step 1 (reserve, decouple or remove the
 * finalizer); unscheduled ⇒ nothing; already in the pod IP cache ⇒ nothing, or repair a half DualStack pair;
 * else the network ({@link choosePodNetwork}) and allocate, or stateful-allocate for a pod of a stateful kind.
 * @returns `refuse` with the message of a {@link PodAllocationError} from the network choice.
 * @throws whatever unexpected error the network choice throws (not a {@link PodAllocationError}).
 */
export function decidePodAction(pod: V1Pod, view: PodView, config: PodSettings): PodAction {
  if (pod.spec?.hostNetwork === true) return { kind: 'none', reason: 'host-network' };
  const terminating = isTerminating(pod);
  if (terminating && !hasFinalizer(pod)) return { kind: 'none', reason: 'terminating-without-finalizer' };
  if (terminating || isEvicted(pod) || isCompleted(pod)) return decideEnded(pod, view.instances, config);
  if (!pod.spec?.nodeName) return { kind: 'none', reason: 'unscheduled' };
  if (view.ipCache.has) return decideAllocated(pod, view, config);
  let choice: PodNetworkChoice;
  try {
    choice = choosePodNetwork(pod, view, config);
  } catch (err) {
    if (err instanceof PodAllocationError) return { kind: 'refuse', message: err.message };
    throw err;
  }
  return isStatefulPod(pod, config.statefulWorkloadKinds)
    ? { kind: 'stateful-allocate', choice }
    : { kind: 'allocate', choice };
}

/** The cache objects the stateful plan reads, once the pod finalizer is set. */
export interface StatefulView {
  /** The pod's non-terminating IPInstances (labelled with its name, in its namespace), in cache order. */
  instances: readonly IPInstance[];
  /** The IPInstances of the chosen network, terminating ones included (the mac-pool clash check skips those). */
  networkInstances: readonly IPInstance[];
}

/** How a stateful pod gets its addresses (see {@link planStatefulAllocation}). */
export type StatefulPlan =
  /**
   * Normal allocation + Couple (SPEC §4.6 `allocate`) with `stateful` owner and binding: first delete `stale` (the
   * pod's IPInstances when it does not retain them), then allocate on `choice`; `mac` from the mac-pool, else random.
   */
  | { kind: 'allocate'; choice: PodNetworkChoice; mac: string | undefined; stale: IPInstance[] }
  /**
   * Assignment + ReCouple (SPEC §4.6 `assign`) of `suites` on `choice`: first delete `unwanted` (with `force`, the
   * pod's IPInstances whose address is not in `suites`: ip-pool changed, issue #417), then assign; an address whose
   * IPInstance is in `existing` (the pod's, in cache order) or already exists is re-coupled, any other is created.
   * `mac`: from the mac-pool, else that of the first of `existing`, else (undefined) random.
   */
  | {
      kind: 'assign';
      choice: PodNetworkChoice;
      suites: AssignSuite[];
      force: boolean;
      mac: string | undefined;
      existing: IPInstance[];
      unwanted: IPInstance[];
    }
  /** Refuse: Warning event `IPAllocationFail` with `message`, and retry (the pod finalizer stays). */
  | { kind: 'refuse'; message: string };

/**
 * The IPInstances of `existing` whose address (read from the name) is not the IP of one of `suites`: those a forced
 * assignment deletes first. An unparsable name counts as wanted only when some suite's IP is unparsable too.
 */
export function unwantedInstances(existing: readonly IPInstance[], suites: readonly AssignSuite[]): IPInstance[] {
  const wanted = new Set(suites.map((s) => tryParseIP(s.ip)?.value));
  return existing.filter((inst) => {
    let v: bigint | undefined;
    try {
      v = ipFromInstanceName(inst.metadata.name ?? '').value;
    } catch {
      v = undefined;
    }
    return !wanted.has(v);
  });
}

/** The mac-pool entry of the pod's ordinal, checked against the MACs of other pods' IPInstances of the network. */
function macFromPool(
  pod: V1Pod,
  macPool: string,
  networkInstances: readonly IPInstance[],
): string | { refuse: string } {
  const ns = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const ordinal = statefulIndex(name);
  const entry = macPool.split(',')[ordinal]?.trim();
  if (entry === undefined || entry === '') {
    return { refuse: `unable to find assigned mac in mac-pool ${JSON.stringify(macPool)} for ordinal ${ordinal}` };
  }
  let mac: string;
  try {
    mac = normalizeMAC(entry, ANNOTATION_MAC_POOL);
  } catch (err) {
    return { refuse: (err as Error).message };
  }
  const clash = networkInstances.find(
    (i) =>
      !isTerminating(i) &&
      i.spec.address.mac === mac &&
      (i.metadata.namespace !== ns || i.spec.binding?.podName !== name),
  );
  if (clash !== undefined) {
    return {
      refuse:
        `mac ${mac} from mac-pool is already used by IPInstance ${clash.metadata.namespace}/${clash.metadata.name} ` +
        `of pod ${clash.spec.binding?.podName ?? ''}`,
    };
  }
  return mac;
}

/** The ip-pool entry of the pod's ordinal as canonical IP texts (`a` or `a/b`). */
function ipsFromPool(ipPool: string, ordinal: number): string[] | { refuse: string } {
  const entry = ipPool.split(',')[ordinal]?.trim();
  if (entry === undefined) {
    return { refuse: `unable to find assigned ip in ip-pool ${JSON.stringify(ipPool)} by index ${ordinal}` };
  }
  if (entry === '') return { refuse: `ip-pool entry ${ordinal} is empty` };
  const ips: string[] = [];
  for (const t of entry.split('/')) {
    const ip = tryParseIP(t.trim());
    if (ip === undefined) {
      return { refuse: `ip-pool entry ${JSON.stringify(entry)}: ${JSON.stringify(t)} is not an IP` };
    }
    ips.push(formatIP(ip));
  }
  return ips;
}

/**
 * SPEC §4.6 `statefulAllocate`, decided once the pod finalizer is set (from the caches as they are then): the
 * mac-pool entry of the pod's ordinal (`ANNOTATION_MAC_POOL`, unique in the network); then an ip-pool entry
 * (`ANNOTATION_IP_POOL`) is assigned by force; else a pod that retains its addresses (ip-retain) re-couples its
 * existing IPInstances (IPv4 first; their network and family) or allocates when it has none; else its IPInstances are
 * deleted and it allocates afresh.
 * @returns `refuse` for a missing, invalid or clashing mac-pool entry, or a missing, empty or invalid ip-pool entry.
 * @throws InvalidAddressError when a retained IPInstance's name is not an address.
 */
export function planStatefulAllocation(
  pod: V1Pod,
  choice: PodNetworkChoice,
  view: StatefulView,
  config: Pick<ManagerConfig, 'defaultIPRetain'>,
): StatefulPlan {
  const ipPool = pod.metadata?.annotations?.[ANNOTATION_IP_POOL] ?? '';
  const macPool = pod.metadata?.annotations?.[ANNOTATION_MAC_POOL] ?? '';
  let mac: string | undefined;
  if (macPool !== '') {
    const m = macFromPool(pod, macPool, view.networkInstances);
    if (typeof m !== 'string') return { kind: 'refuse', message: m.refuse };
    mac = m;
  }
  const assign = (to: PodNetworkChoice, suites: AssignSuite[], force: boolean): StatefulPlan => {
    const existing = [...view.instances];
    const unwanted = force ? unwantedInstances(existing, suites) : [];
    return {
      kind: 'assign',
      choice: to,
      suites,
      force,
      mac: mac ?? (existing[0]?.spec.address.mac || undefined),
      existing,
      unwanted,
    };
  };
  if (ipPool !== '') {
    const ips = ipsFromPool(ipPool, statefulIndex(pod.metadata?.name ?? ''));
    if (!Array.isArray(ips)) return { kind: 'refuse', message: ips.refuse };
    return assign(
      { ...choice, family: familyOfIPs(ips) },
      ips.map((ip) => ({ ip })),
      true,
    );
  }
  if (!podIPRetain(pod, config.defaultIPRetain)) return { kind: 'allocate', choice, mac, stale: [...view.instances] };
  const retained = [...view.instances].sort((a, b) =>
    a.spec.address.version === b.spec.address.version ? 0 : a.spec.address.version === '4' ? -1 : 1,
  );
  if (retained.length === 0) return { kind: 'allocate', choice, mac, stale: [] };
  const suites = retained.map((i) => ({
    subnet: i.spec.subnet,
    ip: formatIP(ipFromInstanceName(i.metadata.name ?? '')),
  }));
  const network = retained[0]?.spec.network ?? choice.network;
  return assign({ ...choice, network, family: familyOfIPs(suites.map((s) => s.ip)) }, suites, false);
}
