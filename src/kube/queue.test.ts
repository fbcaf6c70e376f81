import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { WorkQueue } from './queue.ts';

const logger = pino({ level: 'silent' });

describe('WorkQueue', () => {
  it('dedupes waiting keys, never runs one key twice at once, and re-runs a key added while it was processing', async () => {
    const q = new WorkQueue({ name: 't', concurrency: 4, logger });
    const ac = new AbortController();
    const running = new Set<string>();
    const runs: string[] = [];
    let overlap = false;
    const done = q.run(async (key) => {
      if (running.has(key)) overlap = true;
      running.add(key);
      runs.push(key);
      if (key === 'a' && runs.filter((k) => k === 'a').length === 1) q.add('a');
      await new Promise((r) => setTimeout(r, 20));
      running.delete(key);
    }, ac.signal);
    q.add('a');
    q.add('a');
    q.add('b');
    await new Promise((r) => setTimeout(r, 150));
    ac.abort();
    await done;
    expect(overlap).toBe(false);
    expect(runs.filter((k) => k === 'a')).toHaveLength(2);
    expect(runs.filter((k) => k === 'b')).toHaveLength(1);
  });

  it('requeues a failing key with growing backoff until it succeeds', async () => {
    const q = new WorkQueue({ name: 't', baseDelayMs: 5, logger });
    const ac = new AbortController();
    let attempts = 0;
    const done = q.run(() => {
      attempts++;
      if (attempts < 4) return Promise.reject(new Error('boom'));
      ac.abort();
      return Promise.resolve();
    }, ac.signal);
    q.add('x');
    await done;
    expect(attempts).toBe(4);
  });
});
