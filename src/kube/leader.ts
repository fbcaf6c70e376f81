/**
 * Leader election on a `coordination.k8s.io/v1` Lease with client-go `leaderelection` semantics:
 * - the Lease `spec.holderIdentity` names the leader; `leaseDurationSeconds` (15) is how long others wait after the
 *   last observed change of the record before they may take it; the leader renews every `retryPeriod` (2 s) and gives
 *   up when it could not renew for `renewDeadline` (10 s);
 * - every acquire/renew is an update carrying the read `resourceVersion` (a 409 means someone else won);
 * - followers judge expiry by *their own clock* from the moment they last saw the record change (client-go
 *   `observedTime`), never by comparing `renewTime` with their clock, so clock skew cannot cause two leaders;
 * - on losing the lease `onStoppedLeading` is called at once (the manager stops allocating immediately).
 */
import type { Logger } from 'pino';
import { KubeApiError, LeasesPath, resourcePath, type KubeClient } from './client.ts';
import { sleep } from './informer.ts';

/** A Lease as read and written here. */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Election settings (client-go defaults of controller-runtime). */
export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  onStartedLeading: (signal: AbortSignal) => void;
  onStoppedLeading: () => void;
  /** Clock (ms); injectable for tests. */
  now?: () => number;
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Runs the election loop until `signal` aborts. */
export class LeaderElector {
  private leading = false;
  private observedRecord = '';
  private observedTime = 0;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    this.now = opts.now ?? Date.now;
  }

  /** True while this process holds the lease. */
  isLeader(): boolean {
    return this.leading;
  }

  private path(name?: string): string {
    return resourcePath(LeasesPath, this.opts.namespace, name);
  }

  /** One acquire-or-renew attempt. @returns true when we hold the lease after it. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const desired = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.round(this.leaseMs / 1000),
      renewTime: microTime(now),
    };
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(this.path(this.opts.name), { timeoutMs: this.retryMs * 2 });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.code !== 404) throw err;
      await this.client.create(this.path(), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: { ...desired, acquireTime: microTime(now), leaseTransitions: 0 },
      });
      this.observedTime = now;
      return true;
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.acquireTime, spec.leaseTransitions]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedTime = now;
    }
    const holder = spec.holderIdentity ?? '';
    const isMe = holder === this.opts.identity;
    const duration = (spec.leaseDurationSeconds ?? 15) * 1000;
    if (holder !== '' && !isMe && this.observedTime + duration > now) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        ...desired,
        acquireTime: isMe ? spec.acquireTime : microTime(now),
        leaseTransitions: isMe ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      const written = await this.client.replace<Lease>(this.path(this.opts.name), next, {
        timeoutMs: this.retryMs * 2,
      });
      const w = written.spec ?? {};
      this.observedRecord = JSON.stringify([w.holderIdentity, w.renewTime, w.acquireTime, w.leaseTransitions]);
      this.observedTime = now;
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 409) return false;
      throw err;
    }
  }

  /**
   * Campaigns until leading, then renews; on failure to renew within the deadline (or `signal` aborting) stops
   * leading, calls `onStoppedLeading` and resolves. Does not campaign again (controller-runtime exits the process).
   */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    // Acquire.
    while (!signal.aborted) {
      try {
        if (await this.tryAcquireOrRenew()) break;
      } catch (err) {
        log.warn({ err, lease: this.opts.name }, 'leader election: acquire attempt failed');
      }
      await sleep(this.retryMs * (1 + Math.random() * 0.2), signal).catch(() => undefined);
    }
    if (signal.aborted) return;
    this.leading = true;
    log.info({ lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity }, 'became leader');
    const leaderAbort = new AbortController();
    this.opts.onStartedLeading(leaderAbort.signal);
    // Renew.
    let lastRenew = this.now();
    while (!signal.aborted) {
      await sleep(this.retryMs, signal).catch(() => undefined);
      if (signal.aborted) break;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        log.warn({ err, lease: this.opts.name }, 'leader election: renew attempt failed');
      }
      if (ok) {
        lastRenew = this.now();
        continue;
      }
      // Someone else holds the lease now: leadership ends at once. An unreachable API server ends it after the
      // renew deadline.
      if ((await this.stillMine()) === false) break;
      if (this.now() - lastRenew >= this.renewMs) break;
    }
    this.leading = false;
    leaderAbort.abort();
    log.warn({ lease: this.opts.name, identity: this.opts.identity }, 'leader election lost');
    this.opts.onStoppedLeading();
    if (signal.aborted) await this.release();
  }

  /** Whether the lease still names us (undefined when it cannot be read). */
  private async stillMine(): Promise<boolean | undefined> {
    try {
      const lease = await this.client.get<Lease>(this.path(this.opts.name), { timeoutMs: this.retryMs * 2 });
      return (lease.spec?.holderIdentity ?? '') === this.opts.identity;
    } catch {
      return undefined;
    }
  }

  /** Gives the lease up (ReleaseOnCancel): clears the holder so another candidate need not wait. Best effort. */
  private async release(): Promise<void> {
    try {
      const lease = await this.client.get<Lease>(this.path(this.opts.name), { timeoutMs: 2000 });
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      await this.client.replace(
        this.path(this.opts.name),
        {
          ...lease,
          spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(this.now()) },
        },
        { timeoutMs: 2000 },
      );
    } catch (err) {
      this.opts.logger.warn({ err }, 'leader election: release failed');
    }
  }
}
