/**
 * Reads the kernel state of the current network namespace with `ip -json` / `bridge -json` and converts it into the
 * shapes of the planner and the diff (links with addresses, routes of all tables, rules, neighbours, FDB).
 */
import type { Family, LinkFacts, RuleSpec } from '../plan/types.ts';
import type { ActualFdb, ActualNeigh, ActualRoute } from './diff.ts';
import type { Runner } from './exec.ts';

interface IpAddrJson {
  ifname: string;
  mtu: number;
  address?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: {
    family: string;
    local: string;
    prefixlen: number;
    scope: string;
    noprefixroute?: boolean;
    secondary?: boolean;
  }[];
}

/** A link with its kind details (for VXLAN comparison). */
export interface LinkDetails extends LinkFacts {
  kind?: string;
  info: Record<string, unknown>;
}

function parseJson<T>(text: string): T[] {
  const t = text.trim();
  return t === '' ? [] : (JSON.parse(t) as T[]);
}

/** Every link of the namespace with addresses (`ip -json -d addr show`). */
export async function readLinks(runner: Runner): Promise<LinkDetails[]> {
  const rows = parseJson<IpAddrJson>(await runner('ip', ['-json', '-d', 'addr', 'show']));
  return rows.map((r) => ({
    name: r.ifname,
    mtu: r.mtu,
    mac: (r.address ?? '').toLowerCase(),
    kind: r.linkinfo?.info_kind,
    info: r.linkinfo?.info_data ?? {},
    addresses: (r.addr_info ?? [])
      .filter((a) => a.family === 'inet' || a.family === 'inet6')
      .map((a) => ({
        family: a.family === 'inet6' ? 6 : 4,
        ip: a.local,
        prefixLength: a.prefixlen,
        global: a.scope === 'global',
        scope: a.scope,
        ...(a.noprefixroute ? { noprefixroute: true } : {}),
        ...(a.secondary ? { secondary: true } : {}),
      })),
  }));
}

/** Routes of every numbered table of both families (`ip -4` and `ip -6`: a v6 `default` route names no family). */
export async function readRoutes(runner: Runner): Promise<ActualRoute[]> {
  const out: ActualRoute[] = [];
  for (const fam of [4, 6] as Family[]) {
    const rows = parseJson<{
      type?: string;
      dst: string;
      dev?: string;
      gateway?: string;
      prefsrc?: string;
      scope?: string;
      table?: string;
    }>(await runner('ip', [`-${fam}`, '-json', 'route', 'show', 'table', 'all']));
    for (const r of rows) {
      const table = Number(r.table ?? 'main');
      if (!Number.isInteger(table)) continue;
      out.push({
        family: fam,
        table,
        dst: r.dst,
        type: r.type ?? 'unicast',
        ...(r.dev ? { dev: r.dev } : {}),
        ...(r.gateway ? { via: r.gateway } : {}),
        ...(r.prefsrc ? { src: r.prefsrc } : {}),
        ...(r.scope ? { scope: r.scope } : {}),
      });
    }
  }
  return out;
}

/**
 * The IPv4 `local` routes of table local (`ip -4 route show table local type local`) as `dev` + plain `ip`: the kernel
 * adds one for every IPv4 address; the VLAN "ARP enhancement" deletes those of its addresses (SPEC §7.6).
 */
export async function readLocalRoutes(runner: Runner): Promise<{ dev: string; ip: string }[]> {
  const rows = parseJson<{ dst: string; dev?: string }>(
    await runner('ip', ['-4', '-json', 'route', 'show', 'table', 'local', 'type', 'local']),
  );
  return rows.filter((r) => r.dev).map((r) => ({ dev: r.dev ?? '', ip: r.dst }));
}

/** Rules of both families (numbered tables only). */
export async function readRules(runner: Runner): Promise<RuleSpec[]> {
  const out: RuleSpec[] = [];
  for (const fam of [4, 6] as Family[]) {
    const rows = parseJson<{
      priority: number;
      src: string;
      srclen?: number;
      fwmark?: string;
      fwmask?: string;
      table: string;
    }>(await runner('ip', [`-${fam}`, '-json', 'rule', 'show']));
    for (const r of rows) {
      const table = Number(r.table);
      if (!Number.isInteger(table)) continue;
      out.push({
        family: fam,
        priority: r.priority,
        from: r.src === 'all' ? 'all' : `${r.src}/${r.srclen ?? (fam === 4 ? 32 : 128)}`,
        ...(r.fwmark !== undefined ? { fwmark: Number(r.fwmark) } : {}),
        ...(r.fwmask !== undefined ? { mask: Number(r.fwmask) } : r.fwmark !== undefined ? { mask: 0xffffffff } : {}),
        table,
      });
    }
  }
  return out;
}

/** Neighbours (permanent and others) and proxy entries of both families (two `ip -json neigh` runs). */
export async function readNeighbours(runner: Runner): Promise<ActualNeigh[]> {
  const out: ActualNeigh[] = [];
  const fam = (ip: string): Family => (ip.includes(':') ? 6 : 4);
  const plain = parseJson<{ dst: string; dev: string; lladdr?: string; state?: string[] }>(
    await runner('ip', ['-json', 'neigh', 'show']),
  );
  for (const n of plain)
    out.push({
      family: fam(n.dst),
      ip: n.dst,
      dev: n.dev,
      proxy: false,
      ...(n.lladdr ? { mac: n.lladdr.toLowerCase() } : {}),
      permanent: (n.state ?? []).includes('PERMANENT'),
    });
  const proxies = parseJson<{ dst: string; dev: string }>(await runner('ip', ['-json', 'neigh', 'show', 'proxy']));
  for (const n of proxies) out.push({ family: fam(n.dst), ip: n.dst, dev: n.dev, proxy: true, permanent: true });
  return out;
}

/** FDB entries with a `dst` on `dev`. */
export async function readFdb(runner: Runner, dev: string): Promise<ActualFdb[]> {
  const rows = parseJson<{ mac: string; dst?: string }>(await runner('bridge', ['-json', 'fdb', 'show', 'dev', dev]));
  return rows.filter((r) => r.dst).map((r) => ({ mac: r.mac.toLowerCase(), dev, dst: r.dst ?? '' }));
}
