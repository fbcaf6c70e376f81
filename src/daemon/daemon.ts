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
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  ANNOTATION_CALICO_POD_IPS,
  ANNOTATION_IP_FAMILY,
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
  KubeApiError,
  NodesPath,
  PodsPath,
  resourcePath,
  retryOnConflict,
  type KubeClient,
} from '../kube/index.ts';
import { hostVethName } from '../net/index.ts';
import { applyIptables, applyNodePlan, changeCount, type ApplyReport } from './apply/node.ts';
import { ipBatch, podNamespaceSetup, run as realRun, writeSysctls, type Runner } from './apply/exec.ts';
import { readLinks, readRules } from './apply/read.ts';
import { CniRequestError, type DaemonConfig } from './config.ts';
import { KeyedLock, Lock } from './lock.ts';
import { HOST_VETH_MAC, IPSet } from './constants.ts';
import { DaemonMetrics } from './metrics.ts';
import { setName } from './plan/iptables.ts';
import { familyOf, forwardInterface, overlayOf, planNode, plainIP, podMtu } from './plan/node.ts';
import { planGratuitousArp, planPodAdd, planPodProxyNeighbours } from './plan/pod.ts';
import type { ClusterState, LinkFacts, NodeFacts, NodePlan, PlanOptions } from './plan/types.ts';
import { startCniServer, type CniHandler, type PodRequest } from './server.ts';
import { AttachmentStore, pendingDeleteDir, type Attachment } from './state.ts';

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
  readonly store: AttachmentStore;
  readonly metrics = new DaemonMetrics();
  /** The datapath lock: node tables (see module doc). */
  private readonly lock = new Lock();
  /** Serialises the iptables refresh and NodeInfo publishing of reconciles (after the datapath lock). */
  private readonly afterTablesLock = new Lock();
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
    const mk = <T extends { metadata?: { name?: string } }>(path: string, labelSelector?: string): Informer<T> =>
      new Informer<T>(client, {
        path,
        ...(labelSelector ? { labelSelector } : {}),
        logger: logger.child({ informer: path }),
        staleAfterMs: 120_000,
      });
    this.networks = mk<Network>(resourcePath(NetworkResource));
    this.subnets = mk<Subnet>(resourcePath(SubnetResource));
    this.nodeInfos = mk<NodeInfo>(resourcePath(NodeInfoResource));
    this.ipInstances = mk<IPInstance>(resourcePath(IPInstanceResource));
    this.ipInstances.addIndex(NODE_UID_INDEX, (i) => {
      const l = i.metadata?.labels ?? {};
      return l[LABEL_NODE] && l[LABEL_POD_UID] ? [`${l[LABEL_NODE]}/${l[LABEL_POD_UID]}`] : [];
    });
    this.store = new AttachmentStore(config.stateDir, pendingDeleteDir(config.socket));
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
    const infs: { run(s: AbortSignal): Promise<void>; waitForSync(s: AbortSignal): Promise<void> }[] = [
      this.networks,
      this.subnets,
      this.nodeInfos,
      this.ipInstances,
    ];
    const running = infs.map((i) =>
      i.run(signal).catch((err: unknown) => this.logger.error({ err }, 'informer stopped')),
    );
    for (const i of infs) await i.waitForSync(signal);
    this.synced = true;
    await this.reconcile();
    await this.startupGC();
    this.server = await startCniServer(this.config.socket, this, this.logger.child({ component: 'cni-server' }));
    this.logger.info({ socket: this.config.socket, node: this.config.nodeName }, 'cni server listening');
    const periodic = setInterval(() => {
      this.iptablesDue = true;
      this.trigger();
    }, this.config.resyncMs);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(periodic);
    if (this.timer) clearTimeout(this.timer);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await Promise.all(running);
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
    const [links, currentRules] = await Promise.all([readLinks(this.runner), readRules(this.runner)]);
    let defaults: Promise<(string | undefined)[]> | undefined;
    const lazyDefaults = (): Promise<(string | undefined)[]> => (defaults ??= defaultRouteDevices(this.runner));
    const needDefaults = (prefer: string[]): boolean => !prefer.some((p) => links.some((l) => l.name === p));
    const [vxlanParent, vlanParent] = await Promise.all(
      [this.config.preferVxlanInterfaces, this.config.preferVlanInterfaces].map((prefer) =>
        chooseInterface(this.runner, prefer, links, needDefaults(prefer) ? lazyDefaults() : undefined),
      ),
    );
    return {
      nodeName: this.config.nodeName,
      links,
      ...(vxlanParent ? { vxlanParent } : {}),
      ...(vlanParent ? { vlanParent } : {}),
      currentRules,
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
    const { plan, report } = await this.lock.run(() => this.reconcileLocked());
    await this.afterTablesLock.run(async () => {
      const iptablesKey = JSON.stringify([plan.ipsets, plan.iptables]);
      if (this.config.iptables && (this.iptablesDue || iptablesKey !== this.lastIptablesKey)) {
        await applyIptables(this.runner, plan);
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
  private async reconcileLocked(): Promise<{ plan: NodePlan; report: ApplyReport }> {
    try {
      return await this.reconcileTables();
    } catch (err) {
      // the kernel changed under us (e.g. a veth deleted by a concurrent DEL): read again and retry once
      this.logger.debug({ err }, 'reconcile failed; retrying with fresh kernel state');
      return this.reconcileTables();
    }
  }

  private async reconcileTables(): Promise<{ plan: NodePlan; report: ApplyReport }> {
    const facts = await this.facts();
    const plan = planNode(this.clusterState(), facts, this.planOptions());
    for (const w of plan.warnings) this.logger.warn({ node: this.config.nodeName }, w);
    const report = await applyNodePlan(this.runner, plan, { iptables: false });
    // the facts predate what this reconcile created (links, rules): ADD reads them again when it needs them
    this.cachedFacts = report.links.length + report.rules.length > 0 ? undefined : facts;
    this.lastPlan = plan;
    this.lastReport = report;
    if (changeCount(report) > 0) this.logger.info({ changes: changeCount(report), report }, 'node datapath reconciled');
    return { plan, report };
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
        await this.client.create(resourcePath(NodeInfoResource), {
          apiVersion: NodeInfoResource.apiVersion,
          kind: NodeInfoResource.kind,
          metadata: {
            name,
            ownerReferences: [
              { apiVersion: 'v1', kind: 'Node', name, uid: this.nodeUID, controller: true, blockOwnerDeletion: false },
            ],
          },
          spec: { vtepInfo },
        });
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

  private async waitInstances(req: PodRequest, pod: V1Pod, expect: number): Promise<IPInstance[]> {
    const uid = pod.metadata?.uid ?? '';
    const deadline = Date.now() + this.config.ipInstanceWaitMs;
    let got: IPInstance[] = [];
    for (;;) {
      got = this.ipInstances
        .byIndex(NODE_UID_INDEX, `${this.config.nodeName}/${uid}`)
        .filter((i) => !i.metadata?.deletionTimestamp && i.metadata?.namespace === req.podNamespace);
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
      const out = await this.addInner(req);
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
    const family = parseIPFamily(
      pod.metadata?.annotations?.[ANNOTATION_IP_FAMILY] ?? '',
      parseIPFamily(this.config.defaultIPFamily) as never,
    );
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
      this.podLocks.run([containerKey(req.containerID), podKey(hostVeth)], () =>
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
    try {
      await this.wirePodIntoNode(instances, network, facts, fwd, [...plan.createVeth, ...plan.hostBatch]);
      // before the pod end goes up (host end carrier): IPv6 DAD of the host end is off, proxy ARP answers
      await writeSysctls(plan.hostSysctls);
      await Promise.all([
        podNamespaceSetup(this.runner, req.netns, plan.podSysctls, plan.podBatch),
        this.addLocalPodIPs(instances),
      ]);
      await this.wireSubnets(instances, facts);
    } catch (err) {
      await this.runner('ip', ['link', 'del', hostVeth]).catch(() => undefined);
      await this.runner('nsenter', [`--net=${req.netns}`, '--', 'ip', 'link', 'del', req.ifName]).catch(
        () => undefined,
      );
      throw new CniRequestError(
        500,
        100,
        `pod ${who}: datapath setup failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    phases.datapathMs = ms();
    for (const args of planGratuitousArp(effectiveNetworkMode(network), fwd, addresses)) {
      // arping exits 1 when nobody answers, which is the normal outcome of an announcement
      await this.runner('arping', args).catch((err: unknown) =>
        this.logger.debug({ pod: who, err: String(err) }, 'gratuitous ARP'),
      );
    }
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
    // the status patch goes side by side with the ping: on a failed ping ADD fails and the runtime's retry (a new
    // sandbox) writes the status again
    const status = this.updateIPInstanceStatus(req, pod, instances); // never rejects
    await Promise.all([
      this.store.put(attachment),
      this.config.checkPodConnectivityFromHost ? this.checkFromHost(who, addresses, facts) : undefined,
    ]).finally(() => {
      phases.checkedMs = ms();
    });
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
    await this.runner('ipset', ['-exist', 'restore'], script + '\n');
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
    await this.lock.run(() => this.reconcileLocked());
    this.trigger();
  }

  private planOptions(): PlanOptions {
    return {
      localDirectTable: this.config.localDirectTable,
      toOverlayTable: this.config.toOverlayTable,
      overlayMarkTable: this.config.overlayMarkTable,
      vxlanUdpPort: this.config.vxlanUdpPort,
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
    const keep = new Set(valid.map((v) => `${v.containerID}|${v.ifname}`));
    for (const a of await this.store.list())
      if ((a.networkName === networkName || networkName === '') && !keep.has(`${a.containerID}|${a.ifName}`)) {
        this.logger.info({ containerID: a.containerID, pod: a.podName }, 'gc: removing attachment');
        await this.removeAttachmentLocked(a);
      }
    this.trigger();
  }

  /** After a restart: DELs queued while down, and attachments whose netns is gone. */
  private async startupGC(): Promise<void> {
    for (const id of await this.store.pendingDeletes()) {
      const a = await this.store.get(id);
      if (a) {
        this.logger.info({ containerID: id, pod: a.podName }, 'handling DEL queued while the daemon was down');
        await this.removeAttachmentLocked(a);
      }
      await this.store.clearPendingDelete(id);
    }
    for (const a of await this.store.list())
      if (!a.netns || !existsSync(a.netns)) {
        this.logger.info({ containerID: a.containerID, pod: a.podName }, 'gc: netns gone, removing attachment');
        await this.removeAttachmentLocked(a);
      }
    this.trigger();
  }
}
