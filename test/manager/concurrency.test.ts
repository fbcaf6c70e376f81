/**
 * Concurrency against kube-apiserver (real): 200 pods created at once on a subnet with exactly 200 free addresses get
 * 200 distinct addresses (manager with 4 pod workers); the 201st pod gets a Warning event naming the exhausted subnet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/index.ts';
import { useKube } from '../fixture/kube.ts';
import {
  clientOf,
  createNode,
  createPod,
  eventsOf,
  eventually,
  listIPInstances,
  paths,
  startManager,
  subnet,
  underlayNetwork,
} from './helpers.ts';

async function inBatches<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

describe('200 concurrent pods on 200 free addresses against kube-apiserver (real)', () => {
  const kube = useKube();
  let c: KubeClient;
  let stop: () => Promise<void>;
  const ns = 'burst';

  beforeAll(async () => {
    c = await clientOf(kube());
    await kube().createNamespace(ns);
    await kube().createNamespace(`${ns}-2`);
    await createNode(c, 'node-1', { 'hn/underlay': 'z' });
    await c.create(paths.network(), underlayNetwork('net', { 'hn/underlay': 'z' }, 0));
    await c.create(
      paths.subnet(),
      subnet('net-v4', 'net', '4', '10.40.0.0/24', { gateway: '10.40.0.254', start: '10.40.0.1', end: '10.40.0.200' }),
    );
    ({ stop } = await startManager(kube(), { concurrency: { Pod: 4, IPInstance: 2, IPAM: 1 } }));
  }, 180_000);

  afterAll(async () => {
    await stop?.();
    c?.close();
  });

  it('gives 200 pods (two namespaces) 200 distinct addresses, then refuses the 201st with a clear Warning event', async () => {
    await inBatches(200, 40, (i) => createPod(c, i % 2 === 0 ? ns : `${ns}-2`, `p-${i}`, { nodeName: 'node-1' }));
    const all = await eventually(
      '200 IPInstances',
      async () => {
        const l = await listIPInstances(c);
        return l.length === 200 ? l : undefined;
      },
      180_000,
      500,
    );
    const ips = new Set(all.map((i) => i.spec.address.ip));
    expect(ips.size).toBe(200);
    const pods = new Set(all.map((i) => `${i.metadata.namespace}/${i.spec.binding?.podName}`));
    expect(pods.size).toBe(200);

    await createPod(c, ns, 'p-201', { nodeName: 'node-1' });
    const ev = await eventually('IPAllocationFail event', async () => {
      const e = await eventsOf(c, ns, 'p-201');
      return e.find((x) => x.reason === 'IPAllocationFail');
    });
    expect(ev.type).toBe('Warning');
    expect(ev.message).toMatch(/no available/);
    expect(ev.message).toContain('net');
    expect(await listIPInstances(c)).toHaveLength(200);
  }, 300_000);
});
