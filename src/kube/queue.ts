/**
 * A keyed work queue with workers (client-go `workqueue` + controller-runtime's reconcile loop):
 * - keys are deduplicated while waiting (`namespace/name`);
 * - a key is never reconciled by two workers at once: an `add` while it is being processed marks it dirty and it runs
 *   again after the current reconcile finishes;
 * - a reconcile that throws (or asks for it) is requeued with per-key exponential backoff (`baseDelayMs` doubling up to
 *   `maxDelayMs`); a successful one resets the key's backoff;
 * - `resync(keys)` re-enqueues every key periodically (level-triggered safety net);
 * - `concurrency` workers; `run(signal)` stops taking new keys when the signal aborts and resolves once in-flight
 *   reconciles finished.
 */
import type { Logger } from 'pino';

/** What a reconcile may ask for. */
export interface ReconcileResult {
  /** Requeue after this many ms (not counted as a failure). */
  requeueAfterMs?: number;
}

/** The reconcile function: gets a key, returns nothing or a requeue request; throws to requeue with backoff. */
export type Reconciler = (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>;

/** Queue options. */
export interface WorkQueueOptions {
  name: string;
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  logger: Logger;
  /** Called after every reconcile error (metrics). */
  onError?: (key: string, err: unknown) => void;
}

/** The queue; see module doc. */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: WorkQueueOptions) {}

  /** Enqueues a key now (no-op if it is already waiting). */
  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Enqueues a key after `ms` (the earliest pending delay wins). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    if (this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  /** Enqueues with the key's exponential backoff and counts one more failure. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const base = this.opts.baseDelayMs ?? 50;
    const max = this.opts.maxDelayMs ?? 60_000;
    this.addAfter(key, Math.min(max, base * 2 ** n));
  }

  /** Resets a key's backoff. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Keys waiting or being processed (for tests). */
  get length(): number {
    return this.queue.length + this.processing.size;
  }

  private async next(signal: AbortSignal): Promise<string | undefined> {
    while (!signal.aborted) {
      const key = this.queue.shift();
      if (key !== undefined) {
        this.queued.delete(key);
        return key;
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        const prev = this.wake;
        this.wake = () => {
          prev?.();
          done();
        };
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return undefined;
  }

  private async worker(reconcile: Reconciler, signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    for (;;) {
      const key = await this.next(signal);
      if (key === undefined) return;
      this.processing.add(key);
      try {
        const res = await reconcile(key, signal);
        this.forget(key);
        if (res?.requeueAfterMs !== undefined) this.addAfter(key, res.requeueAfterMs);
      } catch (err) {
        this.opts.onError?.(key, err);
        if (!signal.aborted) {
          log.warn({ err, key, controller: this.opts.name }, 'reconcile failed; requeued with backoff');
          this.addRateLimited(key);
        }
      } finally {
        this.processing.delete(key);
        if (this.dirty.delete(key)) this.add(key);
      }
    }
  }

  /** Runs the workers until `signal` aborts; resolves after in-flight reconciles end. */
  async run(reconcile: Reconciler, signal: AbortSignal): Promise<void> {
    const n = Math.max(1, Math.min(100, this.opts.concurrency ?? 1));
    await Promise.all(Array.from({ length: n }, () => this.worker(reconcile, signal)));
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Every `periodMs`, enqueues `keys()` (periodic resync) until `signal` aborts. */
  resyncEvery(periodMs: number, keys: () => Iterable<string>, signal: AbortSignal): void {
    const t = setInterval(() => {
      for (const k of keys()) this.add(k);
    }, periodMs);
    t.unref();
    signal.addEventListener('abort', () => clearInterval(t), { once: true });
  }
}
