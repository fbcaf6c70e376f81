/**
 * An informer: a list+watch cache of one kind with event handlers and secondary indexes (client-go `SharedInformer`
 * semantics, CONVENTIONS "a watch that relists and resyncs instead of silently stalling").
 *
 * client-node's own informer stops on errors and can stall forever on a half-dead connection, so this one:
 * - relists (full paged LIST, then WATCH from its resourceVersion) whenever a watch fails, with capped exponential
 *   backoff (`backoffMs` … `maxBackoffMs`), and on `410 Gone`;
 * - re-opens the watch when the server closes it (normal every few minutes) from the last seen resourceVersion;
 * - treats a watch that delivered nothing (no event, no bookmark) for `staleAfterMs` as dead and relists;
 * - after a relist, emits `add`/`update` for what changed and `delete` for what vanished, so handlers see the same
 *   world a continuous watch would have shown.
 */
import type { Logger } from 'pino';
import type { KubeClient, KubeObject, WatchEvent } from './client.ts';
import { KubeApiError } from './client.ts';

/** Cache key of an object: `namespace/name`, or `name` for cluster-scoped ones (client-go `MetaNamespaceKeyFunc`). */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

/** Event handlers. `update` gets the previous and the new object. */
export interface InformerHandlers<T> {
  add?: (obj: T) => void;
  update?: (oldObj: T, newObj: T) => void;
  delete?: (obj: T) => void;
}

/** Informer options. */
export interface InformerOptions {
  /** Collection path, e.g. `/api/v1/pods` or `/apis/networking.alibaba.com/v1/ipinstances`. */
  path: string;
  /** Label selector for list and watch. */
  labelSelector?: string;
  /** Field selector for list and watch. */
  fieldSelector?: string;
  /** A watch silent for this long (ms) is considered dead; default 5 min. Bookmarks count as activity. */
  staleAfterMs?: number;
  /** First relist backoff (ms), default 500. */
  backoffMs?: number;
  /** Backoff cap (ms), default 30 000. */
  maxBackoffMs?: number;
  /** Server-side watch timeout (s) requested on each watch, default 300. */
  watchTimeoutSeconds?: number;
  /** LIST page size, default 2000. */
  pageSize?: number;
  logger: Logger;
}

/**
 * A cache of one kind kept current by list+watch. Start with `run(signal)`; `hasSynced()` turns true after the first
 * complete LIST has been delivered to handlers.
 */
export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly indexers = new Map<string, (obj: T) => string[]>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private synced = false;
  private lastActivity = Date.now();
  /** Number of relists done (first list included); for tests and metrics. */
  relists = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: InformerOptions,
  ) {}

  /** Registers handlers. Add them before `run`, or call `list()` yourself to catch up. */
  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  /** Adds a secondary index: `fn` returns the index values of an object. Add before `run`. */
  addIndex(name: string, fn: (obj: T) => string[]): void {
    this.indexers.set(name, fn);
    this.indexes.set(name, new Map());
  }

  /** True once the first LIST has been applied. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** The cached object of a key, or undefined. Do not mutate it. */
  get(key: string): T | undefined {
    return this.store.get(key);
  }

  /** Every cached object. Do not mutate them. */
  list(): T[] {
    return [...this.store.values()];
  }

  /** Number of cached objects. */
  size(): number {
    return this.store.size;
  }

  /** Objects whose index `name` has `value`. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indexes.get(name)?.get(value);
    if (keys === undefined) return [];
    const out: T[] = [];
    for (const k of keys) {
      const o = this.store.get(k);
      if (o !== undefined) out.push(o);
    }
    return out;
  }

  /** Resolves once synced (or rejects when `signal` aborts). */
  async waitForSync(signal: AbortSignal): Promise<void> {
    while (!this.synced) {
      if (signal.aborted) throw new Error(`informer ${this.opts.path}: stopped before sync`);
      await sleep(50, signal);
    }
  }

  private index(key: string, oldObj: T | undefined, newObj: T | undefined): void {
    for (const [name, fn] of this.indexers) {
      const idx = this.indexes.get(name)!;
      if (oldObj !== undefined) {
        for (const v of fn(oldObj)) {
          const set = idx.get(v);
          set?.delete(key);
          if (set?.size === 0) idx.delete(v);
        }
      }
      if (newObj !== undefined) {
        for (const v of fn(newObj)) {
          let set = idx.get(v);
          if (set === undefined) idx.set(v, (set = new Set()));
          set.add(key);
        }
      }
    }
  }

  private emit(kind: 'add' | 'update' | 'delete', a: T, b?: T): void {
    for (const h of this.handlers) {
      try {
        if (kind === 'add') h.add?.(a);
        else if (kind === 'update') h.update?.(a, b!);
        else h.delete?.(a);
      } catch (err) {
        this.opts.logger.error({ err, path: this.opts.path }, 'informer handler threw');
      }
    }
  }

  private upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.store.get(key);
    this.store.set(key, obj);
    this.index(key, old, obj);
    if (old === undefined) this.emit('add', obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', old, obj);
  }

  private remove(obj: T): void {
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (old === undefined) return;
    this.store.delete(key);
    this.index(key, old, undefined);
    this.emit('delete', obj);
  }

  private query(): Record<string, string | undefined> {
    return { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }

  private async relist(): Promise<string> {
    const list = await this.client.listAll<T>(this.opts.path, this.query(), this.opts.pageSize ?? 2000);
    this.relists++;
    const seen = new Set<string>();
    for (const item of list.items) {
      seen.add(objectKey(item));
      this.upsert(item);
    }
    for (const [key, obj] of [...this.store]) if (!seen.has(key)) this.remove(obj);
    this.synced = true;
    return list.metadata?.resourceVersion ?? '';
  }

  /** Runs list+watch until `signal` aborts. Never rejects because of API errors (it logs and retries). */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    const base = this.opts.backoffMs ?? 500;
    const cap = this.opts.maxBackoffMs ?? 30_000;
    const staleAfter = this.opts.staleAfterMs ?? 300_000;
    let backoff = base;
    let rv: string | undefined;
    while (!signal.aborted) {
      try {
        if (rv === undefined) rv = await this.relist();
        const watchAbort = new AbortController();
        const onAbort = (): void => watchAbort.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        this.lastActivity = Date.now();
        let stale = false;
        const timer = setInterval(
          () => {
            if (Date.now() - this.lastActivity > staleAfter) {
              stale = true;
              watchAbort.abort();
            }
          },
          Math.min(staleAfter, 5_000),
        );
        let gone = false;
        try {
          await this.client.watch<T>(
            this.opts.path,
            {
              ...this.query(),
              resourceVersion: rv,
              allowWatchBookmarks: true,
              timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
            },
            (e: WatchEvent<T>) => {
              this.lastActivity = Date.now();
              if (e.type === 'ERROR') {
                const status = e.object as unknown as { code?: number; message?: string };
                if (status.code === 410) gone = true;
                else log.warn({ path: this.opts.path, status }, 'watch error event');
                watchAbort.abort();
                return;
              }
              const newRv = e.object.metadata?.resourceVersion;
              if (newRv) rv = newRv;
              if (e.type === 'ADDED' || e.type === 'MODIFIED') this.upsert(e.object);
              else if (e.type === 'DELETED') this.remove(e.object);
            },
            watchAbort.signal,
          );
        } finally {
          clearInterval(timer);
          signal.removeEventListener('abort', onAbort);
        }
        if (gone || stale) {
          if (stale) log.warn({ path: this.opts.path, staleAfterMs: staleAfter }, 'watch stalled; relisting');
          rv = undefined;
        }
        backoff = base;
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof KubeApiError && err.code === 410) {
          rv = undefined;
          continue;
        }
        log.warn({ err, path: this.opts.path, backoffMs: backoff }, 'list/watch failed; relisting after backoff');
        rv = undefined;
        await sleep(backoff, signal).catch(() => undefined);
        backoff = Math.min(cap, backoff * 2);
      }
    }
  }
}

/** Resolves after `ms` (rejects early when `signal` aborts). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
