/**
 * What every controller of the manager shares once it leads: the API client, the informer caches, the IPAM engine,
 * the pod IP cache, the queues, the event recorder, metrics and settings. Built by `manager.ts`.
 */
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { IPInstance, Network, Subnet } from '../api/index.ts';
import { IPInstanceResource, LABEL_POD, NetworkResource, SubnetResource } from '../api/index.ts';
import type { IPAMEngine } from '../ipam/index.ts';
import type { EventRecorder, Informer, KubeClient, WorkQueue } from '../kube/index.ts';
import { resourcePath } from '../kube/index.ts';
import type { IPInstanceFilter, SelectionView } from '../selection/index.ts';
import type { ManagerConfig } from './config.ts';
import type { ManagerMetrics } from './metrics.ts';
import type { PodIPCache } from './pod-cache.ts';

/** The informer caches. */
export interface Caches {
  networks: Informer<Network>;
  subnets: Informer<Subnet>;
  ipInstances: Informer<IPInstance>;
  pods: Informer<V1Pod>;
  nodes: Informer<V1Node>;
  namespaces: Informer<V1Namespace>;
}

/** The work queues by controller. */
export interface Queues {
  pod: WorkQueue;
  ipInstance: WorkQueue;
  ipam: WorkQueue;
  networkStatus: WorkQueue;
  subnetStatus: WorkQueue;
  node: WorkQueue;
}

/**
 * A reader/writer gate between allocations (readers: IPAM change + its IPInstance writes) and IPAM refreshes (writer:
 * rebuilds a network from the API). A refresh waits for in-flight allocations to finish writing, and allocations wait
 * for a refresh, so a refresh can never miss an address allocated in memory whose IPInstance is still being created.
 */
export class AllocationGate {
  private readers = 0;
  private writer = false;
  private waiters: (() => void)[] = [];

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitUntil(cond: () => boolean): Promise<void> {
    while (!cond()) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Runs `fn` as an allocation (shared). */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    await this.waitUntil(() => !this.writer);
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      this.wakeAll();
    }
  }

  /** Runs `fn` as a refresh (exclusive). */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.waitUntil(() => !this.writer);
    this.writer = true;
    try {
      await this.waitUntil(() => this.readers === 0);
      return await fn();
    } finally {
      this.writer = false;
      this.wakeAll();
    }
  }
}

/** Shared state of the running (leading) manager. */
export interface ManagerContext {
  client: KubeClient;
  caches: Caches;
  ipam: IPAMEngine;
  podIPCache: PodIPCache;
  queues: Queues;
  recorder: EventRecorder;
  metrics: ManagerMetrics;
  config: ManagerConfig;
  logger: Logger;
  gate: AllocationGate;
  /** False as soon as leadership is lost: no IPAM change and no API write may start after that. */
  isActive(): boolean;
}

/** Index names of the IPInstance cache. */
export const INDEX_POD = 'pod';
export const INDEX_NETWORK = 'network';

/** Index value for pod lookups: `namespace/<pod label value>`. */
export function podIndexKey(namespace: string, podLabel: string): string {
  return `${namespace}/${podLabel}`;
}

/** A {@link SelectionView} over the manager's caches. */
export function selectionView(caches: Caches): SelectionView {
  return {
    getNetwork: (name) => caches.networks.get(name),
    getSubnet: (name) => caches.subnets.get(name),
    listIPInstances: (filter: IPInstanceFilter) => {
      const labels = filter.labels ?? {};
      const pod = labels[LABEL_POD];
      const candidates =
        pod !== undefined && filter.namespace !== undefined
          ? caches.ipInstances.byIndex(INDEX_POD, podIndexKey(filter.namespace, pod))
          : caches.ipInstances.list();
      return candidates.filter(
        (ip) =>
          (filter.namespace === undefined || ip.metadata.namespace === filter.namespace) &&
          Object.entries(labels).every(([k, v]) => ip.metadata.labels?.[k] === v),
      );
    },
  };
}

/** API paths of the Hybridnet kinds. */
export const paths = {
  network: (name?: string, sub?: string): string => resourcePath(NetworkResource, undefined, name, sub),
  subnet: (name?: string, sub?: string): string => resourcePath(SubnetResource, undefined, name, sub),
  ipInstance: (namespace?: string, name?: string, sub?: string): string =>
    resourcePath(IPInstanceResource, namespace, name, sub),
};

/** True when the object has a deletionTimestamp. */
export function isTerminating(obj: { metadata?: { deletionTimestamp?: unknown } }): boolean {
  const t = obj.metadata?.deletionTimestamp;
  return t !== undefined && t !== null && t !== '';
}

/** Plain equality selector match (SPEC §2.1 nodeSelector). An empty selector matches nothing here. */
export function selectorMatches(
  selector: Record<string, string> | undefined | null,
  labels: Record<string, string> | undefined,
): boolean {
  const entries = Object.entries(selector ?? {});
  if (entries.length === 0) return false;
  return entries.every(([k, v]) => labels?.[k] === v);
}
