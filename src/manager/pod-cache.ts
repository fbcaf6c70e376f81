/**
 * The pod IP cache of SPEC §4.6 step 4: `namespace/podName → {podUID, ipInstanceNames}` plus the reverse map
 * `namespace/ipInstanceName → namespace/podName`. A pod whose entry has its *current* UID already got its addresses, so a
 * repeated event cannot allocate twice. Built at start-up from every IPInstance with a `binding.podName` (keyed by its
 * `binding.podUID`), overwritten on allocate/assign, pruned when an IPInstance is being deleted.
 */
import type { IPInstance } from '../api/index.ts';

interface Entry {
  uid: string;
  instances: Set<string>;
}

/** See module doc. Keys are `namespace/name`. */
export class PodIPCache {
  private readonly byPod = new Map<string, Entry>();
  private readonly byInstance = new Map<string, string>();

  /** Fills the cache from IPInstances (start-up). Reserved instances (no podUID) are skipped. */
  static fromInstances(instances: Iterable<IPInstance>): PodIPCache {
    const cache = new PodIPCache();
    for (const ip of instances) {
      const b = ip.spec.binding;
      const ns = ip.metadata.namespace ?? '';
      if (!b?.podName || !b.podUID) continue;
      const key = `${ns}/${b.podName}`;
      const entry = cache.byPod.get(key);
      if (entry !== undefined && entry.uid === b.podUID) entry.instances.add(ip.metadata.name ?? '');
      else cache.record(ns, b.podName, b.podUID, [ip.metadata.name ?? '']);
    }
    return cache;
  }

  /** True when the pod `namespace/name` with this UID already has its addresses. */
  has(namespace: string, name: string, uid: string): boolean {
    return this.byPod.get(`${namespace}/${name}`)?.uid === uid;
  }

  /** Number of IPInstances recorded for the pod (0 when not cached). */
  count(namespace: string, name: string): number {
    return this.byPod.get(`${namespace}/${name}`)?.instances.size ?? 0;
  }

  /** Records (overwrites) the addresses of a pod. */
  record(namespace: string, name: string, uid: string, instanceNames: readonly string[]): void {
    const key = `${namespace}/${name}`;
    this.forgetPod(namespace, name);
    this.byPod.set(key, { uid, instances: new Set(instanceNames) });
    for (const i of instanceNames) this.byInstance.set(`${namespace}/${i}`, key);
  }

  /** Drops a pod's entry. */
  forgetPod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const old = this.byPod.get(key);
    if (old === undefined) return;
    for (const i of old.instances) this.byInstance.delete(`${namespace}/${i}`);
    this.byPod.delete(key);
  }

  /** An IPInstance is being deleted: its pod's entry is dropped (the pod must be looked at again). */
  forgetInstance(namespace: string, instanceName: string): void {
    const podKey = this.byInstance.get(`${namespace}/${instanceName}`);
    if (podKey === undefined) return;
    const slash = podKey.indexOf('/');
    this.forgetPod(podKey.slice(0, slash), podKey.slice(slash + 1));
  }

  /** Number of pods cached. */
  get size(): number {
    return this.byPod.size;
  }
}
