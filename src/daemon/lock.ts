/**
 * The daemon's mutexes: the datapath {@link Lock} and the per container / pod {@link KeyedLock} (see node/reconciler.ts and pods/context.ts).
 */
/** A FIFO mutex: `run` calls execute one at a time in call order; a rejected call does not block the next. */
export class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * FIFO mutexes by key: `run(keys, fn)` runs `fn` holding every key of `keys`; holders of disjoint keys run
 * concurrently. Keys are taken in sorted order, so two callers taking overlapping key sets never deadlock (a caller
 * that takes more keys inside `fn` must take keys that sort after the ones it holds). Keys are released when `fn`
 * settles, also when it throws.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    try {
      for (const k of [...new Set(keys)].sort()) releases.push(await this.acquire(k));
      return await fn();
    } finally {
      for (const r of releases.reverse()) r();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
