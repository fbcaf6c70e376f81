/**
 * Host facts of the node namespace beyond links and rules (SPEC §7.1): whether IPv6 is disabled and which interface
 * holds an IPv6 default route learnt from a router advertisement.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Runner } from './exec.ts';

async function readTrim(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * True when IPv6 is disabled (SPEC §7.1): `/sys/module/ipv6/parameters/disable` = 1, or
 * `/proc/sys/net/ipv6/conf/all/disable_ipv6` = 1 or absent.
 */
export async function ipv6Disabled(): Promise<boolean> {
  if ((await readTrim('/sys/module/ipv6/parameters/disable')) === '1') return true;
  const all = await readTrim('/proc/sys/net/ipv6/conf/all/disable_ipv6');
  return all === undefined || all === '1';
}

/**
 * The device of the first IPv6 default route whose protocol is `ra` (`ip -6 -json route show default`), else
 * undefined. A failing `ip` counts as none (logged by the caller's reconcile when `ip` itself is broken).
 */
export async function raDefaultRouteDev(runner: Runner): Promise<string | undefined> {
  const out = await runner('ip', ['-6', '-json', 'route', 'show', 'default']).catch(() => '[]');
  const rows = JSON.parse(out.trim() || '[]') as { dev?: string; protocol?: string; nexthops?: { dev?: string }[] }[];
  const ra = rows.find((r) => r.protocol === 'ra');
  return ra?.dev ?? ra?.nexthops?.[0]?.dev;
}

/**
 * True when the process runs in the machine's initial network namespace: `/proc/sys/net/core/netdev_max_backlog` is
 * registered for init_net only (Linux `net_core_table`). Used to leave the machine-wide ARP/ND gc thresholds
 * (`net.ipv{4,6}.neigh.default.gc_thresh*` are one value per kernel, not per namespace) alone when the daemon runs in
 * a namespace of its own, as in the node-namespace tests and the sandbox.
 */
export function inInitialNetns(): boolean {
  return existsSync('/proc/sys/net/core/netdev_max_backlog');
}
