/**
 * Command runner of the applier: runs one program (iproute2, iptables-restore, ipset, nsenter) with optional stdin
 * and returns its stdout, or throws {@link CommandError} with the command line and stderr.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** A command that failed: the program, its arguments, exit code and stderr. */
export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly input?: string,
  ) {
    super(`${cmd} ${args.join(' ')} failed (exit ${exitCode}): ${stderr.trim()}${input ? `\ninput:\n${input}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Runs a program; resolves stdout; rejects with CommandError on a non-zero exit. */
export type Runner = (cmd: string, args: readonly string[], input?: string) => Promise<string>;

/** The real runner (child_process.spawn). */
export const run: Runner = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new CommandError(cmd, args, null, e.message)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError(cmd, args, code, Buffer.concat(err).toString('utf8'), input));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });

/** Runs `ip -batch -` with `lines` (no-op when empty). `prefix` e.g. `['nsenter', '--net=/x', '--']`. */
export async function ipBatch(runner: Runner, lines: string[], prefix: string[] = []): Promise<void> {
  if (lines.length === 0) return;
  const [cmd, ...args] = [...prefix, 'ip', '-batch', '-'];
  await runner(cmd ?? 'ip', args, lines.join('\n') + '\n');
}

/**
 * Writes `/proc/sys` values of the calling process's namespace where they differ; returns the paths written. Throws
 * the write's error (EACCES, ENOENT for a device that is gone, EINVAL for a value the kernel refuses).
 *
 * Synchronous inside: a `/proc/sys` read or write is a few microseconds of kernel work and never waits for a disk,
 * while each asynchronous call would cost a round trip through libuv's thread pool (an ADD writes 5–10 of them).
 */
export async function writeSysctls(values: Record<string, string>): Promise<string[]> {
  const written: string[] = [];
  for (const [p, v] of Object.entries(values)) {
    let cur: string | undefined;
    try {
      cur = readFileSync(p, 'utf8').trim();
    } catch {
      cur = undefined;
    }
    if (cur === v) continue;
    writeFileSync(p, v);
    written.push(p);
  }
  return Promise.resolve(written);
}

/**
 * The pod side of an ADD in one process: `nsenter --net=<netns> sh -c '<sysctl writes> && ip -batch -'` with the
 * batch on stdin (sysctls first: IPv6 DAD must be off before the interface goes up); `nsenter --net=<netns> ip -batch -`
 * when there are no sysctls.
 */
export async function podNamespaceSetup(
  runner: Runner,
  netns: string,
  sysctls: Record<string, string>,
  batch: string[],
): Promise<void> {
  const writes = Object.entries(sysctls).map(([p, v]) => `printf %s '${v}' > '${p}'`);
  // without sysctls (IPv4-only pods) no shell: nsenter runs ip directly
  const cmd = writes.length === 0 ? ['ip', '-batch', '-'] : ['sh', '-c', [...writes, 'exec ip -batch -'].join(' && ')];
  await runner('nsenter', [`--net=${netns}`, '--', ...cmd], batch.join('\n') + '\n');
}
