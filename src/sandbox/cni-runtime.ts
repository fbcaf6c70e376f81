/**
 * Calls CNI plugins the way containerd's CRI plugin does through go-cni/libcni (CNI spec 1.0 §"Execution protocol",
 * libcni `AddNetworkList` / `DelNetworkList`):
 *
 * - every plugin of a conflist is exec'd with `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_ARGS`,
 *   `CNI_PATH`, and its network configuration on stdin: the plugin's own object plus `name` and `cniVersion` of the
 *   list, `runtimeConfig` for the capabilities it declares, and `prevResult` (ADD: the previous plugin's result);
 * - ADD runs the plugins in order, DEL in reverse order; for cniVersion ≥ 0.4.0 DEL gets the cached ADD result as
 *   `prevResult` (libcni's result cache), unless the caller says there is none;
 * - CRI sets `CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=…;K8S_POD_NAME=…;K8S_POD_INFRA_CONTAINER_ID=…;K8S_POD_UID=…`
 *   and calls the loopback network (`cni-loopback`, type `loopback`, ifName `lo`) before the pod network.
 *
 * A failing plugin's error object (`{code, msg, details}` on stdout) becomes a {@link CniCallError}.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A parsed conflist. */
export interface NetConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

/** The pod identity CRI passes in CNI_ARGS. */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  sandboxId: string;
}

/** A failed plugin call: which plugin and command, its CNI error code and message. */
export class CniCallError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly code: number | undefined,
    readonly msg: string,
    readonly stderr: string,
  ) {
    super(`CNI ${command} of plugin ${plugin} failed${code !== undefined ? ` (code ${code})` : ''}: ${msg}`);
    this.name = 'CniCallError';
  }
}

/** The loopback network CRI configures in every pod sandbox. */
export const LOOPBACK_CONFLIST: NetConfList = {
  cniVersion: '0.3.1',
  name: 'cni-loopback',
  plugins: [{ type: 'loopback' }],
};

/** The first `*.conflist` (lexical order) of `confDir`, as CRI picks it. @throws Error if there is none. */
export async function loadConfList(confDir: string): Promise<NetConfList> {
  const files = existsSync(confDir) ? (await readdir(confDir)).filter((f) => f.endsWith('.conflist')).sort() : [];
  const first = files[0];
  if (first === undefined) throw new Error(`no *.conflist in ${confDir}: is the CNI plugin installed on this node?`);
  const parsed = JSON.parse(await readFile(path.join(confDir, first), 'utf8')) as NetConfList;
  if (!Array.isArray(parsed.plugins) || parsed.plugins.length === 0) {
    throw new Error(`${path.join(confDir, first)}: "plugins" is empty`);
  }
  return parsed;
}

/** `CNI_ARGS` exactly as containerd's CRI builds it. */
export function criCniArgs(pod: PodRef): string {
  return [
    'IgnoreUnknown=1',
    `K8S_POD_NAMESPACE=${pod.namespace}`,
    `K8S_POD_NAME=${pod.name}`,
    `K8S_POD_INFRA_CONTAINER_ID=${pod.sandboxId}`,
    `K8S_POD_UID=${pod.uid}`,
  ].join(';');
}

/** Compares dotted versions: true if `v` ≥ `min`. */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** One recorded plugin call (for tests and `status`). */
export interface CniCallRecord {
  command: string;
  plugin: string;
  env: Record<string, string>;
  stdin: string;
  exitCode: number;
  stdout: string;
}

/** How to run plugins. */
export interface CniRuntimeOptions {
  /** Directories searched for plugin binaries (CNI_PATH). */
  binDirs: string[];
  /** Directory of the result cache (libcni: /var/lib/cni/results). */
  cacheDir: string;
  /** Optional sink of every call. */
  record?: (r: CniCallRecord) => void;
  /** Timeout of one plugin call (ms). */
  timeoutMs?: number;
}

/** Runs plugins of conflists for pod sandboxes. */
export class CniRuntime {
  constructor(private readonly opts: CniRuntimeOptions) {}

  private findPlugin(type: string): string {
    for (const d of this.opts.binDirs) {
      const p = path.join(d, type);
      if (existsSync(p)) return p;
    }
    throw new CniCallError(
      type,
      'find',
      undefined,
      `plugin ${type} not found in CNI_PATH ${this.opts.binDirs.join(':')}`,
      '',
    );
  }

  private exec(
    command: string,
    type: string,
    env: Record<string, string>,
    conf: Record<string, unknown>,
  ): Promise<Record<string, unknown> | undefined> {
    const bin = this.findPlugin(type);
    const stdin = JSON.stringify(conf);
    return new Promise((resolve, reject) => {
      const child = spawn(bin, [], {
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => child.kill('SIGKILL'), this.opts.timeoutMs ?? 120_000);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new CniCallError(type, command, undefined, e.message, ''));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        this.opts.record?.({ command, plugin: type, env, stdin, exitCode: code ?? -1, stdout });
        let parsed: Record<string, unknown> | undefined;
        try {
          parsed = stdout.trim() === '' ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
        } catch {
          parsed = undefined;
        }
        if (code !== 0) {
          const msg = typeof parsed?.msg === 'string' ? parsed.msg : stdout.trim() || stderr.trim() || `exit ${code}`;
          const details = typeof parsed?.details === 'string' && parsed.details ? ` (${parsed.details})` : '';
          const c = typeof parsed?.code === 'number' ? parsed.code : undefined;
          reject(new CniCallError(type, command, c, msg + details, stderr));
        } else resolve(parsed);
      });
      child.stdin.end(stdin);
    });
  }

  private env(command: string, pod: PodRef, netns: string, ifName: string): Record<string, string> {
    return {
      CNI_COMMAND: command,
      CNI_CONTAINERID: pod.sandboxId,
      CNI_NETNS: netns,
      CNI_IFNAME: ifName,
      CNI_ARGS: criCniArgs(pod),
      CNI_PATH: this.opts.binDirs.join(':'),
    };
  }

  private netconf(
    list: NetConfList,
    plugin: Record<string, unknown>,
    runtimeConfig: Record<string, unknown>,
    prevResult: unknown,
  ): Record<string, unknown> {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    const caps = plugin.capabilities as Record<string, boolean> | undefined;
    if (caps) {
      const rc: Record<string, unknown> = {};
      for (const [k, on] of Object.entries(caps)) if (on && k in runtimeConfig) rc[k] = runtimeConfig[k];
      delete conf.capabilities;
      if (Object.keys(rc).length > 0) conf.runtimeConfig = rc;
    }
    if (prevResult !== undefined) conf.prevResult = prevResult;
    return conf;
  }

  private cacheFile(list: NetConfList, pod: PodRef, ifName: string): string {
    return path.join(this.opts.cacheDir, `${list.name}-${pod.sandboxId}-${ifName}.json`);
  }

  /** ADD through the whole list; caches and returns the last result. */
  async add(
    list: NetConfList,
    pod: PodRef,
    netns: string,
    ifName: string,
    runtimeConfig: Record<string, unknown> = {},
  ): Promise<Record<string, unknown> | undefined> {
    let prev: Record<string, unknown> | undefined;
    for (const plugin of list.plugins) {
      const type = String(plugin.type);
      prev = await this.exec(
        'ADD',
        type,
        this.env('ADD', pod, netns, ifName),
        this.netconf(list, plugin, runtimeConfig, prev),
      );
    }
    await mkdir(this.opts.cacheDir, { recursive: true });
    await writeFile(this.cacheFile(list, pod, ifName), JSON.stringify({ result: prev ?? null }));
    return prev;
  }

  /**
   * DEL through the list in reverse order. `withPrevResult`: pass the cached ADD result (cniVersion ≥ 0.4.0), as
   * CRI's first DEL does; the second DEL (netns already gone: `netns` = '') passes none. Removes the cache entry
   * after a DEL without prevResult.
   */
  async del(
    list: NetConfList,
    pod: PodRef,
    netns: string,
    ifName: string,
    withPrevResult: boolean,
    runtimeConfig: Record<string, unknown> = {},
  ): Promise<void> {
    let cached: unknown;
    const file = this.cacheFile(list, pod, ifName);
    if (withPrevResult && versionAtLeast(list.cniVersion, '0.4.0') && existsSync(file)) {
      cached = (JSON.parse(await readFile(file, 'utf8')) as { result: unknown }).result ?? undefined;
    }
    for (const plugin of [...list.plugins].reverse()) {
      const type = String(plugin.type);
      await this.exec(
        'DEL',
        type,
        this.env('DEL', pod, netns, ifName),
        this.netconf(list, plugin, runtimeConfig, cached),
      );
    }
    if (!withPrevResult) await rm(file, { force: true });
  }
}
