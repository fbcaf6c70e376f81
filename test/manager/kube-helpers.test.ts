/**
 * src/kube helpers against kube-apiserver (real): the informer relists on a stalled watch and still delivers
 * add/update/delete; leader election on a Lease hands over and calls onStoppedLeading at once when another holder
 * takes the lease; retryOnConflict re-reads after a 409.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/index.ts';
import { Informer, LeaderElector, type Lease, retryOnConflict } from '../../src/kube/index.ts';
import { useKube } from '../fixture/kube.ts';
import { clientOf, eventually } from './helpers.ts';

const logger = pino({ level: 'silent' });

describe('kube helpers against kube-apiserver (real)', () => {
  const kube = useKube();
  let c: KubeClient;
  const ns = 'helpers';

  beforeAll(async () => {
    c = await clientOf(kube());
    await kube().createNamespace(ns);
  });
  afterAll(() => c?.close());

  it('informer: syncs, delivers events, relists when the watch is silent for staleAfterMs', async () => {
    const seen: string[] = [];
    await c.create(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'before' } });
    const inf = new Informer<{ metadata?: { name?: string } }>(c, {
      path: `/api/v1/namespaces/${ns}/configmaps`,
      staleAfterMs: 1000,
      logger,
    });
    inf.on({
      add: (o) => seen.push(`add ${o.metadata?.name}`),
      update: (_a, o) => seen.push(`update ${o.metadata?.name}`),
      delete: (o) => seen.push(`delete ${o.metadata?.name}`),
    });
    const ac = new AbortController();
    const running = inf.run(ac.signal);
    await inf.waitForSync(ac.signal);
    expect(inf.hasSynced()).toBe(true);
    expect(inf.get(`${ns}/before`)).toBeDefined();
    await eventually('a relist after a silent watch', () => Promise.resolve(inf.relists >= 2), 15_000, 100);
    await c.create(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'after' } });
    await c.mergePatch(`/api/v1/namespaces/${ns}/configmaps/after`, { data: { k: 'v' } });
    await c.delete(`/api/v1/namespaces/${ns}/configmaps/before`);
    await eventually('events delivered', () =>
      Promise.resolve(seen.includes('add after') && seen.includes('update after') && seen.includes('delete before')),
    );
    expect(inf.list().map((o) => o.metadata?.name)).toEqual(['after']);
    ac.abort();
    await running;
  });

  it('leader election: first candidate leads; when another holder takes the Lease, onStoppedLeading is called at once', async () => {
    const events: string[] = [];
    const opts = (identity: string) => ({
      namespace: ns,
      name: 'election',
      identity,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 300,
      logger,
      onStartedLeading: () => events.push(`${identity} started`),
      onStoppedLeading: () => events.push(`${identity} stopped`),
    });
    const a = new LeaderElector(c, opts('a'));
    const ac = new AbortController();
    const runA = a.run(ac.signal);
    await eventually('a leads', () => Promise.resolve(a.isLeader()));
    const path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/election`;
    const lease = await c.get<Lease>(path);
    expect(lease.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 3 });
    // Someone else writes the lease (e.g. after a partition): a must stop leading on its next renew.
    await retryOnConflict(async () => {
      const cur = await c.get<Lease>(path);
      await c.replace(path, {
        ...cur,
        spec: { ...cur.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString().replace('Z', '000Z') },
      });
    });
    const t0 = Date.now();
    await runA;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(a.isLeader()).toBe(false);
    expect(events).toEqual(['a started', 'a stopped']);

    // b campaigns: the intruder never renews, so b takes over after the lease duration.
    const b = new LeaderElector(c, opts('b'));
    const bc = new AbortController();
    const runB = b.run(bc.signal);
    await eventually('b leads after the intruder lease expired', () => Promise.resolve(b.isLeader()), 10_000, 100);
    expect((await c.get<Lease>(path)).spec?.holderIdentity).toBe('b');
    bc.abort();
    await runB;
    // Released on cancel: the holder is cleared.
    expect((await c.get<Lease>(path)).spec?.holderIdentity ?? null).toBeNull();
  });

  it('retryOnConflict re-reads and retries after a 409', async () => {
    await c.create(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'counter' }, data: { n: '0' } });
    const bump = (): Promise<unknown> =>
      retryOnConflict(async () => {
        const cur = await c.get<{ metadata: { resourceVersion: string }; data: { n: string } }>(
          `/api/v1/namespaces/${ns}/configmaps/counter`,
        );
        await c.mergePatch(`/api/v1/namespaces/${ns}/configmaps/counter`, {
          metadata: { resourceVersion: cur.metadata.resourceVersion },
          data: { n: String(Number(cur.data.n) + 1) },
        });
      }, 50);
    await Promise.all(Array.from({ length: 10 }, bump));
    const end = await c.get<{ data: { n: string } }>(`/api/v1/namespaces/${ns}/configmaps/counter`);
    expect(end.data.n).toBe('10');
  });
});
