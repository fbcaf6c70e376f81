import { describe, expect, it } from 'vitest';
import { KeyedLock, Lock } from './lock.ts';

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Lock', () => {
  it('runs calls one at a time in call order, also after a rejection', async () => {
    const lock = new Lock();
    const log: string[] = [];
    const job =
      (name: string, fail = false) =>
      async (): Promise<void> => {
        log.push(`${name}+`);
        await tick();
        log.push(`${name}-`);
        if (fail) throw new Error(name);
      };
    const a = lock.run(job('a', true));
    const b = lock.run(job('b'));
    await expect(a).rejects.toThrow('a');
    await b;
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-']);
  });
});

describe('KeyedLock', () => {
  it('serialises holders of one key in FIFO order and runs disjoint keys concurrently', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const job = (name: string) => async (): Promise<void> => {
      log.push(`${name}+`);
      await tick();
      log.push(`${name}-`);
    };
    await Promise.all([lock.run(['x'], job('x1')), lock.run(['y'], job('y1')), lock.run(['x'], job('x2'))]);
    expect(log.slice(0, 2).sort()).toEqual(['x1+', 'y1+']);
    expect(log.indexOf('x2+')).toBeGreaterThan(log.indexOf('x1-'));
  });

  it('never deadlocks on overlapping key sets given in any order', async () => {
    const lock = new KeyedLock();
    let n = 0;
    const job = async (): Promise<void> => {
      await tick(1);
      n++;
    };
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        lock.run(i % 2 ? ['a', 'b', 'c'] : ['c', 'b', 'a'].slice(0, 1 + (i % 3)), job),
      ),
    );
    expect(n).toBe(20);
  });

  it('releases the keys when the holder throws, and nested keys that sort later are taken', async () => {
    const lock = new KeyedLock();
    await expect(
      lock.run(['container/1'], () =>
        lock.run(['pod/a'], () => {
          throw new Error('boom');
        }),
      ),
    ).rejects.toThrow('boom');
    await expect(lock.run(['container/1', 'pod/a'], () => Promise.resolve(42))).resolves.toBe(42);
  });
});
