/**
 * The node room (SPEC §7.2, §7.8, §7.10): the level-triggered node reconcile — watch caches → cluster view →
 * {@link planNode} → {@link applyNodePlan} — run on every relevant change (debounced), on link / address events and
 * on every resync; the iptables / ipset refresh; this node's NodeInfo; the start-up checks.
 *
 * Owns the node tables (links, addresses, sysctls, rules, the routes of its tables, neighbours, FDB, HYBRIDNET-*
 * chains and ipsets) and their locks:
 * - the datapath lock: everything a reconcile writes to the kernel except iptables; also held by
 *   {@link NodeReconciler.wirePod}, the one short step by which a pod ADD touches the node tables (a reconcile that
 *   read the links before the pod's host veth existed must not see, and delete, a route of it);
 * - the after-tables lock: the BGP sync, iptables refresh and NodeInfo publishing of reconciles, one at a time;
 * - the ipset lock: a refresh's `ipset restore` and an ADD's `ipset add` never interleave.
 * May not touch a pod's namespace, the attachment records or IPInstances (the pods room's), nor talk to gobgpd other
 * than through the BGP controller's plan / sync.
 */
import type { Logger } from 'pino';
import { effectiveNetworkMode, type IPInstance, type Network } from '../../api/index.ts';
import type { KubeClient } from '../../kube/index.ts';
import { applyIptablesRules, applyNodePlan, changeCount, ipsetScript, type ApplyReport } from '../apply/node.ts';
import { ipBatch, writeSysctls, type Runner } from '../apply/exec.ts';
import { inInitialNetns, ipv6Disabled } from '../apply/host.ts';
import { checkOwnedTables, checkPreferredInterfaces, removeLegacyChains } from '../apply/startup.ts';
import { isBgpMode, type BgpController, type BgpPlan } from '../bgp/index.ts';
import type { ClusterCache } from '../cluster.ts';
import type { DaemonConfig } from '../config.ts';
import { IPSet } from '../constants.ts';
import { Lock } from '../lock.ts';
import type { DaemonMetrics } from '../metrics.ts';
import { setName, withLocalPodIPs } from '../plan/iptables.ts';
import { familyOf, isActiveInstance, overlayOf, plainIP } from '../plan/network.ts';
import { planNode } from '../plan/node.ts';
import { planPodProxyNeighbours } from '../plan/pod.ts';
import type { NodeFacts, NodePlan, PlanOptions } from '../plan/types.ts';
import { readNodeFacts } from './facts.ts';
import { NodeIdentity } from './identity.ts';
import { LinkMonitor } from './monitor.ts';

/** What the node room is built from. */
export interface NodeReconcilerOptions {
  client: KubeClient;
  config: DaemonConfig;
  logger: Logger;
  runner: Runner;
  cluster: ClusterCache;
  /** The node's BGP controller: planned before and synced after each reconcile's tables (SPEC §7.7). */
  bgp: Pick<BgpController, 'plan' | 'sync'>;
  metrics: DaemonMetrics;
}

/** The node reconcile of one daemon, and the node-table steps it lends to pod ADD. */
export class NodeReconciler {
  /** The datapath lock: node tables (see module doc). */
  private readonly lock = new Lock();
  /** Serialises the BGP sync, iptables refresh and NodeInfo publishing of reconciles (after the datapath lock). */
  private readonly afterTablesLock = new Lock();
  /**
   * Orders the ipset writes: a refresh's `ipset restore` (which swaps whole sets) and an ADD's `ipset add` of its pod
   * never interleave, and the refresh adds the addresses of the pods local at that moment (see withLocalPodIPs).
   */
  private readonly ipsetLock = new Lock();
  private readonly identity: NodeIdentity;
  /**
   * Node facts of the last reconcile, used by ADD instead of reading the kernel again (links, chosen interfaces,
   * rules). Dropped when a reconcile changed links or rules; ADD re-reads them when its forward interface is missing.
   */
  private cachedFacts: NodeFacts | undefined;
  /** Triggers are ignored until {@link NodeReconciler.enableTriggers} (the caches have synced). */
  private triggersOn = false;
  private timer: NodeJS.Timeout | undefined;
  private pending = false;
  private ipv6Off: boolean | undefined;
  private initNetns: boolean | undefined;
  /** ipsets + iptables text last applied; event-driven reconciles skip the refresh when it is unchanged. */
  private lastIptablesKey = '';
  /** Set by the periodic resync: the next reconcile re-applies iptables even when unchanged (SPEC §7.10). */
  private iptablesDue = true;
  /** True once a reconcile completed (readiness). */
  reconciled = false;
  /** Last plan applied (for tests and the status endpoint). */
  lastPlan: NodePlan | undefined;
  lastReport: ApplyReport | undefined;

  constructor(private readonly o: NodeReconcilerOptions) {
    this.identity = new NodeIdentity(o.client, o.config.nodeName, o.logger);
  }

  /**
   * SPEC §7.1 / §7.10 start-up: refuses to start (throws TableInUseError) when a fixed table holds foreign routes,
   * or (PreferredInterfaceMissingError) when a `--prefer-*-interfaces` list names no interface of the node; removes
   * the legacy RAMA-* chains once per process.
   */
  async startupChecks(): Promise<void> {
    const { runner, config, logger } = this.o;
    await checkOwnedTables(runner, config);
    await checkPreferredInterfaces(runner, [
      { flag: '--prefer-vxlan-interfaces', interfaces: config.preferVxlanInterfaces },
      { flag: '--prefer-vlan-interfaces', interfaces: config.preferVlanInterfaces },
      { flag: '--prefer-bgp-interfaces', interfaces: config.preferBgpInterfaces },
    ]);
    if (!config.iptables) return;
    this.ipv6Off ??= await ipv6Disabled();
    const cleaned = await removeLegacyChains(runner, !this.ipv6Off).catch((err: unknown) => {
      logger.error({ err }, 'removing the legacy RAMA-* iptables chains failed; continuing');
      return [];
    });
    if (cleaned.length > 0) logger.info({ families: cleaned }, 'removed the legacy RAMA-* iptables chains');
  }

  /** SPEC §7.1: reconcile on link/address changes of host interfaces (`--link-monitor`); stop it at shutdown. */
  startLinkMonitor(): LinkMonitor | undefined {
    if (!this.o.config.linkMonitor) return undefined;
    const m = new LinkMonitor(() => this.trigger(), this.o.logger.child({ component: 'link-monitor' }));
    m.start();
    return m;
  }

  /** Re-reads this node's Node object (UID, `status.addresses`); a failure is logged and keeps the last values. */
  refreshNode(): Promise<void> {
    return this.identity.refresh();
  }

  /** Lets {@link NodeReconciler.trigger} schedule reconciles from now on. */
  enableTriggers(): void {
    this.triggersOn = true;
  }

  /** Makes the next reconcile re-apply iptables and ipsets even when unchanged (the periodic resync, SPEC §7.10). */
  markIptablesDue(): void {
    this.iptablesDue = true;
  }

  /** Schedules a reconcile (debounced 50 ms; a failed one is retried after 1 s). */
  trigger(): void {
    if (!this.triggersOn) return;
    this.pending = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.pending) return;
      this.pending = false;
      this.reconcile().catch((err: unknown) => {
        this.o.logger.error({ err }, 'reconcile failed; retrying in 1s');
        setTimeout(() => this.trigger(), 1000).unref();
      });
    }, 50);
  }

  /** Cancels a scheduled reconcile (shutdown). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Reads the node's facts (links, rules, chosen interfaces). */
  async facts(): Promise<NodeFacts> {
    this.ipv6Off ??= await ipv6Disabled();
    const c = this.o.config;
    return readNodeFacts(this.o.runner, {
      nodeName: c.nodeName,
      preferVxlanInterfaces: c.preferVxlanInterfaces,
      preferVlanInterfaces: c.preferVlanInterfaces,
      preferBgpInterfaces: c.preferBgpInterfaces,
      needBgpParent: () => this.o.cluster.networks.list().some(isBgpMode),
      nodeAddresses: () => this.identity.addresses,
      ipv6Disabled: this.ipv6Off,
    });
  }

  /**
   * One full node reconcile: links, sysctls, rules, routes, neighbours and FDB under the datapath lock; then, after
   * releasing it (pod ADDs need not wait for them), the iptables / ipset refresh when due or changed and this node's
   * NodeInfo, one reconcile at a time in lock order.
   */
  async reconcile(): Promise<ApplyReport> {
    const t0 = performance.now();
    const { config, runner } = this.o;
    const { plan, report, bgpPlan } = await this.lock.run(() => this.reconcileLocked());
    await this.afterTablesLock.run(async () => {
      await this.o.bgp.sync(bgpPlan); // SPEC §7.7: peers and local paths after the routes they need
      const iptablesKey = JSON.stringify([plan.ipsets, plan.iptables]);
      if (config.iptables && (this.iptablesDue || iptablesKey !== this.lastIptablesKey)) {
        await this.ipsetLock.run(async () => {
          const ipsets = withLocalPodIPs(plan.ipsets, this.localPodIPs());
          await runner('ipset', ['-exist', 'restore'], ipsetScript({ ...plan, ipsets }));
        });
        await applyIptablesRules(runner, plan);
        report.ipsets = plan.ipsets.length;
        report.iptables = true;
        this.lastIptablesKey = iptablesKey;
        this.iptablesDue = false;
      }
      await this.identity.publish(plan, this.o.cluster.nodeInfos.get(config.nodeName));
    });
    this.reconciled = true;
    this.o.metrics.reconcileSeconds.observe((performance.now() - t0) / 1000);
    return report;
  }

  /** The node tables part of a reconcile (caller holds the datapath lock); retried once on a kernel race. */
  private async reconcileLocked(): Promise<{ plan: NodePlan; report: ApplyReport; bgpPlan: BgpPlan }> {
    try {
      return await this.reconcileTables();
    } catch (err) {
      // the kernel changed under us (e.g. a veth deleted by a concurrent DEL): read again and retry once
      this.o.logger.debug({ err }, 'reconcile failed; retrying with fresh kernel state');
      return this.reconcileTables();
    }
  }

  private async reconcileTables(): Promise<{ plan: NodePlan; report: ApplyReport; bgpPlan: BgpPlan }> {
    const { cluster, logger, config } = this.o;
    const facts = await this.facts();
    const bgpPlan = await this.o.bgp.plan(cluster.state(), facts); // sets facts.bgpGateway (SPEC §7.4)
    const plan = planNode(cluster.state(), facts, this.planOptions());
    for (const w of plan.warnings) logger.warn({ node: config.nodeName }, w);
    const report = await applyNodePlan(this.o.runner, plan, { iptables: false });
    if (report.tcError) logger.warn({ node: config.nodeName }, report.tcError);
    // the facts predate what this reconcile created (links, rules): ADD reads them again when it needs them
    this.cachedFacts = report.links.length + report.rules.length > 0 ? undefined : facts;
    this.lastPlan = plan;
    this.lastReport = report;
    if (changeCount(report) > 0) logger.info({ changes: changeCount(report), report }, 'node datapath reconciled');
    return { plan, report, bgpPlan };
  }

  private planOptions(): PlanOptions {
    const c = this.o.config;
    return {
      localDirectTable: c.localDirectTable,
      toOverlayTable: c.toOverlayTable,
      overlayMarkTable: c.overlayMarkTable,
      vxlanUdpPort: c.vxlanUdpPort,
      neighGcThresh: this.gcThresh(),
      ipv6RouteMaxSize: c.ipv6RouteMaxSize,
      ipv6RouteGcThresh: c.ipv6RouteGcThresh,
      extraNodeLocalVxlanIPCidrs: c.extraNodeLocalVxlanIPCidrs,
      vlanArpEnhancement: c.vlanArpEnhancement,
    };
  }

  /** `--neigh-gc-thresh*`, or none outside the initial netns (the thresholds are machine-wide), logged once. */
  private gcThresh(): [number, number, number] {
    if (this.initNetns === undefined) {
      this.initNetns = inInitialNetns();
      if (!this.initNetns)
        this.o.logger.info('not in the initial network namespace: the machine-wide neigh gc_thresh* are left alone');
    }
    return this.initNetns ? this.o.config.neighGcThresh : [0, 0, 0];
  }

  // ------------------------------------------------------------------------ the node-table steps of a pod ADD

  /** Facts for a pod ADD: the last reconcile's, or freshly read (and kept) when there are none or `fresh`. */
  async podFacts(fresh = false): Promise<NodeFacts> {
    if (!fresh && this.cachedFacts) return this.cachedFacts;
    const f = await this.facts();
    this.cachedFacts = f;
    return f;
  }

  /**
   * The node-side state a new pod needs before ADD returns (SPEC §7.3 steps 6–8), in one `ip -batch` under the
   * datapath lock: `hostLines` (veth pair, host end up, its local-direct routes) and the pod's proxy neighbours on the
   * forward / VXLAN devices. Under the lock a reconcile sees the host veth either not at all or up with its routes, so
   * it neither deletes the pod's routes nor fails adding them to a down device.
   */
  async wirePod(
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
    const vxlan = overlayOf(this.o.cluster.state(), facts)?.vxlan;
    const devs: string[] = [];
    if (vxlan && facts.links.some((l) => l.name === vxlan)) devs.push(vxlan);
    if (effectiveNetworkMode(network) === 'VLAN' || fwd === vxlan) devs.push(fwd);
    const proxies = planPodProxyNeighbours(addresses, devs);
    await this.lock.run(async () => {
      await writeSysctls(proxies.sysctls);
      await ipBatch(this.o.runner, [...hostLines, ...proxies.lines]);
    });
  }

  /**
   * When the pod's subnet is not wired yet on this node (no from-subnet rule in the facts: the first pod of a subnet
   * the last reconcile did not know), a full kernel reconcile under the datapath lock.
   */
  async wireSubnets(instances: IPInstance[], facts: NodeFacts): Promise<void> {
    const subnetCidrs = new Set(
      instances.map((i) => this.o.cluster.subnetCidr(i.spec.subnet)).filter((x): x is string => !!x),
    );
    if ([...subnetCidrs].every((cidr) => facts.currentRules.some((r) => r.from === cidr))) return;
    await this.reconcile();
  }

  /** The pod's addresses in HYBR-LOCAL-POD-IP (the underlay loop guard would drop its inbound traffic otherwise). */
  async addLocalPodIPs(instances: IPInstance[]): Promise<void> {
    if (!this.o.config.iptables) return;
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
    await this.ipsetLock.run(() => this.o.runner('ipset', ['-exist', 'restore'], script + '\n'));
  }

  /** Plain addresses of the active IPInstances bound to this node, as the watch cache has them now. */
  private localPodIPs(): string[] {
    return this.o.cluster.ipInstances
      .list()
      .filter((i) => isActiveInstance(i) && i.spec.binding?.nodeName === this.o.config.nodeName)
      .map((i) => plainIP(i.spec.address.ip));
  }
}
