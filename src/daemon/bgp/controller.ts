/**
 * The daemon's BGP controller (SPEC §7.3 step 8, §7.5–§7.7): plans the node's BGP state ({@link planBgp}), keeps the
 * supervised gobgpd ({@link BgpSpeaker}) in line with it after every node reconcile, answers the BGP readiness check
 * of pod ADD, withdraws a deleted pod's host routes at once, and reports peers (metrics
 * `hybridnet_bgp_peer_state{network,peer}` / `hybridnet_bgp_announced_prefixes{network,family}`, log lines on state
 * changes, {@link BgpController.peerStatus} for NodeInfo status).
 */
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { type IPInstance, type Network, type NodeBGPPeerStatus } from '../../api/index.ts';
import { EventRecorder, NodesPath, resourcePath, type KubeClient } from '../../kube/index.ts';
import type { Runner } from '../apply/exec.ts';
import type { ClusterState, Family, NodeFacts, RuleSpec } from '../plan/types.ts';
import { bgpNetworksOf, isBgpMode, planBgp, type BgpPathSpec, type BgpPlan, type DefaultRoute } from './plan.ts';
import { BgpSpeaker, SESSION_STATES, type PeerStatus } from './speaker.ts';
import { patchNodeInfoStatus } from '../nodeinfo.ts';
import { Lock } from '../lock.ts';

/** Status of one peer as published (NodeInfo `status.bgpPeers[]`). */
export type BgpPeerReport = NodeBGPPeerStatus;

/** Reads the main table's default routes (`ip -json route show default`, both families). */
export async function readDefaultRoutes(runner: Runner): Promise<DefaultRoute[]> {
  const out: DefaultRoute[] = [];
  for (const fam of [4, 6] as Family[]) {
    const text = await runner('ip', [`-${fam}`, '-json', 'route', 'show', 'default']).catch(() => '[]');
    const rows = JSON.parse(text.trim() || '[]') as { dev?: string; gateway?: string; prefsrc?: string }[];
    for (const r of rows)
      if (r.dev)
        out.push({
          family: fam,
          dev: r.dev,
          ...(r.gateway ? { via: r.gateway } : {}),
          ...(r.prefsrc ? { src: r.prefsrc } : {}),
        });
  }
  return out;
}

/** BGP part of the daemon. */
export class BgpController {
  readonly speaker: BgpSpeaker;
  private lastPlan: BgpPlan | undefined;
  /**
   * Path changes of reconciles (`sync`) and of pod ADDs (`podReady`) one at a time, and never backwards: each plan
   * gets a sequence number when it is made, and a plan older than the last one applied is replaced by that one. A
   * reconcile plans under the datapath lock and syncs after releasing it; an ADD that wires its pod and announces it
   * in between must not have its path withdrawn by the older plan, which did not see the pod's host veth yet.
   */
  private readonly pathLock = new Lock();
  private planSeq = 0;
  private readonly seqOf = new WeakMap<BgpPlan, number>();
  private applied: BgpPlan | undefined;
  /** Main-table default routes read by the last reconcile (reused by ADD). */
  private lastDefaults: DefaultRoute[] | undefined;
  private peerStates = new Map<string, PeerStatus>();
  private readonly peerGauge: Gauge;
  private readonly prefixGauge: Gauge;
  private reports: BgpPeerReport[] = [];
  /** `JSON.stringify` of the bgpPeers last written to NodeInfo status. */
  private publishedKey = '';
  private readonly recorder: EventRecorder | undefined;
  /** The Node object events are about (read once). */
  private node: { apiVersion: string; kind: string; metadata: { name: string; uid?: string } } | undefined;

  constructor(
    private readonly opts: {
      stateDir: string;
      apiAddr: string;
      logger: Logger;
      runner: Runner;
      registry: Registry;
      /** With `nodeName`: peer states are written to this node's NodeInfo `status.bgpPeers`. */
      client?: KubeClient;
      nodeName?: string;
      /** Schedules a sync soon (the daemon's reconcile trigger): used when gobgpd exits. */
      onSpeakerExit?: () => void;
    },
  ) {
    if (opts.client && opts.nodeName)
      this.recorder = new EventRecorder(opts.client, 'hybridnet-daemon', opts.logger, opts.nodeName);
    this.speaker = new BgpSpeaker({ ...opts, ...(opts.onSpeakerExit ? { onExit: opts.onSpeakerExit } : {}) });
    this.peerGauge = new Gauge({
      name: 'hybridnet_bgp_peer_state',
      help: 'BGP FSM state of a peer (0 Unknown, 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established)',
      labelNames: ['network', 'peer', 'asn', 'state'],
      registers: [opts.registry],
    });
    this.prefixGauge = new Gauge({
      name: 'hybridnet_bgp_announced_prefixes',
      help: 'Prefixes this node announces over BGP (subnets and pod host routes)',
      labelNames: ['network', 'family'],
      registers: [opts.registry],
    });
  }

  /** Plans BGP for `facts` and sets `facts.bgpGateway` for the node planner (SPEC §7.4 BGP tables). */
  async plan(cluster: ClusterState, facts: NodeFacts, reuseDefaults = false): Promise<BgpPlan> {
    const seq = ++this.planSeq;
    // no BGP network on this node (the common case): skip reading the default routes; ADD reuses the reconcile's
    const inBgp = bgpNetworksOf(cluster.networks, facts.nodeName).length > 0;
    const defaults = !inBgp
      ? []
      : reuseDefaults && this.lastDefaults
        ? this.lastDefaults
        : await readDefaultRoutes(this.opts.runner);
    this.lastDefaults = inBgp ? defaults : undefined;
    const bgpIf = facts.links.find((l) => l.name === facts.bgpParent);
    const plan = planBgp(cluster, {
      nodeName: facts.nodeName,
      ...(bgpIf ? { bgpIf } : {}),
      defaultRoutes: defaults,
      linkNames: new Set(facts.links.map((l) => l.name)),
    });
    if (plan.asn !== undefined) facts.bgpGateway = plan.gateway;
    this.seqOf.set(plan, seq);
    return plan;
  }

  /** `plan`, or the plan applied last when that one was made later (see {@link pathLock}). */
  private newest(plan: BgpPlan): BgpPlan {
    const applied = this.applied;
    return applied && (this.seqOf.get(applied) ?? 0) > (this.seqOf.get(plan) ?? 0) ? applied : plan;
  }

  /** Brings the speaker to `plan`; errors are logged (the next reconcile retries), never thrown. */
  async sync(planned: BgpPlan): Promise<void> {
    await this.pathLock.run(() => this.syncLocked(this.newest(planned)));
  }

  private async syncLocked(plan: BgpPlan): Promise<void> {
    for (const w of plan.warnings) this.opts.logger.warn(w);
    this.lastPlan = plan;
    if (plan.asn === undefined && this.speaker.speakerPid === undefined) return;
    try {
      const r = await this.speaker.sync(plan);
      this.applied = plan;
      if (r.peersAdded.length + r.peersDeleted.length + r.pathsAdded.length + r.pathsDeleted.length > 0 || r.restarted)
        this.opts.logger.info({ network: plan.network, ...r }, 'BGP speaker synced');
      if (plan.asn !== undefined) await this.refreshStatus(plan);
      await this.publish();
    } catch (err) {
      this.opts.logger.error({ err, network: plan.network }, 'BGP sync failed; retrying with the next reconcile');
    }
  }

  private async refreshStatus(plan: BgpPlan): Promise<void> {
    const peers = await this.speaker.peers();
    const network = plan.network ?? '';
    const now = new Date().toISOString();
    this.peerGauge.reset();
    const reports: BgpPeerReport[] = [];
    for (const p of peers) {
      const prev = this.peerStates.get(p.address);
      if (prev?.state !== p.state)
        this.opts.logger[p.state === 'Established' ? 'info' : 'warn'](
          { network, peer: p.address, asn: p.asn, from: prev?.state, to: p.state },
          'BGP peer state changed',
        );
      if (prev && prev.state !== p.state) void this.event(network, p, prev.state);
      this.peerStates.set(p.address, p);
      this.peerGauge.set({ network, peer: p.address, asn: String(p.asn), state: p.state }, p.stateCode);
      const lastError = p.state === 'Established' ? undefined : this.explain(p);
      const old = this.reports.find((r) => r.address === p.address);
      reports.push({
        network,
        address: p.address,
        asn: p.asn,
        state: p.state,
        ...(lastError ? { lastError } : {}),
        updateTimestamp: old && old.state === p.state && old.lastError === lastError ? old.updateTimestamp : now,
      });
    }
    this.reports = reports;
    this.prefixGauge.reset();
    for (const fam of [4, 6] as Family[])
      this.prefixGauge.set({ network, family: `ipv${fam}` }, plan.paths.filter((p) => p.family === fam).length);
  }

  /** A Kubernetes Event on this node's Node object for a peer state change (Warning when it left Established). */
  private async event(network: string, p: PeerStatus, from: string): Promise<void> {
    const { client, nodeName } = this.opts;
    if (!this.recorder || !client || !nodeName) return;
    try {
      if (!this.node) {
        const n = await client.get<{ metadata?: { uid?: string } }>(resourcePath(NodesPath, undefined, nodeName));
        this.node = { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, uid: n.metadata?.uid ?? '' } };
      }
    } catch (err) {
      this.opts.logger.warn({ err }, 'cannot read the Node for a BGP event');
      return;
    }
    const up = p.state === 'Established';
    await this.recorder.record(
      this.node,
      up ? 'Normal' : 'Warning',
      up ? 'BGPPeerEstablished' : 'BGPPeerNotEstablished',
      `BGP peer ${p.address} (AS ${p.asn}) of network ${network}: ${from} → ${p.state}${up ? '' : ` (${this.explain(p)})`}`,
    );
  }

  /**
   * Writes the peer states to `NodeInfo.status.bgpPeers` when they changed (merge patch of the status subresource).
   * A node without NodeInfo (no overlay network) gets one, empty and owned by its Node.
   */
  private async publish(): Promise<void> {
    const { client, nodeName } = this.opts;
    if (!client || !nodeName) return;
    const key = JSON.stringify(this.reports);
    if (key === this.publishedKey) return;
    try {
      await patchNodeInfoStatus(client, nodeName, { bgpPeers: this.reports });
      this.publishedKey = key;
    } catch (err) {
      this.opts.logger.warn({ err, nodeInfo: nodeName }, 'NodeInfo status.bgpPeers patch failed; retried next sync');
    }
  }

  /** Why a peer is not Established, from its counters and gobgpd's log. */
  private explain(p: PeerStatus): string {
    const log = this.speaker.lastLogError(p.address);
    if (p.notificationsReceived > 0)
      return `peer sent ${p.notificationsReceived} NOTIFICATION(s) (wrong AS or rejected OPEN?)${log ? `: ${log}` : ''}`;
    if (log) return log;
    return `no BGP session in state ${p.state}: the peer does not answer (down, wrong TCP-MD5 password, or not configured for this node)`;
  }

  /** Peer states of the last sync (NodeInfo `status.bgpPeers`). */
  peerStatus(): BgpPeerReport[] {
    return this.reports;
  }

  /**
   * ADD readiness for BGP / GlobalBGP pods (SPEC §7.3 step 8): announces the pod's host routes now (not at the next
   * reconcile), then checks the from-subnet rule, its table's default route, the paths in the local RIB and every peer
   * without `allowNotEstablished` being Established.
   * @throws Error naming the peer, its AS and state, or the missing piece.
   */
  async podReady(
    network: Network,
    instances: IPInstance[],
    subnetCidrs: string[],
    cluster: ClusterState,
    facts: NodeFacts,
    rules: RuleSpec[],
    tableHasDefault: (table: number, family: Family) => Promise<boolean>,
  ): Promise<void> {
    if (!isBgpMode(network)) return;
    const plan = await this.plan(cluster, facts, true);
    if (plan.asn === undefined)
      throw new Error(
        `network ${network.metadata?.name}: this node has no BGP speaker (${plan.warnings.join('; ') || 'it is in no BGP network'})`,
      );
    let rib: BgpPathSpec[];
    try {
      rib = await this.pathLock.run(async () => {
        const use = this.newest(plan);
        const out = await this.speaker.syncPaths(use.paths);
        this.applied = use;
        this.lastPlan = use;
        return out;
      });
    } catch (err) {
      throw new Error(
        `the node's BGP speaker (gobgpd on ${this.opts.apiAddr}) cannot announce the pod: ${err instanceof Error ? err.message : String(err)}; it is restarted by the next reconcile`,
      );
    }
    for (const cidr of subnetCidrs) {
      const rule = rules.find((r) => r.from === cidr);
      if (!rule) throw new Error(`no from-subnet rule for ${cidr} yet`);
      if (!(await tableHasDefault(rule.table, cidr.includes(':') ? 6 : 4)))
        throw new Error(`table ${rule.table} of subnet ${cidr} has no default route yet`);
    }
    for (const ins of instances) {
      const ip = ins.spec.address.ip.split('/')[0] ?? '';
      if (!rib.some((p) => p.prefix.split('/')[0] === ip))
        throw new Error(`the BGP path of ${ip} is not in the local RIB (is the host veth up?)`);
    }
    const states = await this.speaker.peers();
    for (const p of plan.peers) {
      if (p.allowNotEstablished) continue;
      const s = states.find((x) => x.address === p.address);
      const state = s?.state ?? 'not configured';
      if (state !== 'Established')
        throw new Error(
          `BGP peer ${p.address} (AS ${p.asn}) of network ${p.network} is ${state}, not Established; the pod cannot be reached until it is up (set allowNotEstablished: true on the peer to create pods anyway)`,
        );
    }
  }

  /** Withdraws the host routes of `ips` (`ip/len`) at once (pod DEL, failed ADD); errors logged. */
  async withdraw(ips: string[]): Promise<void> {
    if (this.lastPlan?.asn === undefined) return;
    for (const cidrIP of ips) {
      const ip = cidrIP.split('/')[0] ?? '';
      const fam: Family = ip.includes(':') ? 6 : 4;
      const prefix = `${ip}/${fam === 4 ? 32 : 128}`;
      if (!this.lastPlan.paths.some((p) => p.prefix === prefix)) continue;
      await this.pathLock.run(async () => {
        await this.speaker
          .delPath(fam, prefix)
          .catch((err: unknown) => this.opts.logger.warn({ err, ip }, 'BGP withdraw on DEL failed'));
        this.forget(prefix);
      });
    }
  }

  /** Drops `prefix` from the plans kept here, so that a stale plan replaced by them does not announce it again. */
  private forget(prefix: string): void {
    const without = (p: BgpPlan | undefined): BgpPlan | undefined => {
      if (!p) return p;
      const next = { ...p, paths: p.paths.filter((x) => x.prefix !== prefix) };
      const seq = this.seqOf.get(p);
      if (seq !== undefined) this.seqOf.set(next, seq);
      return next;
    };
    this.applied = without(this.applied);
    this.lastPlan = without(this.lastPlan);
  }
}

export { SESSION_STATES };
