/**
 * `hybridnet manager` (SPEC §1.2, §4): leader election on the Lease `hybridnet-manager-election`; once leading, start
 * the informers, wait for every cache to sync, refuse legacy IPInstances, rebuild the IPAM from Networks, Subnets and
 * IPInstances (never from pod annotations), build the pod IP cache, then start the controllers. Losing the lease stops
 * every controller at once (no IPAM change or API write starts afterwards) and `run` resolves with `lost`.
 * Serves `/metrics`, `/healthz`, `/readyz` on the metrics port.
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { IPInstance, Network, Subnet } from '../api/index.ts';
import { IPInstanceResource, LABEL_POD, NetworkResource, SubnetResource } from '../api/index.ts';
import { IPAMEngine, type IPAMNetworkObject, type IPAMSubnetObject, type IPAMInstanceObject } from '../ipam/index.ts';
import {
  EventRecorder,
  Informer,
  LeaderElector,
  NamespacesPath,
  NodesPath,
  PodsPath,
  WorkQueue,
  objectKey,
  resourcePath,
  type KubeClient,
} from '../kube/index.ts';
import type { ManagerConfig } from './config.ts';
import {
  AllocationGate,
  INDEX_NETWORK,
  INDEX_POD,
  isTerminating,
  podIndexKey,
  type Caches,
  type ManagerContext,
  type Queues,
} from './context.ts';
import { ipamReconciler, ipInstanceReconciler, isRefreshTrigger } from './ipinstance-controller.ts';
import { createManagerMetrics, type ManagerMetrics } from './metrics.ts';
import { nodeReconciler } from './node-controller.ts';
import { PodIPCache } from './pod-cache.ts';
import { podReconciler } from './pod-controller.ts';
import { networkStatusReconciler, subnetStatusReconciler } from './status-controller.ts';

/** An IPInstance without `binding.referredObject.kind` (< v0.5): the manager refuses to start (SPEC §2.3). */
export class LegacyIPInstanceError extends Error {
  constructor(readonly instances: string[]) {
    super(
      `found ${instances.length} legacy IPInstance(s) without spec.binding.referredObject.kind (created before v0.5), ` +
        `e.g. ${instances.slice(0, 5).join(', ')}: upgrade them before starting this manager`,
    );
    this.name = 'LegacyIPInstanceError';
  }
}

/** Why `run` ended. */
export type ManagerExit = 'stopped' | 'lost';

/** Timestamps of the start-up phases (ms since epoch), for the benchmark and logs. */
export interface ManagerTimings {
  leading?: number;
  synced?: number;
  ipamBuilt?: number;
  controllersStarted?: number;
}

/** The manager process logic. */
export class Manager {
  readonly metrics: ManagerMetrics;
  readonly timings: ManagerTimings = {};
  private server: http.Server | undefined;
  private leading = false;
  private ready = false;
  private context: ManagerContext | undefined;
  /** Set once the server listens. */
  metricsPort = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly config: ManagerConfig,
    private readonly logger: Logger,
  ) {
    this.metrics = createManagerMetrics(true);
  }

  /** True while leading with controllers running. */
  isActive(): boolean {
    return this.leading && this.ready;
  }

  /** The shared state once leading (tests). */
  get ctx(): ManagerContext | undefined {
    return this.context;
  }

  private async serve(): Promise<void> {
    if (this.config.metricsPort < 0) return;
    this.server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/metrics')) {
        this.metrics.registry
          .metrics()
          .then((text) => {
            res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
            res.end(text);
          })
          .catch((err: unknown) => {
            res.writeHead(500);
            res.end(String(err));
          });
        return;
      }
      if (url.startsWith('/healthz')) {
        res.writeHead(200);
        res.end('ok');
        return;
      }
      if (url.startsWith('/readyz')) {
        // A standby replica is ready (it waits for the lease); a leader only once caches synced and IPAM built.
        const ok = !this.leading || this.ready;
        res.writeHead(ok ? 200 : 503);
        res.end(ok ? (this.leading ? 'ok: leading' : 'ok: standby') : 'starting: caches not synced');
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.metricsPort, () => resolve());
    });
    this.metricsPort = (this.server.address() as AddressInfo).port;
    this.logger.info({ port: this.metricsPort }, 'metrics, healthz and readyz serving');
  }

  /** Campaigns, leads, reconciles. Resolves `stopped` when `signal` aborts, `lost` when the lease is lost. */
  async run(signal: AbortSignal): Promise<ManagerExit> {
    await this.serve();
    let lost = false;
    let fatal: unknown;
    let controllers: Promise<void> | undefined;
    const done = new AbortController();
    const elector = new LeaderElector(this.client, {
      namespace: this.config.namespace,
      name: this.config.leaseName,
      identity: this.config.identity,
      leaseDurationMs: this.config.leaseDurationMs,
      renewDeadlineMs: this.config.renewDeadlineMs,
      retryPeriodMs: this.config.retryPeriodMs,
      logger: this.logger.child({ component: 'leader-election' }),
      onStartedLeading: (leaderSignal) => {
        this.leading = true;
        this.timings.leading = Date.now();
        controllers = this.lead(leaderSignal).catch((err: unknown) => {
          this.logger.fatal({ err }, 'manager failed while leading');
          fatal = err;
          this.leading = false;
          done.abort();
        });
      },
      onStoppedLeading: () => {
        // Stop allocating at once: every controller checks isActive() before any IPAM change or API write.
        this.leading = false;
        this.ready = false;
        if (!signal.aborted && fatal === undefined) lost = true;
        done.abort();
      },
    });
    const both = AbortSignal.any([signal, done.signal]);
    setMaxListeners(1000, both);
    const election = elector.run(both);
    await new Promise<void>((resolve) => {
      if (both.aborted) resolve();
      else both.addEventListener('abort', () => resolve(), { once: true });
    });
    await election;
    await controllers;
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
    if (fatal !== undefined) throw fatal instanceof Error ? fatal : new Error('manager failed');
    return lost ? 'lost' : 'stopped';
  }

  private makeCaches(): Caches {
    const logger = this.logger.child({ component: 'informer' });
    const mk = <T extends { metadata?: object }>(
      path: string,
      extra: Partial<{ labelSelector: string }> = {},
    ): Informer<T> => new Informer<T & object>(this.client, { path, logger, staleAfterMs: 600_000, ...extra });
    const ipInstances = mk<IPInstance>(resourcePath(IPInstanceResource));
    ipInstances.addIndex(INDEX_POD, (i) => {
      const pod = i.metadata.labels?.[LABEL_POD];
      return pod === undefined ? [] : [podIndexKey(i.metadata.namespace ?? '', pod)];
    });
    ipInstances.addIndex(INDEX_NETWORK, (i) => [i.spec.network]);
    return {
      networks: mk<Network>(resourcePath(NetworkResource)),
      subnets: mk<Subnet>(resourcePath(SubnetResource)),
      ipInstances,
      pods: mk<V1Pod>(
        resourcePath(PodsPath),
        this.config.podLabelSelector ? { labelSelector: this.config.podLabelSelector } : {},
      ),
      nodes: mk<V1Node>(resourcePath(NodesPath)),
      namespaces: mk<V1Namespace>(resourcePath(NamespacesPath)),
    };
  }

  private async lead(signal: AbortSignal): Promise<void> {
    const log = this.logger;
    // Every informer and queue worker listens on this signal.
    setMaxListeners(1000, signal);
    const caches = this.makeCaches();
    const runs = Object.values(caches).map((inf: Informer<object>) => inf.run(signal));
    for (const inf of Object.values(caches) as Informer<object>[]) await inf.waitForSync(signal);
    this.timings.synced = Date.now();
    log.info({ ipinstances: caches.ipInstances.size(), pods: caches.pods.size() }, 'caches synced');

    const legacy = caches.ipInstances.list().filter((i) => !i.spec.binding?.referredObject?.kind);
    if (legacy.length > 0)
      throw new LegacyIPInstanceError(legacy.map((i) => `${i.metadata.namespace}/${i.metadata.name}`));

    const ipam = new IPAMEngine();
    const report = ipam.rebuild(
      caches.networks.list() as IPAMNetworkObject[],
      caches.subnets.list() as IPAMSubnetObject[],
      caches.ipInstances.list() as IPAMInstanceObject[],
    );
    for (const f of report.failed) log.error({ network: f.network, err: f.error.message }, 'network not built');
    for (const s of report.skipped)
      log.warn(
        { network: s.network, subnet: s.subnet, ipinstance: `${s.namespace}/${s.name}`, reason: s.reason },
        s.message,
      );
    const podIPCache = PodIPCache.fromInstances(caches.ipInstances.list());
    this.timings.ipamBuilt = Date.now();

    const conc = (k: string): number => this.config.concurrency[k] ?? 1;
    const qlog = log.child({ component: 'queue' });
    const onError = (controller: string) => () => this.metrics.reconcileErrors.inc({ controller });
    const mkq = (name: string, concurrency: number, baseDelayMs = 100): WorkQueue =>
      new WorkQueue({ name, concurrency, logger: qlog, baseDelayMs, maxDelayMs: 30_000, onError: onError(name) });
    const queues: Queues = {
      pod: mkq('Pod', conc('Pod'), 200),
      ipInstance: mkq('IPInstance', conc('IPInstance')),
      ipam: mkq('IPAM', conc('IPAM')),
      networkStatus: mkq('NetworkStatus', conc('NetworkStatus')),
      subnetStatus: mkq('SubnetStatus', conc('SubnetStatus')),
      node: mkq('Node', conc('Node')),
    };
    const ctx: ManagerContext = {
      client: this.client,
      caches,
      ipam,
      podIPCache,
      queues,
      recorder: new EventRecorder(
        this.client,
        'hybridnet-manager',
        log.child({ component: 'events' }),
        this.config.identity,
      ),
      metrics: this.metrics,
      config: this.config,
      logger: log,
      gate: new AllocationGate(),
      isActive: () => this.leading && !signal.aborted,
    };
    this.context = ctx;

    // Event wiring (level-triggered: handlers only enqueue keys).
    const allNodes = (): void => {
      for (const n of caches.nodes.list()) queues.node.add(n.metadata?.name ?? '');
    };
    caches.pods.on({
      add: (p) => queues.pod.add(objectKey(p)),
      update: (_o, p) => queues.pod.add(objectKey(p)),
    });
    caches.ipInstances.on({
      add: (i) => {
        if (isTerminating(i)) queues.ipInstance.add(objectKey(i));
        queues.networkStatus.addAfter(i.spec.network, 500);
      },
      update: (_o, i) => {
        if (isTerminating(i)) queues.ipInstance.add(objectKey(i));
      },
      delete: (i) => {
        queues.networkStatus.addAfter(i.spec.network, 500);
        queues.subnetStatus.addAfter(i.spec.subnet, 500);
        // A stateful pod waiting for its old instance to vanish may proceed now.
        const pod = i.spec.binding?.podName;
        if (pod) queues.pod.add(`${i.metadata.namespace}/${pod}`);
      },
    });
    caches.networks.on({
      add: (n) => {
        queues.ipam.add(n.metadata.name ?? '');
        allNodes();
      },
      update: (o, n) => {
        if (isRefreshTrigger('network', o, n)) queues.ipam.add(n.metadata.name ?? '');
        queues.networkStatus.add(n.metadata.name ?? '');
        allNodes();
      },
      delete: (n) => {
        queues.ipam.add(n.metadata.name ?? '');
        allNodes();
      },
    });
    caches.subnets.on({
      add: (s) => queues.ipam.add(s.spec.network),
      update: (o, s) => {
        if (isRefreshTrigger('subnet', o, s)) queues.ipam.add(s.spec.network);
        queues.subnetStatus.add(s.metadata.name ?? '');
      },
      delete: (s) => queues.ipam.add(s.spec.network),
    });
    caches.nodes.on({
      add: (n) => {
        queues.node.add(n.metadata?.name ?? '');
        for (const net of caches.networks.list()) queues.networkStatus.add(net.metadata.name ?? '');
      },
      update: (o, n) => {
        if (JSON.stringify(o.metadata?.labels ?? {}) !== JSON.stringify(n.metadata?.labels ?? {}) || isTerminating(n)) {
          queues.node.add(n.metadata?.name ?? '');
          for (const net of caches.networks.list()) queues.networkStatus.add(net.metadata.name ?? '');
        }
      },
      delete: () => {
        for (const net of caches.networks.list()) queues.networkStatus.add(net.metadata.name ?? '');
      },
    });

    // Initial work: everything once.
    for (const p of caches.pods.list()) queues.pod.add(objectKey(p));
    for (const i of caches.ipInstances.list()) if (isTerminating(i)) queues.ipInstance.add(objectKey(i));
    for (const n of caches.networks.list()) queues.networkStatus.add(n.metadata.name ?? '');
    for (const s of caches.subnets.list()) queues.subnetStatus.add(s.metadata.name ?? '');
    allNodes();

    const resync = this.config.resyncPeriodMs;
    queues.pod.resyncEvery(resync, () => caches.pods.list().map(objectKey), signal);
    queues.ipInstance.resyncEvery(resync, () => caches.ipInstances.list().filter(isTerminating).map(objectKey), signal);
    queues.networkStatus.resyncEvery(resync, () => caches.networks.list().map((n) => n.metadata.name ?? ''), signal);
    queues.subnetStatus.resyncEvery(resync, () => caches.subnets.list().map((n) => n.metadata.name ?? ''), signal);
    queues.node.resyncEvery(resync, () => caches.nodes.list().map((n) => n.metadata?.name ?? ''), signal);

    this.ready = true;
    this.timings.controllersStarted = Date.now();
    log.info({ networks: ipam.networkNames(), pods: caches.pods.size() }, 'controllers started');
    await Promise.all([
      queues.pod.run(podReconciler(ctx), signal),
      queues.ipInstance.run(ipInstanceReconciler(ctx), signal),
      queues.ipam.run(ipamReconciler(ctx), signal),
      queues.networkStatus.run(networkStatusReconciler(ctx), signal),
      queues.subnetStatus.run(subnetStatusReconciler(ctx), signal),
      queues.node.run(nodeReconciler(ctx), signal),
      ...runs,
    ]);
  }
}
