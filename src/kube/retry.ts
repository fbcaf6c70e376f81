/**
 * Optimistic concurrency (Kubernetes API conventions, "Concurrency Control and Consistency"): read the object, compute
 * the change from what was read, write it with that `resourceVersion`; a `409 Conflict` means someone else wrote in
 * between, so read again and recompute. client-go's `retry.RetryOnConflict` with its default backoff (5 steps).
 */
import { KubeApiError } from './client.ts';
import { sleep } from './informer.ts';

/** Retries `fn` while it throws a 409 Conflict, up to `attempts` times with a short jittered backoff. */
export async function retryOnConflict<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  let delay = 10;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.code !== 409 || i >= attempts) throw err;
      await sleep(delay + Math.floor(Math.random() * delay));
      delay = Math.min(1000, delay * 2);
    }
  }
}

/**
 * Read-modify-write of one object: `read()` the current object, `mutate` it (return undefined for "no change needed"),
 * then `write` it carrying the read `resourceVersion` (a merge patch or a PUT). Retried on 409.
 * @returns the written object, or the read one when nothing had to change.
 */
export async function updateWithRetry<T extends { metadata?: { resourceVersion?: string } }>(
  read: () => Promise<T>,
  mutate: (current: T) => unknown,
  write: (patchOrObject: unknown, resourceVersion: string) => Promise<T>,
): Promise<T> {
  return retryOnConflict(async () => {
    const current = await read();
    const change = mutate(current);
    if (change === undefined) return current;
    return write(change, current.metadata?.resourceVersion ?? '');
  });
}
