/**
 * Crash safety against kube-apiserver + kube-controller-manager (real): the manager runs as a child process
 * (`hybridnet manager`) and is SIGKILLed at random points of a burst of pod creations and deletions (plain and
 * stateful pods, two namespaces), then restarted like a Deployment would. Once the churn stops, the IPInstances must
 * be exactly the live pods' addresses plus the retained addresses of deleted stateful pods: no duplicate address
 * (across namespaces), no leak, every live pod bound, subnet status equal to the number of IPInstances.
 *
 * Stateful pods are owned by a real ConfigMap (the garbage collector keeps pods and IPInstances whose owner exists;
 * a real StatefulSet's controller would fight the test), and the manager runs with
 * `--stateful-workload-kinds=StatefulSet,ConfigMap`.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPInstance, Subnet } from '../../src/api/index.ts';
import type { KubeClient } from '../../src/kube/index.ts';
import { useKube } from '../fixture/kube.ts';
import {
  clientOf,
  createNode,
  createPod,
  deletePod,
  eventually,
  killChild,
  listIPInstances,
  paths,
  spawnManager,
  subnet,
  underlayNetwork,
} from './helpers.ts';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Keeps one manager child running (restarts it when it exits), like a Deployment with one replica. */
class Supervisor {
  child: ChildProcess | undefined;
  restarts = 0;
  kills = 0;
  private stopping = false;
  constructor(private readonly start: () => ChildProcess) {}
  run(): void {
    // Never two processes with one identity: both would renew the same Lease.
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) return;
    const child = this.start();
    this.child = child;
    child.once('exit', () => {
      if (this.child === child && !this.stopping) {
        this.restarts++;
        this.run();
      }
    });
  }
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.kills++;
    this.stopping = true;
    this.child = undefined;
    await killChild(child, 'SIGKILL');
    this.stopping = false;
  }
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child) await killChild(this.child, 'SIGTERM');
  }
}

describe('crash safety: manager SIGKILLed during pod churn, kube-apiserver + kube-controller-manager (real)', () => {
  const kube = useKube({ controllerManager: true });
  let c: KubeClient;
  const namespaces = ['crash-a', 'crash-b'];
  const owners = new Map<string, string>();
  let sup: Supervisor;

  beforeAll(async () => {
    c = await clientOf(kube());
    await createNode(c, 'node-1', { 'hn/underlay': 'c' });
    await createNode(c, 'node-2', { 'hn/underlay': 'c' });
    await c.create(paths.network(), underlayNetwork('net', { 'hn/underlay': 'c' }, 0));
    await c.create(paths.subnet(), subnet('net-v4', 'net', '4', '10.50.0.0/22', { gateway: '10.50.0.1' }));
    for (const ns of namespaces) {
      await kube().createNamespace(ns);
      const cm = await c.create<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/configmaps`, {
        metadata: { name: 'st' },
        data: {},
      });
      owners.set(ns, cm.metadata.uid);
    }
    const log = path.join(kube().dir, 'logs', 'manager.log');
    sup = new Supervisor(() =>
      spawnManager(
        kube(),
        [
          '--identity=crash-manager',
          '--stateful-workload-kinds=StatefulSet,ConfigMap',
          '--metrics-port=0',
          '--controller-concurrency=Pod=2,IPInstance=2',
          '--log-level=warn',
        ],
        log,
      ),
    );
    sup.run();
  }, 180_000);

  afterAll(async () => {
    await sup?.stop();
    c?.close();
  });

  async function converged(): Promise<string | true> {
    const pods: V1Pod[] = [];
    for (const ns of namespaces) pods.push(...(await c.listAll<V1Pod>(paths.pods(ns))).items);
    const terminating = pods.filter((p) => p.metadata?.deletionTimestamp);
    if (terminating.length > 0) return `${terminating.length} pods still terminating`;
    const instances = await listIPInstances(c);
    const dying = instances.filter((i) => i.metadata.deletionTimestamp);
    if (dying.length > 0) return `${dying.length} IPInstances still terminating`;
    const byUID = new Map<string, IPInstance[]>();
    for (const i of instances) {
      const uid = i.spec.binding?.podUID ?? '';
      byUID.set(uid, [...(byUID.get(uid) ?? []), i]);
    }
    for (const p of pods) {
      const mine = byUID.get(p.metadata?.uid ?? '') ?? [];
      if (mine.length !== 1) return `pod ${p.metadata?.namespace}/${p.metadata?.name} has ${mine.length} IPInstances`;
    }
    const live = new Set(pods.map((p) => p.metadata?.uid));
    const liveNames = new Set(pods.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
    for (const i of instances) {
      const b = i.spec.binding ?? {};
      if (b.nodeName) {
        if (!live.has(b.podUID))
          return `leak: ${i.metadata.namespace}/${i.metadata.name} bound to a pod that is gone (${b.podName})`;
      } else {
        if (i.spec.binding?.referredObject?.kind !== 'ConfigMap')
          return `reserved non-stateful IPInstance ${i.metadata.name}`;
        if (liveNames.has(`${i.metadata.namespace}/${b.podName}`)) return `live stateful pod ${b.podName} not re-bound`;
      }
    }
    const ips = instances.map((i) => i.spec.address.ip);
    if (new Set(ips).size !== ips.length) return 'duplicate address';
    const sub = await c.get<Subnet>(paths.subnet('net-v4'));
    if (sub.status?.used !== instances.length)
      return `subnet status used ${sub.status?.used} != ${instances.length} IPInstances`;
    return true;
  }

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 300 random pod operations with random SIGKILLs converge to live pods + retained addresses`, async () => {
      const random = rng(seed);
      const livePlain: { ns: string; name: string }[] = [];
      const liveStateful = new Set<string>();
      let counter = 0;
      const restartLater: Promise<void>[] = [];
      for (let op = 0; op < 300; op++) {
        if (random() < 0.05) {
          await sup.kill();
          const delay = Math.floor(random() * 1500);
          restartLater.push(sleep(delay).then(() => sup.run()));
        }
        const ns = namespaces[Math.floor(random() * 2)]!;
        const r = random();
        if (r < 0.45 || (r < 0.65 && livePlain.length === 0)) {
          const name = `s${seed}-p${counter++}`;
          await createPod(c, ns, name, { nodeName: random() < 0.5 ? 'node-1' : 'node-2' });
          livePlain.push({ ns, name });
        } else if (r < 0.65) {
          const [victim] = livePlain.splice(Math.floor(random() * livePlain.length), 1);
          await deletePod(c, victim!.ns, victim!.name);
        } else {
          const name = `st-${Math.floor(random() * 8)}`;
          const key = `${ns}/${name}`;
          if (liveStateful.has(key)) {
            await deletePod(c, ns, name);
            liveStateful.delete(key);
          } else {
            try {
              await createPod(c, ns, name, {
                nodeName: random() < 0.5 ? 'node-1' : 'node-2',
                owner: { apiVersion: 'v1', kind: 'ConfigMap', name: 'st', uid: owners.get(ns)! },
              });
              liveStateful.add(key);
            } catch {
              // the previous incarnation is still terminating (manager down): skip this op
            }
          }
        }
        await sleep(Math.floor(random() * 40));
      }
      await Promise.all(restartLater);
      let last: string | true = 'not checked';
      await eventually(
        'IPInstances = live pods + retained stateful addresses',
        async () => {
          last = await converged();
          return last === true;
        },
        180_000,
        1000,
      ).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; last state: ${String(last)}`);
      });
      expect(sup.kills).toBeGreaterThan(0);
      console.log(`[crash] seed ${seed}: ${sup.kills} SIGKILLs so far`);
    }, 400_000);
  }
});
