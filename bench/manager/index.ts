/**
 * Manager benchmark against a real kube-apiserver + etcd (test/fixture/kube.ts). Prints numbers, asserts nothing.
 *
 *   npx tsx bench/manager/index.ts [--pods=1000] [--group=10] [--restart=10000,100000] [--pod-workers=1,8]
 *
 * 1. Burst: `pods` pods in groups of `group` (each group created in parallel, groups back to back, as fast as the
 *    API server accepts them) with the manager running as its own process (`hybridnet manager`): time until every pod
 *    has its IPInstance, pods/s, p50/p99 create→bound latency (create response → IPInstance ADDED on a watch).
 * 2. Restart: with N existing IPInstances (created directly through the API with bounded concurrency), time from
 *    spawning the manager to the first allocation of a new pod, and the manager's own phases from its log
 *    (lease acquired, caches synced, IPAM rebuilt).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import type { IPInstance } from '../../src/api/index.ts';
import { IPInstanceResource, NetworkResource, SubnetResource } from '../../src/api/index.ts';
import { Informer, KubeClient, PodsPath, resourcePath, NodesPath } from '../../src/kube/index.ts';
import { formatIPValue, ipInstanceName, ipFromValue, parseIP } from '../../src/net/index.ts';
import { startKube, type KubeFixture } from '../../test/fixture/kube.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name: string, def: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;

const PODS = Number(arg('pods', '1000'));
const GROUP = Number(arg('group', '10'));
const RESTART = arg('restart', '10000,100000')
  .split(',')
  .filter((s) => s !== '')
  .map(Number);
const WORKERS = arg('pod-workers', '1,8').split(',').map(Number);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

interface Spawned {
  child: ChildProcess;
  phases: Record<string, number>;
  spawnedAt: number;
}

function spawnManager(kube: KubeFixture, args: string[]): Spawned {
  const spawnedAt = Date.now();
  const child = spawn(
    process.execPath,
    [
      path.join(REPO, 'bin/hybridnet.mjs'),
      'manager',
      `--kubeconfig=${kube.kubeconfigPath}`,
      '--metrics-port=0',
      ...args,
    ],
    { cwd: REPO, env: { ...process.env, NAMESPACE: 'kube-system' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const phases: Record<string, number> = {};
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    try {
      const e = JSON.parse(line) as { msg?: string; time?: number };
      if (e.msg === 'became leader' && e.time) phases.leading = e.time - spawnedAt;
      if (e.msg === 'caches synced' && e.time) phases.synced = e.time - spawnedAt;
      if (e.msg === 'controllers started' && e.time) phases.started = e.time - spawnedAt;
    } catch {
      // not JSON
    }
  });
  return { child, phases, spawnedAt };
}

async function stopManager(s: Spawned): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        await fn(i);
      }
    }),
  );
}

function podBody(ns: string, name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'registry.invalid/pause:1' }] },
  };
}

async function setup(c: KubeClient, kube: KubeFixture): Promise<void> {
  await c.create(resourcePath(NodesPath), { metadata: { name: 'node-1', labels: { 'hn/bench': 'x' } } });
  await c.create(resourcePath(NetworkResource), {
    apiVersion: NetworkResource.apiVersion,
    kind: 'Network',
    metadata: { name: 'net' },
    spec: { type: 'Underlay', mode: 'VLAN', netID: 0, nodeSelector: { 'hn/bench': 'x' } },
  });
  await c.create(resourcePath(SubnetResource), {
    apiVersion: SubnetResource.apiVersion,
    kind: 'Subnet',
    metadata: { name: 'net-v4' },
    spec: { network: 'net', netID: null, range: { version: '4', cidr: '10.128.0.0/12', gateway: '10.128.0.1' } },
  });
  await kube.createNamespace('restart');
}

async function burst(kube: KubeFixture, c: KubeClient, workers: number): Promise<void> {
  const ns = `burst-${workers}`;
  await kube.createNamespace(ns);
  const mgr = spawnManager(kube, [`--controller-concurrency=Pod=${workers},IPInstance=2`, '--log-level=info']);
  const bound = new Map<string, number>();
  const inf = new Informer<IPInstance>(c, {
    path: resourcePath(IPInstanceResource, ns),
    logger: pino({ level: 'silent' }),
  });
  inf.on({
    add: (i) => {
      const pod = i.spec.binding?.podName;
      if (pod && !bound.has(pod)) bound.set(pod, Date.now());
    },
  });
  const ac = new AbortController();
  const watching = inf.run(ac.signal);
  await inf.waitForSync(ac.signal);
  while (mgr.phases.started === undefined) await sleep(50);

  const created = new Map<string, number>();
  const t0 = Date.now();
  const groups = PODS / GROUP;
  await pool(groups, 4, async (g) => {
    await Promise.all(
      Array.from({ length: GROUP }, async (_, k) => {
        const name = `p-${g}-${k}`;
        await c.create<V1Pod>(resourcePath(PodsPath, ns), podBody(ns, name));
        created.set(name, Date.now());
      }),
    );
  });
  const createdAll = Date.now() - t0;
  while (bound.size < PODS) await sleep(20);
  const total = Math.max(...bound.values()) - t0;
  const lat = [...created].map(([n, t]) => (bound.get(n) ?? NaN) - t);
  console.log(
    `burst Pod workers=${workers}: ${PODS} pods (${groups} groups of ${GROUP}): all created in ${createdAll} ms, ` +
      `all bound in ${total} ms → ${((PODS / total) * 1000).toFixed(1)} pods/s; create→bound p50 ${pct(lat, 50)} ms, ` +
      `p99 ${pct(lat, 99)} ms, max ${Math.max(...lat)} ms`,
  );
  ac.abort();
  await watching;
  await stopManager(mgr);
}

async function restart(kube: KubeFixture, c: KubeClient, n: number, already: number): Promise<number> {
  const ns = 'restart';
  const base = parseIP('10.130.0.0').value;
  const t0 = Date.now();
  await pool(n - already, 48, async (k) => {
    const i = already + k;
    const ip = ipFromValue(4, base + BigInt(i));
    const name = ipInstanceName(ip);
    await c.create(resourcePath(IPInstanceResource, ns), {
      apiVersion: IPInstanceResource.apiVersion,
      kind: 'IPInstance',
      metadata: {
        name,
        namespace: ns,
        labels: {
          'networking.alibaba.com/version': 'v1.2',
          'networking.alibaba.com/subnet': 'net-v4',
          'networking.alibaba.com/network': 'net',
          'networking.alibaba.com/node': 'node-1',
          'networking.alibaba.com/pod': `ghost-${i}`,
          'networking.alibaba.com/pod-uid': `uid-${i}`,
        },
        finalizers: ['networking.alibaba.com/ip-allocated'],
      },
      spec: {
        network: 'net',
        subnet: 'net-v4',
        address: {
          version: '4',
          ip: `${formatIPValue(4, ip.value)}/12`,
          gateway: '10.128.0.1',
          netID: 0,
          mac: '02:12:34:00:00:01',
        },
        binding: {
          referredObject: { kind: 'Pod', name: `ghost-${i}`, uid: `uid-${i}` },
          nodeName: 'node-1',
          podName: `ghost-${i}`,
          podUID: `uid-${i}`,
        },
      },
    });
  });
  const createMs = Date.now() - t0;
  const mgr = spawnManager(kube, ['--log-level=info']);
  const name = `first-${n}`;
  await c.create(resourcePath(PodsPath, ns), podBody(ns, name));
  for (;;) {
    const l = await c.get<{ items: IPInstance[] }>(resourcePath(IPInstanceResource, ns), {
      query: { labelSelector: `networking.alibaba.com/pod=${name}` },
    });
    if (l.items.length > 0) break;
    await sleep(50);
  }
  const first = Date.now() - mgr.spawnedAt;
  console.log(
    `restart with ${n} existing IPInstances (created in ${(createMs / 1000).toFixed(1)} s, ` +
      `${Math.round(((n - already) / createMs) * 1000)}/s): first allocation ${first} ms after spawn ` +
      `(lease ${mgr.phases.leading ?? '?'} ms, caches synced ${mgr.phases.synced ?? '?'} ms, ` +
      `IPAM rebuilt + controllers started ${mgr.phases.started ?? '?'} ms)`,
  );
  await stopManager(mgr);
  return n;
}

async function main(): Promise<void> {
  const kube = await startKube();
  const c = await KubeClient.fromKubeConfig(kube.kubeConfig, 64);
  try {
    await setup(c, kube);
    for (const w of WORKERS) await burst(kube, c, w);
    let existing = 0;
    for (const n of RESTART) existing = await restart(kube, c, n, existing);
  } finally {
    c.close();
    await kube.stop();
  }
}

await main();
