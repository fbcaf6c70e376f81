/**
 * The node daemon (SPEC §7): informers on Networks, Subnets, NodeInfos and IPInstances; a level-triggered node
 * reconcile (read kernel → {@link planNode} → {@link applyNodePlan}) run on every change and every `resyncMs`;
 * this node's NodeInfo; and the CNI API (pod ADD / DEL / CHECK / GC) on the unix socket.
 *
 * Locking: the node tables (routes of the local-direct table, rules, neighbours, FDB, links) are written under one
 * datapath lock — by the reconcile, and by the short step of a pod ADD that puts the pod's host veth up and adds its
 * local-direct routes and proxy neighbours (a reconcile that read the links before the veth existed must not see,
 * and delete, a route of it). Everything else of ADD (veth pair, pod namespace, API calls, ping) runs concurrently,
 * serialised per container ID and per pod (host veth name) with ADD, DEL and GC of the same container / pod.
 */
import { existsSync } from 'node:fs';
import type http from 'node:http';
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  ANNOTATION_CALICO_POD_IPS,
  IPInstanceResource,
  LABEL_NODE,
  LABEL_POD_UID,
  NetworkResource,
  NodeInfoResource,
  SubnetResource,
  effectiveNetworkMode,
  parseIPFamily,
  type IPInstance,
  type Network,
  type NodeInfo,
  type Subnet,
} from '../api/index.ts';
import {
  Informer,
  objectKey,
  KubeApiError,
  NamespacesPath,
  NodesPath,
  PodsPath,
  resourcePath,
  retryOnConflict,
  type KubeClient,
} from '../kube/index.ts';
import { hostVethName } from '../net/index.ts';
import { applyIptablesRules, applyNodePlan, changeCount, ipsetScript, type ApplyReport } from './apply/node.ts';
import { ipBatch, podNamespaceSetup, run as realRun, writeSysctls, type Runner } from './apply/exec.ts';
import { inInitialNetns, ipv6Disabled, raDefaultRouteDev } from './apply/host.ts';
import { readLinks, readRules } from './apply/read.ts';
import { checkOwnedTables, removeLegacyChains } from './apply/startup.ts';
import { runVlanChecks } from './apply/vlan-checks.ts';
import { CniRequestError, type DaemonConfig } from './config.ts';
import { KeyedLock, Lock } from './lock.ts';
import { HOST_VETH_MAC, IPSet } from './constants.ts';
import { DaemonMetrics } from './metrics.ts';
import { LinkMonitor } from './monitor.ts';
import { newNodeInfo } from './nodeinfo.ts';
import { setName, withLocalPodIPs } from './plan/iptables.ts';
import { familyOf, forwardInterface, isActiveInstance, overlayOf, planNode, plainIP, podMtu } from './plan/node.ts';
import { planGratuitousArp, planPodAdd, planPodProxyNeighbours, planUnsolicitedNa } from './plan/pod.ts';
import { familyNeedsNamespace, podFamilyInput } from './plan/family.ts';
import { planVlanChecks } from './plan/vlan-checks.ts';
import type { ClusterState, LinkFacts, NodeFacts, NodePlan, PlanOptions } from './plan/types.ts';
import { startCniServer, type CniHandler, type PodRequest } from './server.ts';
import { AttachmentStore, pendingDeleteDir, type Attachment } from './state.ts';
import { BgpController } from './bgp/controller.ts';
import { isBgpMode, type BgpPlan } from './bgp/plan.ts';

const NODE_UID_INDEX = 'node-pod-uid';

const containerKey = (containerID: string): string => `container/${containerID}`;
const podKey = (hostVeth: string): string => `pod/${hostVeth}`;

/**
 * Picks the first existing interface of `prefer`, else the interface of the IPv4 then IPv6 default route.
 * `defaultDevs`, when given, is the result of {@link defaultRouteDevices} read once for several choices.
 */
export async function chooseInterface(
  runner: Runner,
  prefer: string[],
  links: LinkFacts[],
  defaultDevs?: Promise<(string | undefined)[]>,
): Promise<string | undefined> {
  for (const p of prefer) if (links.some((l) => l.name === p)) return p;
  const devs = await (defaultDevs ?? defaultRouteDevices(runner));
  return devs.find((d) => d !== undefined);
}

/** The devices of the IPv4 and IPv6 default routes of the main table (`ip -json route show default`, both at once). */
export function defaultRouteDevices(runner: Runner): Promise<(string | undefined)[]> {
  return Promise.all(
    ['-4', '-6'].map(async (fam) => {
      const out = await runner('ip', [fam, '-json', 'route', 'show', 'default']).catch(() => '[]');
      const rows = JSON.parse(out.trim() || '[]') as { dev?: string }[];
      return rows.find((r) => r.dev)?.dev;
    }),
  );
}

/** The daemon of one node. */
export class Daemon implements CniHandler {
  readonly networks: Informer<Network>;
  readonly subnets: Informer<Subnet>;
  readonly nodeInfos: Informer<NodeInfo>;
  readonly ipInstances: Informer<IPInstance>;
  /**
   * Pods bound to this node (field selector `spec.nodeName`): ADD takes its pod from here when the cached object has
   * the UID the runtime sent (K8S_POD_UID), and reads it from the API server otherwise. The kubelet learns of a pod
   * from the same watch, so the cache almost always has it before the sandbox exists.
   */
  readonly pods: Informer<V1Pod>;
  readonly store: AttachmentStore;
  readonly metrics = new DaemonMetrics();
  /** BGP speaker of the node (SPEC §7.7); idle while the node is in no BGP network. */
  readonly bgp: BgpController;
  /** The datapath lock: node tables (see module doc). */
  private readonly lock = new Lock();
  /** Serialises the iptables refresh and NodeInfo publishing of reconciles (after the datapath lock). */
  private readonly afterTablesLock = new Lock();
  /**
   * Orders the ipset writes: a refresh's `ipset restore` (which swaps whole sets) and an ADD's `ipset add` of its pod
   * never interleave, and the refresh adds the addresses of the pods local at that moment (see withLocalPodIPs).
   */
  private readonly ipsetLock = new Lock();
  /** Per container ID / pod locks of ADD, DEL and GC. */
  private readonly podLocks = new KeyedLock();
  /**
   * Node facts of the last reconcile, used by ADD instead of reading the kernel again (links, chosen interfaces,
   * rules). Dropped when a reconcile changed links or rules; ADD re-reads them when its forward interface is missing.
   */
  private cachedFacts: NodeFacts | undefined;
  private synced = false;
  private reconciled = false;
  private timer: NodeJS.Timeout | undefined;
  private pending = false;
  private nodeUID: string | undefined;
  /** The Node's `status.addresses` values, refreshed at start and every resync (SPEC §7.8 step 2). */
  private nodeAddresses: string[] | undefined;
  private ipv6Off: boolean | undefined;
  private initNetns: boolean | undefined;
  /** ipsets + iptables text last applied; event-driven reconciles skip the refresh when it is unchanged. */
  private lastIptablesKey = '';
  /** Set by the periodic resync: the next reconcile re-applies iptables even when unchanged (SPEC §7.10). */
  private iptablesDue = true;
  private server: http.Server | undefined;
  /** Last plan applied (for tests and the status endpoint). */
  lastPlan: NodePlan | undefined;
  lastReport: ApplyReport | undefined;

  constructor(
    private readonly client: KubeClient,
    readonly config: DaemonConfig,
    private readonly logger: Logger,
    private readonly runner: Runner = realRun,
  ) {
    const mk = <T extends { metadata?: { name?: string } }>(path: string, fieldSelector?: string): Informer<T> =>
      new Informer<T>(client, {
        path,
        ...(fieldSelector ? { fieldSelector } : {}),
        logger: logger.child({ informer: path }),
        staleAfterMs: 120_000,
      });
    this.networks = mk<Network>(resourcePath(NetworkResource));
    this.subnets = mk<Subnet>(resourcePath(SubnetResource));
    this.nodeInfos = mk<NodeInfo>(resourcePath(NodeInfoResource));
    this.ipInstances = mk<IPInstance>(resourcePath(IPInstanceResource));
    this.pods = mk<V1Pod>(resourcePath(PodsPath), `spec.nodeName=${config.nodeName}`);
    this.ipInstances.addIndex(NODE_UID_INDEX, (i) => {
      const l = i.metadata?.labels ?? {};
      return l[LABEL_NODE] && l[LABEL_POD_UID] ? [`${l[LABEL_NODE]}/${l[LABEL_POD_UID]}`] : [];
    });
    this.store = new AttachmentStore(config.stateDir, pendingDeleteDir(config.socket));
    this.bgp = new BgpController({
      stateDir: config.stateDir,
      apiAddr: config.bgpGrpcServerAddr,
      logger: logger.child({ component: 'bgp' }),
      runner,
      registry: this.metrics.registry,
      client,
      nodeName: config.nodeName,
      onSpeakerExit: () => this.trigger(),
    });
    // Only what the plan reads triggers a reconcile: status-only writes (the manager's subnet counters, our own
    // IPInstance status patches) would otherwise cost a full reconcile per pod.
    const on = <T>(inf: Informer<T & { metadata?: object }>, relevant: (o: T) => unknown): void =>
      inf.on({
        add: () => this.trigger(),
        delete: () => this.trigger(),
        update: (a, b) => {
          if (JSON.stringify(relevant(a)) !== JSON.stringify(relevant(b))) this.trigger();
        },
      });
    const del = (o: { metadata?: { deletionTimestamp?: unknown } }): unknown => o.metadata?.deletionTimestamp;
    on<Network>(this.networks, (n) => [n.spec, n.status?.nodeList, del(n)]);
    on<Subnet>(this.subnets, (x) => [x.spec, del(x)]);
    on<NodeInfo>(this.nodeInfos, (x) => [x.spec, del(x)]);
    on<IPInstance>(this.ipInstances, (x) => [x.spec, x.metadata?.labels, del(x)]);
  }

  /** Runs until `signal` aborts: informers, first reconcile, start-up GC, then the CNI server. */
  async run(signal: AbortSignal): Promise<void> {
    await this.startupChecks();
    const infs: { run(s: AbortSignal): Promise<void>; waitForSync(s: AbortSignal): Promise<void> }[] = [
      this.networks,
      this.subnets,
      this.nodeInfos,
      this.ipInstances,
      this.pods,
    ];
    const running = infs.map((i) =>
      i.run(signal).catch((err: unknown) => this.logger.error({ err }, 'informer stopped')),
    );
    for (const i of infs) await i.waitForSync(signal);
    await this.refreshNode();
    this.synced = true;
    await this.reconcile();
    await this.startupGC();
    this.server = await startCniServer(this.config.socket, this, this.logger.child({ component: 'cni-server' }));
    this.logger.info({ socket: this.config.socket, node: this.config.nodeName }, 'cni server listening');
    const monitor = this.startLinkMonitor();
    const periodic = setInterval(() => {
      this.iptablesDue = true;
      void this.processPendingDeletes()
        .catch((err: unknown) => this.logger.warn({ err }, 'queued DELs: will retry at the next resync'))
        .then(() => this.refreshNode())
        .finally(() => this.trigger());
    }, this.config.resyncMs);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(periodic);
    monitor?.stop();
    if (this.timer) clearTimeout(this.timer);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await Promise.all(running);
  }

  /**
   * SPEC §7.1 / §7.10 start-up: refuses to start (throws TableInUseError) when a fixed table holds foreign routes;
   * removes the legacy RAMA-* chains once per process.
   */
  private async startupChecks(): Promise<void> {
    await checkOwnedTables(this.runner, this.config);
    if (!this.config.iptables) return;
    this.ipv6Off ??= await ipv6Disabled();
    const cleaned = await removeLegacyChains(this.runner, !this.ipv6Off).catch((err: unknown) => {
      this.logger.error({ err }, 'removing the legacy RAMA-* iptables chains failed; continuing');
      return [];
    });
    if (cleaned.length > 0) this.logger.info({ families: cleaned }, 'removed the legacy RAMA-* iptables chains');
  }

  /** SPEC §7.1: reconcile on link/address changes of host interfaces (`--link-monitor`). */
  private startLinkMonitor(): LinkMonitor | undefined {
    if (!this.config.linkMonitor) return undefined;
    const m = new LinkMonitor(() => this.trigger(), this.logger.child({ component: 'link-monitor' }));
    m.start();
    return m;
  }

  /** True once caches synced, the node was reconciled once and the CNI socket listens (`/ready`, CNI STATUS). */
  ready(): boolean {
    return this.synced && this.reconciled && this.server !== undefined;
  }

  /** Schedules a reconcile (debounced). */
  trigger(): void {
    if (!this.synced) return;
    this.pending = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.pending) return;
      this.pending = false;
      this.reconcile().catch((err: unknown) => {
        this.logger.error({ err }, 'reconcile failed; retrying in 1s');
        setTimeout(() => this.trigger(), 1000).unref();
      });
    }, 50);
  }

  private clusterState(): ClusterState {
    return {
      networks: this.networks.list(),
      subnets: this.subnets.list(),
      nodeInfos: this.nodeInfos.list(),
      ipInstances: this.ipInstances.list(),
    };
  }

  /** Reads the node's facts (links, rules, chosen interfaces); the reads run concurrently. */
  async facts(): Promise<NodeFacts> {
    this.ipv6Off ??= await ipv6Disabled();
    const [links, currentRules, raDev] = await Promise.all([
      readLinks(this.runner),
      readRules(this.runner),
      this.ipv6Off ? undefined : raDefaultRouteDev(this.runner),
    ]);
    let defaults: Promise<(string | undefined)[]> | undefined;
    const lazyDefaults = (): Promise<(string | undefined)[]> => (defaults ??= defaultRouteDevices(this.runner));
    const needDefaults = (prefer: string[]): boolean => !prefer.some((p) => links.some((l) => l.name === p));
    // only clusters with BGP networks pay for the BGP interface look-up
    const prefers = [this.config.preferVxlanInterfaces, this.config.preferVlanInterfaces];
    if (this.networks.list().some(isBgpMode)) prefers.push(this.config.preferBgpInterfaces);
    const [vxlanParent, vlanParent, bgpParent] = await Promise.all(
      prefers.map((prefer) =>
        chooseInterface(this.runner, prefer, links, needDefaults(prefer) ? lazyDefaults() : undefined),
      ),
    );
    return {
      nodeName: this.config.nodeName,
      links,
      ...(vxlanParent ? { vxlanParent } : {}),
      ...(vlanParent ? { vlanParent } : {}),
      ...(bgpParent ? { bgpParent } : {}),
      currentRules,
      ...(this.nodeAddresses ? { nodeAddresses: this.nodeAddresses } : {}),
      ipv6Disabled: this.ipv6Off,
      ...(raDev ? { raDefaultRouteDev: raDev } : {}),
    };
  }

  /** Facts for a pod ADD: the last reconcile's, or freshly read (and kept) when there are none or `fresh`. */
  private async addFacts(fresh = false): Promise<NodeFacts> {
    if (!fresh && this.cachedFacts) return this.cachedFacts;
    const f = await this.facts();
    this.cachedFacts = f;
    return f;
  }

  /**
   * One full node reconcile: links, sysctls, rules, routes, neighbours and FDB under the datapath lock; then, after
   * releasing it (pod ADDs need not wait for them), the iptables / ipset refresh when due or changed and this node's
   * NodeInfo, one reconcile at a time in lock order.
   */
  async reconcile(): Promise<ApplyReport> {
    const t0 = performance.now();
    const { plan, report, bgpPlan } = await this.lock.run(() => this.reconcileLocked());
    await this.afterTablesLock.run(async () => {
      await this.bgp.sync(bgpPlan); // SPEC §7.7: peers and local paths after the routes they need
      const iptablesKey = JSON.stringify([plan.ipsets, plan.iptables]);
      if (this.config.iptables && (this.iptablesDue || iptablesKey !== this.lastIptablesKey)) {
        await this.ipsetLock.run(async () => {
          const ipsets = withLocalPodIPs(plan.ipsets, this.localPodIPs());
          await this.runner('ipset', ['-exist', 'restore'], ipsetScript({ ...plan, ipsets }));
        });
        await applyIptablesRules(this.runner, plan);
        report.ipsets = plan.ipsets.length;
        report.iptables = true;
        this.lastIptablesKey = iptablesKey;
        this.iptablesDue = false;
      }
      await this.publishNodeInfo(plan);
    });
    this.reconciled = true;
    this.metrics.reconcileSeconds.observe((performance.now() - t0) / 1000);
    return report;
  }

  /** The node tables part of a reconcile (caller holds the datapath lock); retried once on a kernel race. */
  private async reconcileLocked(): Promise<{ plan: NodePlan; report: ApplyReport; bgpPlan: BgpPlan }> {
    try {
      return await this.reconcileTables();
    } catch (err) {
      // the kernel changed under us (e.g. a veth deleted by a concurrent DEL): read again and retry once
      this.logger.debug({ err }, 'reconcile failed; retrying with fresh kernel state');
      return this.reconcileTables();
    }
  }

  private async reconcileTables(): Promise<{ plan: NodePlan; report: ApplyReport; bgpPlan: BgpPlan }> {
    const facts = await this.facts();
    const bgpPlan = await this.bgp.plan(this.clusterState(), facts); // sets facts.bgpGateway (SPEC §7.4)
    const plan = planNode(this.clusterState(), facts, this.planOptions());
    for (const w of plan.warnings) this.logger.warn({ node: this.config.nodeName }, w);
    const report = await applyNodePlan(this.runner, plan, { iptables: false });
    if (report.tcError) this.logger.warn({ node: this.config.nodeName }, report.tcError);
    // the facts predate what this reconcile created (links, rules): ADD reads them again when it needs them
    this.cachedFacts = report.links.length + report.rules.length > 0 ? undefined : facts;
    this.lastPlan = plan;
    this.lastReport = report;
    if (changeCount(report) > 0) this.logger.info({ changes: changeCount(report), report }, 'node datapath reconciled');
    return { plan, report, bgpPlan };
  }

  /** Reads this node's Node object: UID (NodeInfo owner) and `status.addresses` (node-local VXLAN IPs). */
  private async refreshNode(): Promise<void> {
    try {
      const node = await this.client.get<V1Node>(resourcePath(NodesPath, undefined, this.config.nodeName));
      this.nodeUID = node.metadata?.uid ?? '';
      this.nodeAddresses = (node.status?.addresses ?? []).map((a) => a.address);
    } catch (err) {
      this.logger.warn(
        { err, node: this.config.nodeName },
        'cannot read the Node object; node-local VXLAN addresses keep their last value',
      );
    }
  }

  /** Creates or patches this node's NodeInfo (SPEC §7.8 step 3). */
  private async publishNodeInfo(plan: NodePlan): Promise<void> {
    if (!plan.vtep) return;
    const name = this.config.nodeName;
    const cur = this.nodeInfos.get(name);
    const v = cur?.spec.vtepInfo;
    const want = plan.vtep;
    if (
      v &&
      v.ip === want.ip &&
      v.mac === want.mac &&
      JSON.stringify(v.localIPs ?? []) === JSON.stringify(want.localIPs)
    )
      return;
    const path = resourcePath(NodeInfoResource, undefined, name);
    const vtepInfo = { ip: want.ip, mac: want.mac, localIPs: want.localIPs };
    if (!cur) {
      if (this.nodeUID === undefined) {
        const node = await this.client.get<V1Node>(resourcePath(NodesPath, undefined, name));
        this.nodeUID = node.metadata?.uid ?? '';
      }
      try {
        await this.client.create(resourcePath(NodeInfoResource), newNodeInfo(name, this.nodeUID, { vtepInfo }));
        return;
      } catch (err) {
        if (!(err instanceof KubeApiError && err.code === 409)) throw err;
      }
    }
    await this.client.mergePatch(path, { spec: { vtepInfo } });
    await this.client
      .mergePatch(`${path}/status`, { status: { updateTimestamp: new Date().toISOString() } })
      .catch((err: unknown) => this.logger.warn({ err }, 'NodeInfo status patch failed'));
  }

  // ------------------------------------------------------------------------------------------------ CNI handlers

  /**
   * The pod of a request from the API server; 404 ⇒ CNI code 3, other failures ⇒ 11 (try again), a UID other than
   * the runtime's K8S_POD_UID ⇒ 3 (the sandbox belongs to a pod that is gone).
   */
  private async readPod(req: PodRequest, who: string): Promise<V1Pod> {
    let pod: V1Pod;
    try {
      pod = await this.client.get<V1Pod>(resourcePath(PodsPath, req.podNamespace, req.podName));
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404)
        throw new CniRequestError(400, 3, `pod ${who} not found in the API server`);
      throw new CniRequestError(500, 11, `pod ${who}: cannot read it from the API server: ${String(err)}`);
    }
    if (req.podUID && pod.metadata?.uid !== req.podUID)
      throw new CniRequestError(
        400,
        3,
        `pod ${who}: UID ${req.podUID} is not the current pod's (${pod.metadata?.uid})`,
      );
    return pod;
  }

  /** The pod's IP family (SPEC §4.4: its annotation, else its namespace's, else the daemon's default). */
  private async podFamily(pod: V1Pod): Promise<ReturnType<typeof parseIPFamily>> {
    return parseIPFamily(
      podFamilyInput(pod, await this.namespaceForFamily(pod)),
      parseIPFamily(this.config.defaultIPFamily) as never,
    );
  }

  /** The pod's live IPInstances on this node, from the watch cache. */
  private localInstances(req: PodRequest, pod: V1Pod): IPInstance[] {
    return this.ipInstances
      .byIndex(NODE_UID_INDEX, `${this.config.nodeName}/${pod.metadata?.uid ?? ''}`)
      .filter((i) => !i.metadata?.deletionTimestamp && i.metadata?.namespace === req.podNamespace);
  }

  private async waitInstances(req: PodRequest, pod: V1Pod, expect: number): Promise<IPInstance[]> {
    const uid = pod.metadata?.uid ?? '';
    const deadline = Date.now() + this.config.ipInstanceWaitMs;
    let got: IPInstance[] = [];
    for (;;) {
      got = this.localInstances(req, pod);
      if (got.length >= expect) return got;
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new CniRequestError(
      400,
      11,
      `failed to wait for pod ${req.podNamespace}/${req.podName} (uid ${uid}) to be coupled with ip on node ${this.config.nodeName}: expect ${expect} IPInstance(s) and got ${got.length} within ${this.config.ipInstanceWaitMs / 1000}s; is hybridnet-manager running and does the pod's network serve this node?`,
    );
  }

  /** Pod ADD (SPEC §7.3). */
  async add(req: PodRequest): Promise<unknown> {
    const end = this.metrics.timer('add');
    try {
      // the container lock covers the whole ADD (also the wait for the IPInstances): a DEL of the same container
      // waits for it instead of succeeding before the ADD wires the pod
      const out = await this.podLocks.run([containerKey(req.containerID)], () => this.addInner(req));
      end('ok');
      return out;
    } catch (err) {
      end('error');
      throw err;
    }
  }

  private async addInner(req: PodRequest): Promise<unknown> {
    const who = `${req.podNamespace}/${req.podName}`;
    const t0 = performance.now();
    const ms = (): number => Math.round(performance.now() - t0);
    const phases: Record<string, number> = {};
    if (!req.netns || !existsSync(req.netns))
      throw new CniRequestError(400, 4, `pod ${who}: netns ${JSON.stringify(req.netns)} does not exist`);
    const cached = this.pods.get(`${req.podNamespace}/${req.podName}`);
    let pod = req.podUID && cached && cached.metadata?.uid === req.podUID ? cached : await this.readPod(req, who);
    let family = await this.podFamily(pod);
    if (pod === cached && this.localInstances(req, pod).length < (family === 'DualStack' ? 2 : 1)) {
      // no IPInstance yet: the pod may also be gone with the watch lagging; ask the API server, as without the cache,
      // so that a deleted pod gets its quick "not found" instead of the whole IPInstance wait
      pod = await this.readPod(req, who);
      family = await this.podFamily(pod);
    }
    const expect = family === 'DualStack' ? 2 : 1;
    const instances = (await this.waitInstances(req, pod, expect)).sort((a, b) =>
      a.spec.address.version.localeCompare(b.spec.address.version),
    );
    phases.waitedMs = ms();
    const macs = new Set(instances.map((i) => i.spec.address.mac.toLowerCase()));
    if (macs.size !== 1) throw new CniRequestError(500, 100, `pod ${who}: IPInstances have different MACs`);
    const versions = instances.map((i) => i.spec.address.version);
    if (new Set(versions).size !== versions.length)
      throw new CniRequestError(500, 100, `pod ${who}: more than one IPInstance of one family`);
    const networkName = instances[0]?.spec.network ?? '';
    const network = this.networks.get(networkName);
    if (!network) throw new CniRequestError(500, 100, `pod ${who}: network ${networkName} not found`);
    const mac = [...macs][0] ?? '';
    const hostVeth = hostVethName(req.podNamespace, req.podName);
    // SPEC §7.3 step 3 (before the datapath): runs while the datapath is set up, awaited before the reply
    const calico = this.patchCalicoPodIPs(req, instances); // never rejects
    const [result] = await Promise.all([
      this.podLocks.run([podKey(hostVeth)], () =>
        this.addDatapath(req, pod, instances, network, mac, hostVeth, phases, ms),
      ),
      calico,
    ]);
    this.logger.info(
      { pod: who, containerID: req.containerID, network: networkName, ...phases, totalMs: ms() },
      'pod added',
    );
    return result;
  }

  /** The pod's Namespace when its family comes from there (SPEC §4.4); unreadable ⇒ undefined (logged). */
  private async namespaceForFamily(pod: V1Pod): Promise<V1Namespace | undefined> {
    if (!familyNeedsNamespace(pod)) return undefined;
    const name = pod.metadata?.namespace ?? '';
    return this.client.get<V1Namespace>(resourcePath(NamespacesPath, undefined, name)).catch((err: unknown) => {
      this.logger.warn({ err, namespace: name }, 'cannot read the namespace of a pod; its ip-family defaults');
      return undefined;
    });
  }

  /** Starts the VLAN gateway / duplicate-IP ARP checks of an ADD (SPEC §7.3 step 8); resolves with the refusals. */
  private startVlanChecks(who: string, mode: string, fwd: string, instances: IPInstance[]): Promise<string[]> {
    const checks = planVlanChecks(
      mode,
      fwd,
      instances.map((i) => ({
        family: familyOf(i.spec.address.version),
        ip: plainIP(i.spec.address.ip),
        gateway: i.spec.address.gateway ?? undefined,
        subnet: i.spec.subnet,
      })),
      this.config.vlanCheckTimeoutMs,
      this.config.vlanDuplicateProbeMs,
    );
    return runVlanChecks(this.runner, checks, (msg, err) => this.logger.warn({ pod: who, err }, msg));
  }

  /** ADD steps 5–11 under the pod's container / pod locks: veth pair, pod namespace, node wiring, checks, status. */
  private async addDatapath(
    req: PodRequest,
    pod: V1Pod,
    instances: IPInstance[],
    network: Network,
    mac: string,
    hostVeth: string,
    phases: Record<string, number>,
    ms: () => number,
  ): Promise<unknown> {
    const who = `${req.podNamespace}/${req.podName}`;
    const networkName = network.metadata?.name ?? '';
    const netID = instances[0]?.spec.address.netID;
    // the IPInstances may have been released while this ADD waited for its locks: never wire a released address
    for (const ins of instances) {
      const now = this.ipInstances.get(objectKey(ins));
      if (!now || now.metadata?.deletionTimestamp || now.metadata?.uid !== ins.metadata?.uid)
        throw new CniRequestError(
          400,
          11,
          `pod ${who}: IPInstance ${ins.metadata?.namespace}/${ins.metadata?.name} (${ins.spec.address.ip}) was released while the ADD waited; the runtime retries the sandbox`,
        );
    }
    let facts = await this.addFacts();
    let fwd = forwardInterface(network, netID, this.clusterState(), facts);
    if (!fwd || !facts.links.some((l) => l.name === fwd)) {
      // the cached facts may predate the forward interface: read the kernel again before giving up
      facts = await this.addFacts(true);
      fwd = forwardInterface(network, netID, this.clusterState(), facts);
    }
    if (!fwd || !facts.links.some((l) => l.name === fwd))
      throw new CniRequestError(
        500,
        11,
        `pod ${who}: forward interface ${fwd ?? '(none)'} of network ${networkName} does not exist yet, waiting for daemon to create it`,
      );
    const mtu = podMtu(network, facts);
    // a previous sandbox of the same pod (or a retried ADD) owns the veth name: remove it first
    if (existsSync(`/sys/class/net/${hostVeth}`) || facts.links.some((l) => l.name === hostVeth)) {
      await this.runner('ip', ['link', 'del', hostVeth]).catch(() => undefined);
      for (const a of await this.store.list()) if (a.hostVeth === hostVeth) await this.store.remove(a.containerID);
    }
    const addresses = instances.map((i) => {
      const [ip, len] = i.spec.address.ip.split('/');
      return { family: familyOf(i.spec.address.version), ip: ip ?? '', prefixLength: Number(len) };
    });
    const plan = planPodAdd({
      hostVeth,
      ifName: req.ifName,
      netns: req.netns,
      mac,
      mtu,
      addresses,
      localDirectTable: this.config.localDirectTable,
    });
    phases.preparedMs = ms();
    const attachment: Attachment = {
      containerID: req.containerID,
      ifName: req.ifName,
      netns: req.netns,
      hostVeth,
      podNamespace: req.podNamespace,
      podName: req.podName,
      podUID: pod.metadata?.uid ?? '',
      networkName: req.networkName,
      ips: instances.map((i) => i.spec.address.ip),
      createdAt: new Date().toISOString(),
    };
    // recorded before anything is created: a daemon killed from here on leaves a record that DEL and the start-up GC
    // find, never an unrecorded veth
    await this.store.put(attachment);
    phases.recordedMs = ms();
    // SPEC §7.3 step 11, started now so that the API round trip overlaps the wiring: when a later step fails, ADD
    // fails and the runtime's retry (a new sandbox) writes the status again
    const status = this.updateIPInstanceStatus(req, pod, instances); // never rejects
    const vlanChecks = this.startVlanChecks(who, effectiveNetworkMode(network), fwd, instances);
    try {
      await this.wirePodIntoNode(instances, network, facts, fwd, [...plan.createVeth, ...plan.hostBatch]);
      phases.nodeWiredMs = ms();
      // before the pod end goes up (host end carrier): IPv6 DAD of the host end is off, proxy ARP answers
      await writeSysctls(plan.hostSysctls);
      await Promise.all([
        podNamespaceSetup(this.runner, req.netns, plan.podSysctls, plan.podBatch),
        this.addLocalPodIPs(instances),
      ]);
      phases.podWiredMs = ms();
      await this.wireSubnets(instances, facts);
      await this.bgpPodReady(network, instances, facts);
      const refused = await vlanChecks;
      if (refused.length > 0) throw new CniRequestError(500, 100, `pod ${who}: ${refused.join('; ')}`);
      // a pod that does not answer the node fails the ADD like a wiring error: nothing of it stays behind
      phases.datapathMs = ms();
      for (const args of planGratuitousArp(effectiveNetworkMode(network), fwd, addresses)) {
        // arping exits 1 when nobody answers, which is the normal outcome of an announcement
        await this.runner('arping', args).catch((err: unknown) =>
          this.logger.debug({ pod: who, err: String(err) }, 'gratuitous ARP'),
        );
      }
      for (const args of planUnsolicitedNa(effectiveNetworkMode(network), fwd, addresses))
        await this.runner('na6', args).catch((err: unknown) =>
          this.logger.warn({ pod: who, err: String(err) }, 'unsolicited neighbour advertisement failed'),
        );
      await Promise.resolve(
        this.config.checkPodConnectivityFromHost ? this.checkFromHost(who, addresses, facts) : undefined,
      ).finally(() => {
        phases.checkedMs = ms();
      });
    } catch (err) {
      await status;
      // a BGP pod may have been announced already (ADD readiness announces before it checks the peers)
      await this.bgp.withdraw(instances.map((i) => i.spec.address.ip));
      await this.runner('ip', ['link', 'del', hostVeth]).catch(() => undefined);
      await this.runner('nsenter', [`--net=${req.netns}`, '--', 'ip', 'link', 'del', req.ifName]).catch(
        () => undefined,
      );
      await this.store.remove(req.containerID);
      if (err instanceof CniRequestError) throw err;
      throw new CniRequestError(
        500,
        100,
        `pod ${who}: datapath setup failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    await status;
    phases.statusMs = ms();
    return {
      address: instances.map((i) => ({
        ip: i.spec.address.ip,
        mac: i.spec.address.mac,
        gateway: i.spec.address.gateway ?? '',
        protocol: i.spec.address.version,
      })),
      host_interface: hostVeth,
      host_mac: HOST_VETH_MAC,
      container_interface: req.ifName,
      mtu,
      error: '',
    };
  }

  /**
   * SPEC §7.3 step 10: one privileged ping per family with a global node address, done at the first reply, 5 s
   * deadline (`ping -c1 -i0.2 -w5`: one process instead of one per echo; echoes 200 ms apart instead of 1 s, so that
   * one lost first echo costs 0.2 s, not 1 s).
   */
  private async checkFromHost(
    who: string,
    addresses: { family: 4 | 6; ip: string }[],
    facts: NodeFacts,
  ): Promise<void> {
    await Promise.all(
      addresses.map(async (a) => {
        const hostHas = facts.links.some((l) => l.addresses.some((x) => x.global && x.family === a.family));
        if (!hostHas) return;
        const t0 = performance.now();
        const out = await this.runner('ping', [`-${a.family}`, '-c1', '-i0.2', '-w5', a.ip]).catch((err: unknown) => {
          throw new CniRequestError(
            500,
            100,
            `pod ${who}: ${a.ip} does not answer ping from the node within 5s: ${err instanceof Error ? err.message : String(err)}`,
          );
        });
        const tookMs = Math.round(performance.now() - t0);
        // a late first answer (lost echoes, neighbour resolution retried) is worth knowing about
        if (tookMs > 500)
          this.logger.warn(
            { pod: who, ip: a.ip, tookMs, ping: out.trim().split('\n').slice(-2) },
            'pod answered the node late',
          );
      }),
    );
  }

  /** SPEC §7.3 step 3: the `cni.projectcalico.org/podIPs` annotation (a failure is logged, ADD goes on). */
  private async patchCalicoPodIPs(req: PodRequest, instances: IPInstance[]): Promise<void> {
    if (!this.config.patchCalicoPodIPsAnnotation) return;
    const ips = instances.map((i) => plainIP(i.spec.address.ip)).join(',');
    await this.client
      .mergePatch(resourcePath(PodsPath, req.podNamespace, req.podName), {
        metadata: { annotations: { [ANNOTATION_CALICO_POD_IPS]: ips } },
      })
      .catch((err: unknown) => this.logger.warn({ err, pod: req.podName }, 'podIPs annotation patch failed'));
  }

  /** SPEC §7.3 step 11: the status of each IPInstance, concurrently, retried on conflict; awaited before the reply. */
  private async updateIPInstanceStatus(req: PodRequest, pod: V1Pod, instances: IPInstance[]): Promise<void> {
    if (!this.config.updateIPInstanceStatus) return;
    await Promise.all(
      instances.map(async (ins) => {
        const path = resourcePath(IPInstanceResource, ins.metadata?.namespace, ins.metadata?.name);
        await retryOnConflict(() =>
          this.client.mergePatch(`${path}/status`, {
            status: {
              sandboxID: req.containerID,
              nodeName: this.config.nodeName,
              podNamespace: req.podNamespace,
              podName: pod.metadata?.name ?? req.podName,
              updateTimestamp: new Date().toISOString(),
            },
          }),
        ).catch((err: unknown) =>
          this.logger.warn({ err, ipInstance: ins.metadata?.name }, 'IPInstance status patch failed'),
        );
      }),
    );
  }

  /** The pod's addresses in HYBR-LOCAL-POD-IP (the underlay loop guard would drop its inbound traffic otherwise). */
  private async addLocalPodIPs(instances: IPInstance[]): Promise<void> {
    if (!this.config.iptables) return;
    const byFamily = new Map<4 | 6, string[]>();
    for (const i of instances) {
      const fam = familyOf(i.spec.address.version);
      byFamily.set(fam, [...(byFamily.get(fam) ?? []), plainIP(i.spec.address.ip)]);
    }
    const script = [...byFamily]
      .flatMap(([fam, ips]) => {
        const name = setName(IPSet.LocalPodIP, fam);
        return [
          `create ${name} hash:ip family ${fam === 6 ? 'inet6' : 'inet'}`,
          ...ips.map((ip) => `add ${name} ${ip}`),
        ];
      })
      .join('\n');
    await this.ipsetLock.run(() => this.runner('ipset', ['-exist', 'restore'], script + '\n'));
  }

  /** Plain addresses of the active IPInstances bound to this node, as the watch cache has them now. */
  private localPodIPs(): string[] {
    return this.ipInstances
      .list()
      .filter((i) => isActiveInstance(i) && i.spec.binding?.nodeName === this.config.nodeName)
      .map((i) => plainIP(i.spec.address.ip));
  }

  /**
   * The node-side state a new pod needs before ADD returns (SPEC §7.3 steps 6–8), in one `ip -batch` under the
   * datapath lock: `hostLines` (veth pair, host end up, its local-direct routes) and the pod's proxy neighbours on the
   * forward / VXLAN devices. Under the lock a reconcile sees the host veth either not at all or up with its routes, so
   * it neither deletes the pod's routes nor fails adding them to a down device.
   */
  private async wirePodIntoNode(
    instances: IPInstance[],
    network: Network,
    facts: NodeFacts,
    fwd: string,
    hostLines: string[],
  ): Promise<void> {
    const addresses = instances.map((i) => ({
      family: familyOf(i.spec.address.version),
      ip: plainIP(i.spec.address.ip),
      prefixLength: 0,
    }));
    const vxlan = overlayOf(this.clusterState(), facts)?.vxlan;
    const devs: string[] = [];
    if (vxlan && facts.links.some((l) => l.name === vxlan)) devs.push(vxlan);
    if (effectiveNetworkMode(network) === 'VLAN' || fwd === vxlan) devs.push(fwd);
    const proxies = planPodProxyNeighbours(addresses, devs);
    await this.lock.run(async () => {
      await writeSysctls(proxies.sysctls);
      await ipBatch(this.runner, [...hostLines, ...proxies.lines]);
    });
  }

  /**
   * When the pod's subnet is not wired yet on this node (no from-subnet rule in the facts: the first pod of a subnet
   * the last reconcile did not know), a full kernel reconcile under the datapath lock, without the iptables refresh,
   * which follows asynchronously.
   */
  private async wireSubnets(instances: IPInstance[], facts: NodeFacts): Promise<void> {
    const subnetCidrs = new Set(
      instances.map((i) => this.subnets.get(i.spec.subnet)?.spec.range.cidr).filter((x): x is string => !!x),
    );
    if ([...subnetCidrs].every((cidr) => facts.currentRules.some((r) => r.from === cidr))) return;
    await this.reconcile();
  }

  /** `--neigh-gc-thresh*`, or none outside the initial netns (the thresholds are machine-wide), logged once. */
  private gcThresh(): [number, number, number] {
    if (this.initNetns === undefined) {
      this.initNetns = inInitialNetns();
      if (!this.initNetns)
        this.logger.info('not in the initial network namespace: the machine-wide neigh gc_thresh* are left alone');
    }
    return this.initNetns ? this.config.neighGcThresh : [0, 0, 0];
  }

  /** BGP readiness of a new pod (SPEC §7.3 step 8): its paths announced now, rule/table/peers checked. */
  private async bgpPodReady(network: Network, instances: IPInstance[], before: NodeFacts): Promise<void> {
    if (!isBgpMode(network)) return;
    const [links, rules] = await Promise.all([readLinks(this.runner), readRules(this.runner)]);
    const cidrs = instances
      .map((i) => this.subnets.get(i.spec.subnet)?.spec.range.cidr)
      .filter((x): x is string => !!x);
    await this.bgp.podReady(
      network,
      instances,
      cidrs,
      this.clusterState(),
      { ...before, links },
      rules,
      async (table, fam) =>
        (
          JSON.parse(
            (
              await this.runner('ip', [`-${fam}`, '-json', 'route', 'show', 'default', 'table', String(table)])
            ).trim() || '[]',
          ) as unknown[]
        ).length > 0,
    );
  }

  private planOptions(): PlanOptions {
    return {
      localDirectTable: this.config.localDirectTable,
      toOverlayTable: this.config.toOverlayTable,
      overlayMarkTable: this.config.overlayMarkTable,
      vxlanUdpPort: this.config.vxlanUdpPort,
      neighGcThresh: this.gcThresh(),
      ipv6RouteMaxSize: this.config.ipv6RouteMaxSize,
      ipv6RouteGcThresh: this.config.ipv6RouteGcThresh,
      extraNodeLocalVxlanIPCidrs: this.config.extraNodeLocalVxlanIPCidrs,
      vlanArpEnhancement: this.config.vlanArpEnhancement,
    };
  }

  /** Removes an attachment's datapath (host veth; the pair goes with it) and its record. */
  private async removeAttachment(a: Attachment): Promise<void> {
    // deleting the host end removes the pair; only when it is already gone look inside the pod namespace
    const gone = await this.runner('ip', ['link', 'del', a.hostVeth]).then(
      () => true,
      () => false,
    );
    if (!gone && a.netns && existsSync(a.netns))
      await this.runner('nsenter', [`--net=${a.netns}`, '--', 'ip', 'link', 'del', a.ifName]).catch(() => undefined);
    await this.store.remove(a.containerID);
  }

  /** Pod DEL: idempotent, scoped by container ID; nothing known ⇒ success (D7). */
  async del(req: PodRequest): Promise<void> {
    const end = this.metrics.timer('del');
    // Not under the datapath lock (DELs would queue behind every reconcile): serialised with ADD / DEL / GC of the
    // same container, then of the same pod. A reconcile that races a veth deletion fails once and is retried by
    // reconcileLocked.
    await this.podLocks.run([containerKey(req.containerID)], async () => {
      const a = await this.store.get(req.containerID);
      if (a)
        await this.podLocks.run([podKey(a.hostVeth)], async () => {
          // an ADD of another sandbox of the pod may have taken the veth name (and dropped this record) meanwhile
          const still = await this.store.get(req.containerID);
          if (still) await this.removeAttachment(still);
          // SPEC §7.7: the pod's host route goes with it, not at the next resync
          if (still) await this.bgp.withdraw(still.ips);
        });
      await this.store.clearPendingDelete(req.containerID);
    });
    // nothing to reconcile: the pod's routes went with its veth; proxy entries follow the IPInstance (manager)
    end('ok');
  }

  /** Removes `a` under its container / pod locks, if it is still recorded (GC paths). */
  private async removeAttachmentLocked(a: Attachment): Promise<void> {
    await this.podLocks.run([containerKey(a.containerID), podKey(a.hostVeth)], async () => {
      if (await this.store.get(a.containerID)) await this.removeAttachment(a);
    });
  }

  /** Pod CHECK: the attachment exists, the container interface has its addresses and default routes (D7). */
  async check(req: PodRequest): Promise<void> {
    const a = await this.store.get(req.containerID);
    if (!a) throw new CniRequestError(400, 3, `container ${req.containerID} has no hybridnet attachment on this node`);
    const who = `${a.podNamespace}/${a.podName}`;
    const links = await readLinks(this.runner);
    if (!links.some((l) => l.name === a.hostVeth))
      throw new CniRequestError(500, 100, `pod ${who}: host veth ${a.hostVeth} is missing`);
    const prefix = ['nsenter', `--net=${req.netns || a.netns}`, '--'];
    const addrOut = await this.runner(prefix[0] ?? 'nsenter', [
      ...prefix.slice(1),
      'ip',
      '-json',
      'addr',
      'show',
      'dev',
      req.ifName,
    ]).catch(() => {
      throw new CniRequestError(500, 100, `pod ${who}: interface ${req.ifName} is missing in ${a.netns}`);
    });
    const have = new Set(
      (JSON.parse(addrOut) as { addr_info?: { local: string; prefixlen: number }[] }[]).flatMap((l) =>
        (l.addr_info ?? []).map((x) => `${x.local}/${x.prefixlen}`),
      ),
    );
    for (const ip of a.ips)
      if (!have.has(ip)) throw new CniRequestError(500, 100, `pod ${who}: address ${ip} is missing on ${req.ifName}`);
    for (const fam of new Set(a.ips.map((ip) => (ip.includes(':') ? '-6' : '-4')))) {
      const r = await this.runner(prefix[0] ?? 'nsenter', [
        ...prefix.slice(1),
        'ip',
        fam,
        '-json',
        'route',
        'show',
        'default',
      ]);
      if ((JSON.parse(r.trim() || '[]') as unknown[]).length === 0)
        throw new CniRequestError(500, 100, `pod ${who}: default route (${fam}) is missing`);
    }
  }

  /** CNI GC: removes attachments of `networkName` not in `valid` (D7). */
  async gc(networkName: string, valid: { containerID: string; ifname: string }[]): Promise<void> {
    if (!networkName) throw new CniRequestError(400, 7, 'GC needs the network name of the configuration (name)');
    const keep = new Set(valid.map((v) => `${v.containerID}|${v.ifname}`));
    for (const a of await this.store.list())
      if (a.networkName === networkName && !keep.has(`${a.containerID}|${a.ifName}`)) {
        this.logger.info({ containerID: a.containerID, pod: a.podName }, 'gc: removing attachment');
        await this.removeAttachmentLocked(a);
      }
    this.trigger();
  }

  /**
   * DELs the plugin queued because it could not finish talking to the daemon (down, restarting, or the connection cut
   * mid-answer): done at start-up and on every resync, so a queued DEL never waits for the next restart.
   */
  private async processPendingDeletes(): Promise<void> {
    for (const id of await this.store.pendingDeletes()) {
      const a = await this.store.get(id);
      if (a) {
        this.logger.info({ containerID: id, pod: a.podName }, 'handling a DEL the CNI plugin queued');
        await this.removeAttachmentLocked(a);
      }
      await this.store.clearPendingDelete(id);
    }
  }

  /** After a restart: DELs queued while down, and attachments whose netns is gone. */
  private async startupGC(): Promise<void> {
    await this.processPendingDeletes();
    for (const a of await this.store.list())
      if (!a.netns || !existsSync(a.netns)) {
        this.logger.info({ containerID: a.containerID, pod: a.podName }, 'gc: netns gone, removing attachment');
        await this.removeAttachmentLocked(a);
      }
    this.trigger();
  }
}
