/**
 * Command running for the sandbox: short commands (`ip`, `sysctl`, `kubectl`) with captured output, and
 * long-running components started detached inside a network namespace with a log file and a pidfile, stopped
 * later by PID only (never by name).
 *
 * Long-running processes enter a namespace with `nsenter --net=/run/netns/<name>` rather than `ip netns exec`:
 * the latter also unshares the mount namespace, so network namespaces a component creates (the kubelet stand-in
 * creates one per pod) would be invisible to the daemon and to `ip netns list`.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A command that failed: argv, exit code and stderr. */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed (exit ${String(code)}): ${stderr.trim()}`);
    this.name = 'CommandError';
  }
}

/** Runs `argv` and resolves stdout. @throws CommandError on a non-zero exit. */
export function run(
  argv: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const [bin, ...args] = argv;
  if (bin === undefined) return Promise.reject(new Error('run: empty argv'));
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      { env: opts.env ?? process.env, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          reject(new CommandError(argv, code, stderr || err.message));
        } else resolve(stdout);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs `ip <args>` inside `netns` (`ip -n`). */
export function ipIn(netns: string, args: readonly string[]): Promise<string> {
  return run(['ip', '-n', netns, ...args]);
}

/** Runs a short command inside `netns` (`ip netns exec`): sysctl writes, ping, socat clients. */
export function execIn(netns: string, argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return run(['ip', 'netns', 'exec', netns, ...argv], opts);
}

/** Path of a named network namespace. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Network namespaces that exist now (`ip netns list` names). */
export async function listNetns(): Promise<string[]> {
  const out = await run(['ip', '-json', 'netns', 'list']).catch(() => '');
  if (out.trim() === '') return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

/** The pidfile directory under the state dir. */
export function pidDir(stateDir: string): string {
  return path.join(stateDir, 'pids');
}

/** The log directory under the state dir. */
export function logDir(stateDir: string): string {
  return path.join(stateDir, 'logs');
}

/** A long-running component started by {@link startDetached}. */
export interface Started {
  name: string;
  pid: number;
  logFile: string;
}

/**
 * Starts `argv` detached (own session, survives the caller), inside `netns` if given, with stdout+stderr appended to
 * `<dir>/logs/<name>.log` and the PID written to `<dir>/pids/<name>.pid`.
 */
export async function startDetached(
  stateDir: string,
  name: string,
  argv: readonly string[],
  opts: { netns?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Started> {
  await mkdir(logDir(stateDir), { recursive: true });
  await mkdir(pidDir(stateDir), { recursive: true });
  const logFile = path.join(logDir(stateDir), `${name}.log`);
  const full = opts.netns ? ['nsenter', `--net=${netnsPath(opts.netns)}`, ...argv] : [...argv];
  const fd = openSync(logFile, 'a');
  try {
    const [bin, ...args] = full;
    const child = spawn(bin ?? 'false', args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`${name}: spawn of ${full.join(' ')} failed`);
    child.unref();
    await writeFile(path.join(pidDir(stateDir), `${name}.pid`), `${child.pid}\n`);
    return { name, pid: child.pid, logFile };
  } finally {
    closeSync(fd);
  }
}

/** True if `pid` is alive (and not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The command line of `pid` ('' if gone). */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The inode of `pid`'s network namespace, or undefined. */
export function netnsInodeOf(pid: number): number | undefined {
  try {
    const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`));
    return m?.[1] ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Inodes of the named network namespaces (those that still exist). */
export function netnsInodes(names: readonly string[]): Set<number> {
  const s = new Set<number>();
  for (const n of names) {
    try {
      s.add(statSync(netnsPath(n)).ino);
    } catch {
      // gone
    }
  }
  return s;
}

/** PIDs of every process whose network namespace is one of `inodes` (processes the sandbox started in its namespaces). */
export function pidsInNetns(inodes: ReadonlySet<number>): number[] {
  const out: number[] = [];
  if (inodes.size === 0) return out;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const ino = netnsInodeOf(pid);
    if (ino !== undefined && inodes.has(ino)) out.push(pid);
  }
  return out;
}

/** Pidfile entries: component name → PID. */
export function readPidfiles(stateDir: string): Map<string, number> {
  const m = new Map<string, number>();
  const d = pidDir(stateDir);
  if (!existsSync(d)) return m;
  for (const f of readdirSync(d)) {
    if (!f.endsWith('.pid')) continue;
    const pid = Number(readFileSync(path.join(d, f), 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) m.set(f.slice(0, -4), pid);
  }
  return m;
}

/** Sends `signal` to `pid`, ignoring "no such process". */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM each PID, wait up to `graceMs`, then SIGKILL the survivors; resolves when all are gone. */
export async function stopPids(pids: readonly number[], graceMs = 5000): Promise<void> {
  for (const p of pids) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(100);
  for (const p of pids.filter(alive)) signal(p, 'SIGKILL');
  const hard = Date.now() + 3000;
  while (pids.some(alive) && Date.now() < hard) await sleep(50);
}

/** Removes a pidfile. */
export async function removePidfile(stateDir: string, name: string): Promise<void> {
  await rm(path.join(pidDir(stateDir), `${name}.pid`), { force: true });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last `lines` lines of a file ('' if unreadable). */
export function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}
