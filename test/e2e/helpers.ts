/**
 * Helpers of the sandbox e2e tests: run the real `hybridnet sandbox` command, snapshot the root network namespace,
 * list what the sandbox left behind.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubeBinDir } from '../../src/sandbox/binaries.ts';
import { listNetns } from '../../src/sandbox/exec.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(REPO, 'bin', 'hybridnet.mjs');

/** Output of a command run. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `hybridnet sandbox <args>` as a child process. */
export function sandboxCli(args: string[], timeoutMs = 600_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'sandbox', ...args],
      { timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a program and resolves stdout ('' on failure when `tolerant`). */
export function sh(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const [bin, ...args] = argv;
  return new Promise((resolve, reject) => {
    execFile(bin ?? 'false', args, { env, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** kubectl against the sandbox in `dir` (from the root namespace, through the loopback proxy). */
export function kubectl(dir: string, args: string[]): Promise<string> {
  return sh([path.join(kubeBinDir(), 'kubectl'), ...args], {
    ...process.env,
    KUBECONFIG: path.join(dir, 'kubeconfig'),
  });
}

/** Sysctls that a careless datapath could change in the root namespace (some neighbour settings are global). */
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv6/conf/all/forwarding',
  'net/ipv6/conf/default/forwarding',
  'net/ipv4/conf/all/rp_filter',
  'net/ipv4/conf/default/rp_filter',
  'net/ipv4/conf/all/arp_filter',
  'net/ipv4/neigh/default/gc_thresh1',
  'net/ipv4/neigh/default/gc_thresh2',
  'net/ipv4/neigh/default/gc_thresh3',
  'net/ipv6/neigh/default/gc_thresh1',
  'net/ipv6/neigh/default/gc_thresh2',
  'net/ipv6/neigh/default/gc_thresh3',
  'net/ipv6/route/max_size',
  'net/ipv6/route/gc_thresh',
];

/**
 * The root namespace's network state: links, addresses, routes and rules (both families), iptables and ip6tables
 * rules (packet counters stripped), and the sysctls above.
 */
export async function rootSnapshot(): Promise<Record<string, string>> {
  const snap: Record<string, string> = {};
  const cmds: Record<string, string[]> = {
    link: ['ip', '-json', 'link'],
    addr: ['ip', '-json', 'addr'],
    route4: ['ip', '-json', '-4', 'route', 'show', 'table', 'all'],
    route6: ['ip', '-json', '-6', 'route', 'show', 'table', 'all'],
    rule4: ['ip', '-json', '-4', 'rule'],
    rule6: ['ip', '-json', '-6', 'rule'],
    iptables: ['iptables-save'],
    ip6tables: ['ip6tables-save'],
  };
  for (const [k, argv] of Object.entries(cmds)) {
    const out = await sh(argv).catch((e: Error) => `ERROR ${e.message}`);
    snap[k] = out
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[*]'))
      .join('\n');
  }
  for (const s of SYSCTLS) {
    try {
      snap[`sysctl ${s}`] = readFileSync(`/proc/sys/${s}`, 'utf8').trim();
    } catch {
      snap[`sysctl ${s}`] = 'absent';
    }
  }
  return snap;
}

/** Network namespaces with `prefix`. */
export async function netnsWithPrefix(prefix: string): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith(prefix));
}

/** PIDs of live processes whose command line names `dir` (scans /proc). */
export function processesNaming(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(dir)) out.push(Number(e));
    } catch {
      // exited
    }
  }
  return out;
}

/** Free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
