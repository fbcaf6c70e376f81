import { describe, expect, it } from 'vitest';
import type { IPInstance } from '../api/index.ts';
import { PodIPCache } from './pod-cache.ts';

const inst = (ns: string, name: string, podName: string, podUID: string): IPInstance =>
  ({ metadata: { name, namespace: ns }, spec: { binding: { podName, podUID } } }) as unknown as IPInstance;

describe('PodIPCache (SPEC §4.6 step 4)', () => {
  it('is keyed by pod UID: a re-created pod (new UID) is not cached; reserved instances are skipped', () => {
    const cache = PodIPCache.fromInstances([
      inst('a', '10-0-0-1', 'p', 'u1'),
      inst('a', 'fd00-0-0-0-0-0-0-1', 'p', 'u1'),
      inst('a', '10-0-0-2', 'r', ''),
    ]);
    expect(cache.has('a', 'p', 'u1')).toBe(true);
    expect(cache.has('a', 'p', 'u2')).toBe(false);
    expect(cache.has('a', 'r', '')).toBe(false);
    expect(cache.size).toBe(1);
  });

  it('forgets the pod when one of its IPInstances is being deleted, and is overwritten on record', () => {
    const cache = new PodIPCache();
    cache.record('a', 'p', 'u1', ['10-0-0-1', '10-0-0-2']);
    cache.forgetInstance('a', '10-0-0-2');
    expect(cache.has('a', 'p', 'u1')).toBe(false);
    cache.record('a', 'p', 'u2', ['10-0-0-3']);
    cache.forgetInstance('a', '10-0-0-1'); // stale reverse entry must not drop the new record
    expect(cache.has('a', 'p', 'u2')).toBe(true);
  });
});
