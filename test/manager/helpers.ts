/**
 * Helpers for the manager tests against the real API server: objects (Nodes, Networks, Subnets, Pods), an in-process
 * manager, a manager child process (`node --import tsx src/cli/bin.ts manager`), and polling helpers.
 * There is no kubelet: pods are created with `spec.nodeName` set, container states are set through the status
 * subresource, and deletions use `gracePeriodSeconds: 0`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import type { IPInstance } from '../../src/api/index.ts';
import { IPInstanceResource, NetworkResource, SubnetResource } from '../../src/api/index.ts';
import {
  EventsPath,
  KubeApiError,
  KubeClient,
  NodesPath,
  PodsPath,
  resourcePath,
  retryOnConflict,
} from '../../src/kube/index.ts';
import { defaultManagerConfig, type ManagerConfig } from '../../src/manager/config.ts';
import { Manager } from '../../src/manager/manager.ts';
import type { KubeFixture } from '../fixture/kube.ts';
import { eventually } from '../fixture/kube.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const paths = {
  network: (name?: string): string => resourcePath(NetworkResource, undefined, name),
  subnet: (name?: string): string => resourcePath(SubnetResource, undefined, name),
  ipInstances: (ns?: string, name?: string): string => resourcePath(IPInstanceResource, ns, name),
  pods: (ns?: string, name?: string, sub?: string): string => resourcePath(PodsPath, ns, name, sub),
  node: (name?: string): string => resourcePath(NodesPath, undefined, name),
  events: (ns: string): string => resourcePath(EventsPath, ns),
};

/** A REST client for the fixture. */
export async function clientOf(kube: KubeFixture): Promise<KubeClient> {
  return KubeClient.fromKubeConfig(kube.kubeConfig, 64);
}

/** Creates a Node with labels (no kubelet; Ready condition set for the scheduler's sake). */
export async function createNode(c: KubeClient, name: string, labels: Record<string, string> = {}): Promise<V1Node> {
  return c.create<V1Node>(paths.node(), {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
  });
}

export function underlayNetwork(name: string, selector: Record<string, string>, netID: number | null = 0): object {
  return {
    apiVersion: NetworkResource.apiVersion,
    kind: 'Network',
    metadata: { name },
    spec: { type: 'Underlay', mode: 'VLAN', netID, nodeSelector: selector },
  };
}

export function overlayNetwork(name: string, vni = 4): object {
  return {
    apiVersion: NetworkResource.apiVersion,
    kind: 'Network',
    metadata: { name },
    spec: { type: 'Overlay', netID: vni },
  };
}

export function subnet(
  name: string,
  network: string,
  version: '4' | '6',
  cidr: string,
  extra: Record<string, unknown> = {},
  config: Record<string, unknown> | undefined = undefined,
): object {
  return {
    apiVersion: SubnetResource.apiVersion,
    kind: 'Subnet',
    metadata: { name },
    spec: { network, netID: null, range: { version, cidr, ...extra }, ...(config ? { config } : {}) },
  };
}

/** Pod options. */
export interface PodOptions {
  nodeName?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** Controller owner (e.g. `{kind: 'StatefulSet', name: 'web', uid}`); apiVersion defaults to apps/v1. */
  owner?: { apiVersion?: string; kind: string; name: string; uid: string };
}

export async function createPod(c: KubeClient, ns: string, name: string, o: PodOptions = {}): Promise<V1Pod> {
  return c.create<V1Pod>(paths.pods(ns), {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      labels: o.labels,
      annotations: o.annotations,
      ownerReferences: o.owner
        ? [
            {
              apiVersion: o.owner.apiVersion ?? 'apps/v1',
              kind: o.owner.kind,
              name: o.owner.name,
              uid: o.owner.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ]
        : undefined,
    },
    spec: {
      nodeName: o.nodeName,
      containers: [{ name: 'c', image: 'registry.invalid/pause:1' }],
      terminationGracePeriodSeconds: 0,
    },
  });
}

/** Deletes a pod immediately (no kubelet); finalizers still hold it. 404 is fine. */
export async function deletePod(c: KubeClient, ns: string, name: string): Promise<void> {
  try {
    await c.delete(paths.pods(ns, name), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.code === 404)) throw err;
  }
}

/** Sets the container statuses of a pod through the status subresource (what a kubelet would do). */
export async function setContainerState(
  c: KubeClient,
  ns: string,
  name: string,
  state: 'running' | 'terminated',
  phase?: string,
  reason?: string,
): Promise<void> {
  await retryOnConflict(async () => {
    const pod = await c.get<V1Pod>(paths.pods(ns, name));
    const now = new Date().toISOString();
    const st =
      state === 'running'
        ? { running: { startedAt: now } }
        : { terminated: { exitCode: 0, startedAt: now, finishedAt: now, reason: 'Completed' } };
    await c.replace(paths.pods(ns, name, 'status'), {
      ...pod,
      status: {
        ...pod.status,
        ...(phase ? { phase } : {}),
        ...(reason ? { reason } : {}),
        containerStatuses: [
          {
            name: 'c',
            image: 'registry.invalid/pause:1',
            imageID: '',
            ready: state === 'running',
            restartCount: 0,
            state: st,
          },
        ],
      },
    });
  });
}

export async function listIPInstances(c: KubeClient, ns?: string, labelSelector?: string): Promise<IPInstance[]> {
  return (await c.listAll<IPInstance>(paths.ipInstances(ns), labelSelector ? { labelSelector } : {})).items;
}

/** IPInstances bound to the pod (label pod=<name>, binding.podUID=uid). */
export async function podInstances(c: KubeClient, ns: string, pod: V1Pod): Promise<IPInstance[]> {
  const all = await listIPInstances(c, ns, `networking.alibaba.com/pod=${podLabel(pod.metadata?.name ?? '')}`);
  return all.filter((i) => i.spec.binding?.podUID === pod.metadata?.uid);
}

/** Waits until the pod has `n` bound IPInstances. */
export async function waitBound(
  c: KubeClient,
  ns: string,
  pod: V1Pod,
  n = 1,
  timeoutMs = 60_000,
): Promise<IPInstance[]> {
  return eventually(
    `pod ${ns}/${pod.metadata?.name} bound to ${n} IPInstance(s)`,
    async () => {
      const l = await podInstances(c, ns, pod);
      return l.length === n ? l : undefined;
    },
    timeoutMs,
    150,
  );
}

function podLabel(name: string): string {
  // same as src/net podLabelValue; imported lazily to keep helpers self-contained for selectors
  return name.length > 63 ? podLabelHash(name) : name;
}
import { podLabelValue as podLabelHash } from '../../src/net/index.ts';

/** Events of an object. */
export async function eventsOf(
  c: KubeClient,
  ns: string,
  name: string,
): Promise<{ reason: string; message: string; type: string }[]> {
  const l = await c.get<{
    items: { reason: string; message: string; type: string; involvedObject: { name: string } }[];
  }>(paths.events(ns));
  return l.items.filter((e) => e.involvedObject.name === name);
}

/** An in-process manager with test timings. */
export async function startManager(
  kube: KubeFixture,
  overrides: Partial<ManagerConfig> = {},
): Promise<{ manager: Manager; stop: () => Promise<void>; done: Promise<string> }> {
  const client = await clientOf(kube);
  const config: ManagerConfig = {
    ...defaultManagerConfig({}),
    namespace: 'kube-system',
    identity: `test-${randomUUID().slice(0, 8)}`,
    metricsPort: 0,
    leaseDurationMs: 4000,
    renewDeadlineMs: 3000,
    retryPeriodMs: 500,
    resyncPeriodMs: 30_000,
    ...overrides,
  };
  const logger = pino({ level: process.env.HN_TEST_LOG ?? 'silent' });
  const manager = new Manager(client, config, logger);
  const ac = new AbortController();
  const done = manager.run(ac.signal);
  await eventually('manager leading with controllers started', () => Promise.resolve(manager.isActive()), 60_000, 50);
  return {
    manager,
    done,
    stop: async () => {
      ac.abort();
      await done.catch(() => undefined);
      client.close();
    },
  };
}

/** A manager child process (`hybridnet manager`), logs to `logFile`. */
export function spawnManager(
  kube: KubeFixture,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO, 'bin/hybridnet.mjs'),
      'manager',
      `--kubeconfig=${kube.kubeconfigPath}`,
      ...args,
    ],
    { cwd: REPO, env: { ...process.env, NAMESPACE: 'kube-system', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

/** Kills a child by PID with a signal and waits for its exit. */
export async function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  await exited;
}

/** True when GET answers 404 (other errors propagate). */
export async function gone(c: KubeClient, p: string): Promise<boolean> {
  try {
    await c.get(p);
    return false;
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404) return true;
    throw err;
  }
}

export { eventually };
