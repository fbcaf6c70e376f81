/**
 * `hybridnet sandbox up | down | status | env`: a whole Hybridnet cluster on one Linux machine, in network namespaces
 * (DESIGN.md "Sandbox topology"). State lives in one directory (`sandbox.json`, kubeconfigs, PKI, logs, pidfiles,
 * per-node CNI files); `down` removes every process (by PID), namespace, mount and file the sandbox made, also after a
 * crash of `up`, and touches nothing else. The root namespace is never configured: the only thing there is a
 * loopback listener (socat on 127.0.0.1:<api port>) that forwards to the API server over a unix socket.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { ensureKubeBinaries, kubeBinDir } from './binaries.ts';
import { ComponentError, loadAdminKubeConfig, paths, portInUse, startControlPlane } from './controlplane.ts';
import {
  alive,
  cmdlineOf,
  execIn,
  logDir,
  netnsInodeOf,
  netnsInodes,
  pidsInNetns,
  readPidfiles,
  sleep,
  stopPids,
  tailOf,
  type Started,
} from './exec.ts';
import { buildNetwork, deleteNetns, ourNetns } from './netns.ts';
import { buildCniPlugin, installCni, nodePaths, startDaemon, startOutsideResponder, startStandin } from './nodes.ts';
import { Progress } from './progress.ts';
import { planTopology, type Topology, type TopologyOptions } from './topology.ts';

/** Persisted in `<dir>/sandbox.json`. */
export interface SandboxState {
  options: Required<Pick<TopologyOptions, 'prefix' | 'nodes' | 'apiPort'>> & { dir: string };
  phase: 'starting' | 'up';
  startedAt: string;
}

/** A refusal before anything was created or changed (bad environment or options). */
export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreflightError';
  }
}

/** Raised when the caller is not root. */
export class NotRootError extends PreflightError {
  constructor(what: string) {
    super(`hybridnet sandbox ${what} needs root (it creates network namespaces); run it with sudo`);
    this.name = 'NotRootError';
  }
}

/** Throws {@link NotRootError} unless running as uid 0. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new NotRootError(what);
}

/** Reads the state of the sandbox in `dir`, if any. */
export function readState(dir: string): SandboxState | undefined {
  const f = paths(dir).state;
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as SandboxState;
}

async function writeState(t: Topology, phase: SandboxState['phase']): Promise<void> {
  const s: SandboxState = {
    options: { prefix: t.prefix, nodes: t.nodes.length, apiPort: t.apiPort, dir: t.dir },
    phase,
    startedAt: new Date().toISOString(),
  };
  await writeFile(paths(t.dir).state, JSON.stringify(s, null, 2) + '\n');
}

/** The topology of the sandbox recorded in `dir`, or planned from `opts`. */
export function topologyOf(opts: TopologyOptions): Topology {
  const dir = path.resolve(opts.dir ?? planTopology({}).dir);
  const s = readState(dir);
  return planTopology(s ? { ...s.options, dir } : { ...opts, dir });
}

/** True if `pid` is one of ours: its command line names the state dir, or it lives in one of our namespaces. */
function isOurs(pid: number, dir: string, inodes: ReadonlySet<number>): boolean {
  if (!alive(pid)) return false;
  const ino = netnsInodeOf(pid);
  return cmdlineOf(pid).includes(dir) || (ino !== undefined && inodes.has(ino));
}

/** Health of every process of the sandbox: name → alive. */
export async function processHealth(dir: string, prefix: string): Promise<Map<string, boolean>> {
  const inodes = netnsInodes(await ourNetns(prefix));
  const m = new Map<string, boolean>();
  for (const [name, pid] of readPidfiles(dir)) m.set(name, isOurs(pid, dir, inodes));
  return m;
}

/** True if a sandbox in `dir` is up and every process is alive. */
export async function isUp(dir: string, prefix: string): Promise<boolean> {
  const s = readState(dir);
  if (s?.phase !== 'up') return false;
  const h = await processHealth(dir, prefix);
  return h.size > 0 && [...h.values()].every(Boolean);
}

/**
 * Brings the sandbox up (see module doc). A sandbox that is already up is left alone; leftovers of a failed or
 * crashed run are removed first. @throws NotRootError, TopologyError, ComponentError (names the component and its log).
 */
export async function up(opts: TopologyOptions, progress = new Progress()): Promise<Topology> {
  requireRoot('up');
  const t = topologyOf(opts);
  if (await isUp(t.dir, t.prefix)) {
    progress.detail(`sandbox already up in ${t.dir} (nothing to do)`);
    return t;
  }
  if (readState(t.dir) || (await ourNetns(t.prefix)).length > 0 || readPidfiles(t.dir).size > 0) {
    progress.step('removing leftovers of an earlier run');
    await down({ dir: t.dir, prefix: t.prefix }, progress, true);
    progress.done('leftovers removed');
  }
  if (await portInUse(t.apiPort)) {
    throw new PreflightError(
      `127.0.0.1:${t.apiPort} is already in use in the root namespace; choose another with --api-port (nothing was changed)`,
    );
  }
  await mkdir(logDir(t.dir), { recursive: true });
  await writeState(t, 'starting');

  await ensureKubeBinaries(progress, paths(t.dir).setupLog);

  progress.step(`network namespaces (${t.prefix}cp, ${t.prefix}sw, ${t.prefix}gw, ${t.nodes.length} nodes)`);
  await buildNetwork(t);
  await startOutsideResponder(t);
  progress.done('network namespaces, LAN bridge, gateway and outside host');

  const cp = await startControlPlane(t, progress);

  progress.step('nodes: CNI plugin + conflist, hybridnet daemon, kubelet stand-in');
  const plugin = await buildCniPlugin(t.dir);
  const started: Started[] = [];
  for (const n of t.nodes) {
    const id = cp.nodes.get(n.name);
    if (!id) throw new Error(`no identity for ${n.name}`);
    await installCni(n, plugin);
    started.push(await startStandin(t, n, id));
    started.push(await startDaemon(t, n, id));
  }
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  const deadline = Date.now() + 180_000;
  for (;;) {
    for (const s of started) {
      if (!alive(s.pid)) throw new ComponentError(s.name, 'exited during start-up', s.logFile);
    }
    const nodes = await core.listNode().catch(() => undefined);
    const ready = (nodes?.items ?? []).filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (ready.length === t.nodes.length) break;
    if (Date.now() > deadline) {
      const missing = t.nodes.filter((n) => !ready.some((r) => r.metadata?.name === n.name)).map((n) => n.name);
      const s = started.find((x) => x.name === `kubelet-standin-${missing[0] ?? ''}`);
      throw new ComponentError(
        s?.name ?? 'kubelet-standin',
        `nodes ${missing.join(', ')} not Ready after 180 s`,
        s?.logFile ?? '',
      );
    }
    await sleep(500);
  }
  progress.done(`nodes: ${t.nodes.map((n) => n.name).join(', ')} registered and Ready`);

  await writeState(t, 'up');
  progress.detail(`sandbox up in ${progress.elapsedSeconds().toFixed(1)}s; state in ${t.dir}`);
  return t;
}

const STATE_ENTRIES = [
  'sandbox.json',
  'kubeconfig',
  'kubeconfigs',
  'pki',
  'run',
  'etcd',
  'webhook-certs',
  'apiserver',
  'kcm',
  'cni',
  'nodes',
  'logs',
  'pids',
  'demo',
];

/**
 * Removes everything the sandbox made: processes (pidfiles, verified by command line; then any process left in one
 * of its namespaces), namespaces with the prefix (pods included; `ip netns del` also removes their mounts), and the
 * state files. Safe to run twice, and after a crash of `up`. `keepNothing=false` is not offered: logs go too.
 */
export async function down(opts: TopologyOptions, progress = new Progress(), quiet = false): Promise<void> {
  requireRoot('down');
  const t = topologyOf(opts);
  const namespaces = await ourNetns(t.prefix);
  const inodes = netnsInodes(namespaces);
  const pids: number[] = [];
  for (const [, pid] of readPidfiles(t.dir)) if (isOurs(pid, t.dir, inodes)) pids.push(pid);
  if (!quiet) progress.step(`stopping ${pids.length} sandbox processes`);
  await stopPids(pids, 5000);
  const stragglers = pidsInNetns(inodes);
  await stopPids(stragglers, 3000);
  if (!quiet) progress.done(`stopped ${pids.length + stragglers.length} processes`);

  if (!quiet) progress.step(`removing ${namespaces.length} network namespaces`);
  const remaining = await ourNetns(t.prefix);
  const failed = await deleteNetns(remaining);
  if (failed.length > 0) throw new Error(`could not delete namespaces:\n  ${failed.join('\n  ')}`);
  if (!quiet) progress.done('network namespaces removed');

  for (const e of STATE_ENTRIES) await rm(path.join(t.dir, e), { recursive: true, force: true });
  await rmdir(t.dir).catch(() => undefined);
  if (!quiet) progress.detail(`sandbox down; ${t.dir} removed`);
}

/** Lines of `hybridnet sandbox env`. */
export function envLines(dir: string): string[] {
  return [`export KUBECONFIG=${paths(dir).adminKubeconfig}`, `export PATH=${kubeBinDir()}:$PATH`];
}

/** A human-readable status report. */
export async function status(opts: TopologyOptions): Promise<{ text: string; up: boolean }> {
  const t = topologyOf(opts);
  const s = readState(t.dir);
  const lines: string[] = [];
  if (!s) {
    const left = await ourNetns(t.prefix);
    lines.push(`no sandbox in ${t.dir}` + (left.length ? ` (but namespaces ${left.join(', ')} exist: run down)` : ''));
    return { text: lines.join('\n'), up: false };
  }
  lines.push(`sandbox in ${t.dir}: ${s.phase} since ${s.startedAt}; API https://127.0.0.1:${t.apiPort}`);
  for (const [name, ok] of await processHealth(t.dir, t.prefix)) {
    lines.push(`  ${ok ? 'running' : 'DEAD   '}  ${name.padEnd(28)} ${path.join(logDir(t.dir), `${name}.log`)}`);
  }
  const namespaces = await ourNetns(t.prefix);
  lines.push(`  namespaces: ${namespaces.length} (${namespaces.filter((n) => !n.includes('pod-')).join(', ')})`);
  try {
    const core = loadAdminKubeConfig(t.dir).makeApiClient(CoreV1Api);
    const nodes = await core.listNode();
    for (const n of nodes.items) {
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
      lines.push(`  node ${n.metadata?.name ?? ''}: Ready=${ready}`);
    }
  } catch (e) {
    lines.push(`  API server not reachable: ${(e as Error).message}`);
  }
  return { text: lines.join('\n'), up: await isUp(t.dir, t.prefix) };
}

/** The daemon socket of each node (for diagnostics). */
export function daemonSockets(t: Topology): string[] {
  return t.nodes.map((n) => nodePaths(n).socket);
}

/** Tail of a component's log (for error messages). */
export function componentLogTail(dir: string, name: string): string {
  return tailOf(path.join(logDir(dir), `${name}.log`), 20);
}

/** Runs a short command in a node namespace (diagnostics, demo checks). */
export function inNode(t: Topology, node: string, argv: string[]): Promise<string> {
  const n = t.nodes.find((x) => x.name === node);
  if (!n) return Promise.reject(new Error(`no node ${node}`));
  return execIn(n.netns, argv);
}
