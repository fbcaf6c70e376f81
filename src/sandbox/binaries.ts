/**
 * Where the sandbox finds its programs: the Kubernetes binaries built by tools/kube/setup.sh (same directory rule as
 * tools/kube/env.sh and the test fixture), the `hybridnet` command of this checkout, and the CNI plugin bundle.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Progress } from './progress.ts';

/** The repository root (the directory holding this package's package.json). */
export function repoRoot(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(d, 'package.json');
    if (existsSync(pkg) && /"name":\s*"hybridnet"/.test(readFileSync(pkg, 'utf8'))) return d;
    const up = path.dirname(d);
    if (up === d) throw new Error('cannot find the hybridnet repository root above ' + import.meta.url);
    d = up;
  }
}

/** The bin directory of the Kubernetes binaries (HN_KUBE_BIN, else the version-keyed cache). */
export function kubeBinDir(): string {
  if (process.env.HN_KUBE_BIN) return process.env.HN_KUBE_BIN;
  const gomod = readFileSync(path.join(repoRoot(), 'tools/kube/go.mod'), 'utf8');
  const m = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\S+)/m.exec(gomod);
  if (!m?.[1]) throw new Error('tools/kube/go.mod: no k8s.io/kubernetes requirement');
  return path.join(process.env.HYBRIDNET_CACHE ?? '/var/cache/hybridnet', `kube-${m[1]}`, 'bin');
}

/** The Kubernetes programs the sandbox runs. */
export const KUBE_PROGRAMS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'];

/**
 * Makes sure the Kubernetes binaries exist, building them with tools/kube/setup.sh on first use (≈ 11 min cold;
 * its progress lines are passed through). Returns the bin directory. @throws Error naming the setup log on failure.
 */
export async function ensureKubeBinaries(progress: Progress, logFile: string): Promise<string> {
  const dir = kubeBinDir();
  if (KUBE_PROGRAMS.every((p) => existsSync(path.join(dir, p)))) return dir;
  progress.step('building the Kubernetes binaries with tools/kube/setup.sh (first use only, ~11 min cold)');
  const { createWriteStream } = await import('node:fs');
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn('bash', [path.join(repoRoot(), 'tools/kube/setup.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (l) => {
    log.write(l + '\n');
    if (l.startsWith('[kube:setup')) progress.detail(l);
  });
  child.stderr.on('data', (c: Buffer) => log.write(c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  log.end();
  if (code !== 0) throw new Error(`tools/kube/setup.sh failed (exit ${String(code)}); see ${logFile}`);
  progress.done('Kubernetes binaries built');
  return dir;
}

/** argv prefix that runs this checkout's `hybridnet` command. */
export function hybridnetArgv(): string[] {
  return [process.execPath, path.join(repoRoot(), 'bin', 'hybridnet.mjs')];
}

/** The bundled CNI plugin (`dist/cni/hybridnet`, built by tools/build-cni.ts), if it exists. */
export function cniPluginBundle(): string {
  return path.join(repoRoot(), 'dist', 'cni', 'hybridnet');
}

/** Debian's reference CNI plugins (containernetworking-plugins). */
export const REFERENCE_PLUGIN_DIR = '/usr/lib/cni';
