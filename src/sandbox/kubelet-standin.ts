/**
 * `kubelet-standin`: a MINIMAL STAND-IN for the kubelet + container runtime on one sandbox node. It is not a kubelet:
 * no images, no volumes, no probes, no cgroups. It runs inside its node's network namespace (one process per node,
 * started by `hybridnet sandbox up` with `nsenter --net`), reaches the API server over the node LAN with the node's
 * own identity (`system:node:<name>`, group `system:nodes`, so the Node authorizer applies), and does what a node
 * needs for a CNI to be exercised for real:
 *
 * - registers its Node (labels, InternalIP addresses, capacity) and keeps it Ready: status heartbeat and a Lease in
 *   `kube-node-lease`, every 10 s;
 * - watches the pods bound to it; for each new pod creates a pod sandbox = a network namespace
 *   (`<prefix>pod-<sandbox id>`), calls the CNI plugins exactly as containerd's CRI does (see cni-runtime.ts: loopback
 *   network, then the node's first conflist with `CNI_IFNAME=eth0`), and runs the pod's first container command inside
 *   that namespace (no command: a small TCP responder, see {@link RESPONDER_ARGV});
 * - writes pod status (phase, podIP/podIPs, hostIP, container state Running/Terminated, Ready conditions);
 * - on deletion: stops the command (SIGTERM, SIGKILL after the grace period, at most 5 s), CNI DEL with the netns and
 *   prevResult, removes the netns, CNI DEL again with an empty CNI_NETNS and no prevResult (as CRI's
 *   StopPodSandbox/RemovePodSandbox do), then deletes the pod object with grace period 0;
 * - a failed sandbox set-up is torn down and retried with backoff (1 s … 30 s), the error in the pod's
 *   `PodReadyToStartContainers`/`Ready` condition message.
 *
 * Sandbox records (`<node dir>/pods/<uid>.json`) let a restarted stand-in tear down sandboxes of pods that vanished.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Informer, KubeApiError, KubeClient, objectKey, type KubeObject } from '../kube/index.ts';
import { CniRuntime, LOOPBACK_CONFLIST, loadConfList, type NetConfList, type PodRef } from './cni-runtime.ts';
import { netnsInodes, pidsInNetns, run, stopPids } from './exec.ts';
import { podNetnsName, RESPONDER_PORT } from './topology.ts';

/** argv of the default pod command: answers each TCP connection with `<pod name> <peer address>` and closes. */
export const RESPONDER_ARGV = [
  'socat',
  `TCP6-LISTEN:${RESPONDER_PORT},ipv6only=0,fork,reuseaddr`,
  'SYSTEM:echo "$POD_NAME $SOCAT_PEERADDR"',
];

/** Settings of one stand-in. */
export interface StandinOptions {
  nodeName: string;
  nodeIPs: string[];
  labels: Record<string, string>;
  kubeconfig: string;
  /** Per-node dir: `net.d/` (conflist), `bin/` (plugins), `pods/` (records + logs), `cni-cache/`. */
  nodeDir: string;
  prefix: string;
  logger: Logger;
}

interface PodSpecLite {
  nodeName?: string;
  hostNetwork?: boolean;
  restartPolicy?: string;
  terminationGracePeriodSeconds?: number;
  containers?: {
    name: string;
    image?: string;
    command?: string[];
    args?: string[];
    env?: { name: string; value?: string }[];
  }[];
}

interface Pod extends KubeObject {
  spec?: PodSpecLite;
  status?: { phase?: string };
}

interface SandboxRecord {
  uid: string;
  namespace: string;
  name: string;
  sandboxId: string;
  netns: string;
  ips: string[];
}

interface Running {
  rec: SandboxRecord;
  child?: ChildProcess;
  exited?: { code: number | null; signal: string | null };
  restarts: number;
  startedAt: string;
}

const HEARTBEAT_MS = 10_000;

/** The stand-in. `run(signal)` until aborted. */
export class KubeletStandin {
  private client!: KubeClient;
  private informer!: Informer<Pod>;
  private cni: CniRuntime;
  private readonly running = new Map<string, Running>();
  private readonly busy = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly backoff = new Map<string, { until: number; delay: number }>();
  private readonly log: Logger;

  constructor(private readonly o: StandinOptions) {
    this.log = o.logger.child({ component: 'kubelet-standin', node: o.nodeName });
    this.cni = new CniRuntime({
      binDirs: [path.join(o.nodeDir, 'bin')],
      cacheDir: path.join(o.nodeDir, 'cni-cache'),
    });
  }

  private get podsDir(): string {
    return path.join(this.o.nodeDir, 'pods');
  }

  /** Registers the node, starts heartbeats and the pod loop; resolves when `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const kc = new KubeConfig();
    kc.loadFromFile(this.o.kubeconfig);
    this.client = await KubeClient.fromKubeConfig(kc, 16, `kubelet-standin/${this.o.nodeName}`);
    await mkdir(this.podsDir, { recursive: true });
    await this.registerNode(signal);
    const beat = setInterval(
      () => void this.heartbeat().catch((err: unknown) => this.log.warn({ err }, 'heartbeat')),
      HEARTBEAT_MS,
    );
    await this.heartbeat();
    this.informer = new Informer<Pod>(this.client, {
      path: '/api/v1/pods',
      fieldSelector: `spec.nodeName=${this.o.nodeName}`,
      logger: this.log,
    });
    const kick = (p: Pod): void => this.enqueue(objectKey(p));
    this.informer.on({ add: kick, update: (_o, n) => kick(n), delete: kick });
    const informerDone = this.informer.run(signal);
    await this.informer.waitForSync(signal);
    await this.recoverRecords();
    const retry = setInterval(() => {
      for (const [key, b] of this.backoff) if (Date.now() >= b.until) this.enqueue(key);
    }, 1000);
    this.log.info('node registered and Ready; watching pods');
    await informerDone.catch(() => undefined);
    clearInterval(beat);
    clearInterval(retry);
    this.shutdown();
  }

  private enqueue(key: string): void {
    if (this.busy.has(key)) {
      this.again.add(key);
      return;
    }
    const p = this.sync(key)
      .catch((err: unknown) => this.log.error({ err, pod: key }, 'sync failed'))
      .finally(() => {
        this.busy.delete(key);
        if (this.again.delete(key)) this.enqueue(key);
      });
    this.busy.set(key, p);
  }

  private nodeStatus(): Record<string, unknown> {
    const now = new Date().toISOString();
    const cond = (type: string, status: string, reason: string, message: string): Record<string, string> => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    return {
      addresses: [
        ...this.o.nodeIPs.map((address) => ({ type: 'InternalIP', address })),
        { type: 'Hostname', address: this.o.nodeName },
      ],
      capacity: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '20Gi' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '20Gi' },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet-standin: not measured'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet-standin: not measured'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet-standin: not measured'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet-standin is posting ready status'),
      ],
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: '',
        osImage: 'hybridnet sandbox',
        containerRuntimeVersion: 'kubelet-standin://0',
        kubeletVersion: 'v1.34.12-standin',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
  }

  private async registerNode(signal: AbortSignal): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.o.nodeName,
        labels: {
          'kubernetes.io/hostname': this.o.nodeName,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          ...this.o.labels,
        },
      },
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.create('/api/v1/nodes', body);
        return;
      } catch (e) {
        if (e instanceof KubeApiError && e.code === 409) {
          await this.client.mergePatch(`/api/v1/nodes/${this.o.nodeName}`, {
            metadata: { labels: body.metadata.labels },
          });
          return;
        }
        if (signal.aborted || attempt > 60) throw e;
        this.log.warn({ err: e }, 'node registration failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, '.000000Z');
    await this.client.mergePatch(`/api/v1/nodes/${this.o.nodeName}/status`, { status: this.nodeStatus() });
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.o.nodeName}`;
    const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: 40, renewTime: now };
    try {
      await this.client.mergePatch(leasePath, { spec });
    } catch (e) {
      if (!(e instanceof KubeApiError && e.code === 404)) throw e;
      await this.client.create('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.nodeName, namespace: 'kube-node-lease' },
        spec,
      });
    }
  }

  private recordFile(uid: string): string {
    return path.join(this.podsDir, `${uid}.json`);
  }

  /**
   * Tears down every sandbox recorded by an earlier run of this stand-in (its commands included); pods that still
   * exist get a fresh sandbox from the normal sync, as after a kubelet restart with a lost runtime.
   */
  private async recoverRecords(): Promise<void> {
    for (const f of (await readdir(this.podsDir)).filter((x) => x.endsWith('.json'))) {
      const rec = JSON.parse(await readFile(path.join(this.podsDir, f), 'utf8')) as SandboxRecord;
      this.log.info({ pod: `${rec.namespace}/${rec.name}` }, 'removing a sandbox left by an earlier run');
      await this.teardown(rec);
    }
  }

  private async sync(key: string): Promise<void> {
    const pod = this.informer.get(key);
    const r = [...this.running.values()].find((x) => `${x.rec.namespace}/${x.rec.name}` === key);
    if (!pod) {
      if (r) await this.stopPod(r, 0);
      return;
    }
    const uid = pod.metadata?.uid ?? '';
    if (r && r.rec.uid !== uid) await this.stopPod(r, 0);
    if (pod.metadata?.deletionTimestamp) {
      const cur = this.running.get(uid);
      if (cur) {
        await this.stopPod(cur, Math.min(pod.spec?.terminationGracePeriodSeconds ?? 5, 5));
        // Like the kubelet's status manager: containers Terminated before the object goes (the manager waits for
        // this before reserving a stateful pod's addresses, SPEC §4.6 1b).
        await this.reportRunning(pod, cur, true);
      }
      await this.deletePodObject(pod);
      return;
    }
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    if (this.running.has(uid)) return;
    const b = this.backoff.get(key);
    if (b && Date.now() < b.until) return;
    try {
      await this.startPod(pod);
      this.backoff.delete(key);
    } catch (err) {
      const delay = Math.min((b?.delay ?? 500) * 2, 30_000);
      this.backoff.set(key, { until: Date.now() + delay, delay });
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ pod: key, err: message, retryInMs: delay }, 'pod sandbox set-up failed');
      await this.patchStatus(pod, {
        phase: 'Pending',
        conditions: [
          { type: 'PodReadyToStartContainers', status: 'False', reason: 'SandboxSetupFailed', message },
          { type: 'Ready', status: 'False', reason: 'SandboxSetupFailed', message },
          { type: 'PodScheduled', status: 'True' },
        ],
      }).catch(() => undefined);
    }
  }

  private async startPod(pod: Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    const sandboxId = randomBytes(32).toString('hex');
    const hostNetwork = pod.spec?.hostNetwork === true;
    const netns = hostNetwork ? '' : podNetnsName(this.o.prefix, sandboxId);
    const rec: SandboxRecord = { uid, namespace, name, sandboxId, netns, ips: [] };
    await writeFile(this.recordFile(uid), JSON.stringify(rec));
    const ref: PodRef = { namespace, name, uid, sandboxId };
    if (hostNetwork) {
      rec.ips = [...this.o.nodeIPs];
    } else {
      try {
        await run(['ip', 'netns', 'add', netns]);
        const nsPath = `/run/netns/${netns}`;
        await this.cni.add(LOOPBACK_CONFLIST, ref, nsPath, 'lo');
        const list = await loadConfList(path.join(this.o.nodeDir, 'net.d'));
        const result = await this.cni.add(list, ref, nsPath, 'eth0');
        rec.ips = ipsOf(result);
        if (rec.ips.length === 0) throw new Error(`CNI ADD of ${list.name} returned no IP address`);
      } catch (e) {
        await this.teardown(rec);
        throw e;
      }
    }
    await writeFile(this.recordFile(uid), JSON.stringify(rec));
    const r: Running = { rec, restarts: 0, startedAt: new Date().toISOString() };
    this.running.set(uid, r);
    this.startCommand(pod, r);
    await this.reportRunning(pod, r);
    this.log.info({ pod: `${namespace}/${name}`, ips: rec.ips, netns }, 'pod running');
  }

  private startCommand(pod: Pod, r: Running): void {
    const c = pod.spec?.containers?.[0];
    const argv = c?.command?.length ? [...c.command, ...(c.args ?? [])] : RESPONDER_ARGV;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      POD_NAME: r.rec.name,
      POD_NAMESPACE: r.rec.namespace,
      POD_IP: r.rec.ips[0] ?? '',
    };
    for (const e of c?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    const full = r.rec.netns ? ['nsenter', `--net=/run/netns/${r.rec.netns}`, ...argv] : argv;
    const logFile = path.join(this.podsDir, `${r.rec.namespace}_${r.rec.name}.log`);
    const fd = openSync(logFile, 'a');
    try {
      const [bin, ...args] = full;
      const child = spawn(bin ?? 'false', args, { env, stdio: ['ignore', fd, fd] });
      r.child = child;
      r.exited = undefined;
      child.once('error', (err) => this.log.warn({ err, pod: r.rec.name }, 'command failed to start'));
      child.once('exit', (code, sig) => {
        if (r.child !== child) return;
        r.exited = { code, signal: sig };
        if (!this.running.has(r.rec.uid)) return;
        const policy = pod.spec?.restartPolicy ?? 'Always';
        if (policy === 'Always' || (policy === 'OnFailure' && code !== 0)) {
          r.restarts++;
          setTimeout(() => {
            if (this.running.get(r.rec.uid) === r) this.startCommand(pod, r);
          }, 1000);
        }
        void this.reportRunning(pod, r).catch(() => undefined);
      });
    } finally {
      closeSync(fd);
    }
  }

  /** Writes the pod's status from `r`; `terminal`: the pod is being deleted and its container was stopped. */
  private async reportRunning(pod: Pod, r: Running, terminal = false): Promise<void> {
    const c = pod.spec?.containers?.[0];
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const started = r.startedAt.replace(/\.\d+Z$/, 'Z');
    if (terminal) r.exited = { code: r.exited?.code ?? 0, signal: null };
    const done = r.exited !== undefined;
    const policy = terminal ? 'Never' : (pod.spec?.restartPolicy ?? 'Always');
    const finalPhase =
      done && policy !== 'Always' && !(policy === 'OnFailure' && r.exited?.code !== 0)
        ? r.exited?.code === 0
          ? 'Succeeded'
          : 'Failed'
        : undefined;
    const ready = done ? 'False' : 'True';
    const state = done
      ? {
          terminated: {
            exitCode: r.exited?.code ?? 137,
            reason: r.exited?.code === 0 ? 'Completed' : 'Error',
            startedAt: started,
            finishedAt: now,
          },
        }
      : { running: { startedAt: started } };
    const hostIP = this.o.nodeIPs[0];
    await this.patchStatus(pod, {
      phase: finalPhase ?? (done && policy === 'Never' ? 'Failed' : 'Running'),
      hostIP,
      hostIPs: this.o.nodeIPs.map((ip) => ({ ip })),
      podIP: r.rec.ips[0],
      podIPs: r.rec.ips.map((ip) => ({ ip })),
      startTime: started,
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: started },
        { type: 'Initialized', status: 'True', lastTransitionTime: started },
        { type: 'ContainersReady', status: ready, lastTransitionTime: now },
        { type: 'Ready', status: ready, lastTransitionTime: now },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: started },
      ],
      containerStatuses: [
        {
          name: c?.name ?? 'main',
          image: c?.image ?? 'sandbox/responder',
          imageID: '',
          containerID: `standin://${r.rec.sandboxId.slice(0, 32)}`,
          ready: !done,
          started: !done,
          restartCount: r.restarts,
          state,
        },
      ],
    });
  }

  private async patchStatus(pod: Pod, status: Record<string, unknown>): Promise<void> {
    const ns = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    try {
      await this.client.mergePatch(`/api/v1/namespaces/${ns}/pods/${name}/status`, {
        metadata: { uid: pod.metadata?.uid },
        status,
      });
    } catch (e) {
      if (!(e instanceof KubeApiError && (e.code === 404 || e.code === 409))) throw e;
    }
  }

  /** Stops the command, then tears the sandbox down (CNI DEL ×2, netns removal). */
  private async stopPod(r: Running, graceSeconds: number): Promise<void> {
    this.running.delete(r.rec.uid);
    const child = r.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((res) => child.once('exit', () => res()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(graceSeconds, 0.2) * 1000);
      await exited;
      clearTimeout(timer);
    }
    await this.teardown(r.rec);
    this.log.info({ pod: `${r.rec.namespace}/${r.rec.name}` }, 'pod sandbox removed');
  }

  /** CRI StopPodSandbox + RemovePodSandbox: DEL (netns, prevResult), netns removal, DEL ('' netns, no prevResult). */
  private async teardown(rec: SandboxRecord): Promise<void> {
    if (rec.netns) {
      const ref: PodRef = { namespace: rec.namespace, name: rec.name, uid: rec.uid, sandboxId: rec.sandboxId };
      const nsPath = `/run/netns/${rec.netns}`;
      const have = existsSync(nsPath);
      let list: NetConfList | undefined;
      try {
        list = await loadConfList(path.join(this.o.nodeDir, 'net.d'));
      } catch (err) {
        this.log.warn({ err }, 'no conflist for DEL');
      }
      const del = async (netns: string, withPrev: boolean): Promise<void> => {
        if (list) {
          await this.cni.del(list, ref, netns, 'eth0', withPrev).catch((err: unknown) => {
            this.log.warn({ err, pod: rec.name }, 'CNI DEL failed');
          });
        }
        await this.cni.del(LOOPBACK_CONFLIST, ref, netns, 'lo', withPrev).catch(() => undefined);
      };
      await del(have ? nsPath : '', true);
      if (have) {
        // Anything still running in the pod's namespace was started for this pod (e.g. by an earlier run).
        await stopPids(pidsInNetns(netnsInodes([rec.netns])), 2000);
        await run(['ip', 'netns', 'del', rec.netns]).catch((err: unknown) => this.log.warn({ err }, 'netns del'));
      }
      await del('', false);
    }
    await rm(this.recordFile(rec.uid), { force: true });
  }

  private async deletePodObject(pod: Pod): Promise<void> {
    const ns = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    try {
      await this.client.delete(`/api/v1/namespaces/${ns}/pods/${name}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata?.uid },
      });
    } catch (e) {
      if (!(e instanceof KubeApiError && (e.code === 404 || e.code === 409))) throw e;
    }
  }

  private shutdown(): void {
    // Leave pods running, like a kubelet restart; `sandbox down` removes everything.
    this.client.close();
  }
}

/** Addresses (without prefix length) of a CNI result's `ips`, IPv4 first. */
export function ipsOf(result: Record<string, unknown> | undefined): string[] {
  const ips = (result?.ips ?? []) as { address?: string }[];
  const out = ips.map((i) => (i.address ?? '').split('/')[0] ?? '').filter((a) => a !== '');
  return out.sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
}
