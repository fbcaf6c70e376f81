/**
 * The node daemon (SPEC §7), wired from its rooms:
 * - `cluster.ts` — the watch caches (Networks, Subnets, NodeInfos, IPInstances, this node's Pods), read by all;
 * - `node/` — the level-triggered node reconcile and this node's NodeInfo; owns the node tables and the datapath lock;
 * - `pods/` — the CNI verbs ADD, DEL, CHECK, GC; owns the attachment records and the per container / pod locks;
 * - `bgp/` — the node's BGP speaker, synced by the node room and used by the pods room;
 * - `plan/` (pure) and `apply/` (iproute2, iptables, ipset, sysctl) under them; `server.ts`, the CNI socket.
 * This file only builds the rooms, hands each the narrow interfaces of the others, and runs the start-up order and
 * the periodic resync; it holds no datapath state of its own.
 */
import type http from 'node:http';
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/index.ts';
import { run as realRun, type Runner } from './apply/exec.ts';
import { BgpController, BgpPodRoutes } from './bgp/index.ts';
import { ClusterCache } from './cluster.ts';
import type { DaemonConfig } from './config.ts';
import { KeyedLock } from './lock.ts';
import { DaemonMetrics } from './metrics.ts';
import { NodeReconciler } from './node/index.ts';
import { AttachmentStore, PodHandlers, pendingDeleteDir } from './pods/index.ts';
import { startCniServer, type CniHandler, type PodRequest, type ValidAttachment } from './server.ts';

/** The daemon of one node: the rooms, their start-up order and the resync. */
export class Daemon implements CniHandler {
  readonly metrics = new DaemonMetrics();
  readonly cluster: ClusterCache;
  readonly node: NodeReconciler;
  readonly pods: PodHandlers;
  /** BGP speaker of the node (SPEC §7.7); idle while the node is in no BGP network. */
  readonly bgp: BgpController;
  private synced = false;
  private server: http.Server | undefined;

  constructor(
    client: KubeClient,
    readonly config: DaemonConfig,
    private readonly logger: Logger,
    runner: Runner = realRun,
  ) {
    this.cluster = new ClusterCache(client, config.nodeName, logger);
    this.bgp = new BgpController({
      stateDir: config.stateDir,
      apiAddr: config.bgpGrpcServerAddr,
      logger: logger.child({ component: 'bgp' }),
      runner,
      registry: this.metrics.registry,
      client,
      nodeName: config.nodeName,
      onSpeakerExit: () => this.node.trigger(),
    });
    const cluster = this.cluster;
    this.node = new NodeReconciler({ client, config, logger, runner, cluster, bgp: this.bgp, metrics: this.metrics });
    this.pods = new PodHandlers(
      {
        config,
        client,
        logger,
        runner,
        cluster,
        store: new AttachmentStore(config.stateDir, pendingDeleteDir(config.socket)),
        locks: new KeyedLock(),
        node: this.node,
        bgp: new BgpPodRoutes(this.bgp, runner, cluster),
      },
      this.metrics,
    );
    cluster.onPlanInputChange(() => this.node.trigger());
  }

  /** Runs until `signal` aborts: start-up checks, informers, first reconcile, start-up GC, then the CNI server. */
  async run(signal: AbortSignal): Promise<void> {
    await this.node.startupChecks();
    const informers = this.cluster.run(signal, this.logger);
    await informers.synced;
    await this.node.refreshNode();
    this.synced = true;
    this.node.enableTriggers();
    await this.node.reconcile();
    await this.pods.startupGC();
    this.server = await startCniServer(this.config.socket, this, this.logger.child({ component: 'cni-server' }));
    this.logger.info({ socket: this.config.socket, node: this.config.nodeName }, 'cni server listening');
    const monitor = this.node.startLinkMonitor();
    const periodic = setInterval(() => {
      this.node.markIptablesDue();
      void this.pods
        .processPendingDeletes()
        .catch((err: unknown) => this.logger.warn({ err }, 'queued DELs: will retry at the next resync'))
        .then(() => this.node.refreshNode())
        .finally(() => this.node.trigger());
    }, this.config.resyncMs);
    // a SIGTERM during start-up has already aborted: its listener would never fire and the daemon would not stop
    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(periodic);
    monitor?.stop();
    this.node.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await informers.stopped;
  }

  /** True once caches synced, the node was reconciled once and the CNI socket listens (`/ready`, CNI STATUS). */
  ready(): boolean {
    return this.synced && this.node.reconciled && this.server !== undefined;
  }

  add(req: PodRequest): Promise<unknown> {
    return this.pods.add(req);
  }

  del(req: PodRequest): Promise<void> {
    return this.pods.del(req);
  }

  check(req: PodRequest): Promise<void> {
    return this.pods.check(req);
  }

  gc(networkName: string, valid: ValidAttachment[]): Promise<void> {
    return this.pods.gc(networkName, valid);
  }
}
