/**
 * Pure diff of desired vs actual kernel state into iproute2 batch lines (SPEC §7.4–7.9). The actual state is what
 * `ip -json` / `bridge -json` printed, already parsed by `read.ts`. Applying the lines and diffing again yields no
 * lines (idempotence). Only objects the daemon owns are ever deleted: routes in its tables, rules pointing at them,
 * permanent/proxy neighbours and `dst` FDB entries on its devices.
 */
import { cidrContains, parseCIDR, tryParseIP } from '../../net/index.ts';
import type { FdbSpec, Family, NeighSpec, RouteSpec, RuleSpec } from '../plan/types.ts';

/** A route as read from the kernel. */
export interface ActualRoute {
  family: Family;
  table: number;
  dst: string;
  type: string;
  dev?: string;
  via?: string;
  src?: string;
  scope?: string;
}

/** Normalises a destination: host prefixes lose their `/32` `/128`, `default` stays. */
export function normDst(dst: string): string {
  if (dst.endsWith('/32') && !dst.includes(':')) return dst.slice(0, -3);
  if (dst.endsWith('/128')) return dst.slice(0, -4);
  return dst;
}

function routeKey(r: { family: Family; table: number; dst: string }): string {
  return `${r.family}|${r.table}|${normDst(r.dst)}`;
}

function routeLine(r: RouteSpec): string {
  const parts = ['route', 'replace'];
  if (r.type === 'throw') parts.push('throw');
  parts.push(r.dst);
  if (r.via) parts.push('via', r.via);
  if (r.dev) parts.push('dev', r.dev);
  if (r.scope) parts.push('scope', r.scope);
  if (r.src) parts.push('src', r.src);
  parts.push('table', String(r.table));
  return (r.family === 6 ? '-6 ' : '') + parts.join(' ');
}

function sameRoute(d: RouteSpec, a: ActualRoute): boolean {
  return (
    (d.type === 'throw') === (a.type === 'throw') &&
    (d.dev ?? '') === (a.type === 'throw' ? '' : (a.dev ?? '')) &&
    (d.via ?? '') === (a.via ?? '') &&
    (d.src === undefined || d.src === a.src)
  );
}

/** Lines that make the owned tables hold exactly `desired`. */
export function diffRoutes(desired: RouteSpec[], actual: ActualRoute[], ownedTables: number[]): string[] {
  const owned = new Set(ownedTables);
  const want = new Map(desired.map((r) => [routeKey(r), r]));
  const lines: string[] = [];
  const have = new Map<string, ActualRoute>();
  for (const a of actual) {
    if (!owned.has(a.table)) continue;
    const k = routeKey(a);
    have.set(k, a);
    if (!want.has(k))
      lines.push(
        `${a.family === 6 ? '-6 ' : ''}route del ${a.type === 'throw' ? 'throw ' : ''}${a.dst} table ${a.table}`,
      );
  }
  for (const [k, d] of want) {
    const a = have.get(k);
    if (!a || !sameRoute(d, a)) lines.push(routeLine(d));
  }
  return lines;
}

function ruleKey(r: RuleSpec): string {
  const mark = r.fwmark !== undefined || r.mask !== undefined ? `${r.fwmark ?? 0}/${r.mask ?? 0xffffffff}` : '';
  return `${r.family}|${r.from}|${mark}|${r.table}`;
}

function ruleSelector(r: RuleSpec): string {
  const parts = [`from ${r.from}`];
  if (r.fwmark !== undefined || r.mask !== undefined)
    parts.push(`fwmark 0x${(r.fwmark ?? 0).toString(16)}/0x${(r.mask ?? 0xffffffff).toString(16)}`);
  parts.push(`table ${r.table}`);
  return parts.join(' ');
}

/**
 * Lines that make the rules pointing at owned tables (and per-subnet rules with the 0x4040 mask) exactly `desired`.
 * Existing rules keep their priority; a new rule gets the lowest priority > 0 that no rule uses (SPEC §7.4).
 */
export function diffRules(desired: RuleSpec[], actual: RuleSpec[], isOwned: (r: RuleSpec) => boolean): string[] {
  const lines: string[] = [];
  const want = new Map(desired.map((r) => [ruleKey(r), r]));
  const have = new Set<string>();
  const used = new Set<number>();
  for (const a of actual) {
    if (a.priority !== undefined) used.add(a.priority);
    const k = ruleKey(a);
    if (want.has(k)) {
      if (have.has(k) && a.priority !== undefined)
        lines.push(`${a.family === 6 ? '-6 ' : ''}rule del priority ${a.priority} ${ruleSelector(a)}`);
      have.add(k);
    } else if (isOwned(a) && a.priority !== undefined)
      lines.push(`${a.family === 6 ? '-6 ' : ''}rule del priority ${a.priority} ${ruleSelector(a)}`);
  }
  const nextPrio: Record<Family, number> = { 4: 1, 6: 1 };
  const usedBy: Record<Family, Set<number>> = { 4: new Set(), 6: new Set() };
  for (const a of actual) if (a.priority !== undefined) usedBy[a.family].add(a.priority);
  for (const [k, d] of want) {
    if (have.has(k)) continue;
    let p = d.priority;
    if (p === undefined) {
      while (usedBy[d.family].has(nextPrio[d.family])) nextPrio[d.family]++;
      p = nextPrio[d.family];
    }
    usedBy[d.family].add(p);
    lines.push(`${d.family === 6 ? '-6 ' : ''}rule add priority ${p} ${ruleSelector(d)}`);
  }
  return lines;
}

/** A neighbour as read from the kernel (`proxy` from `ip neigh show proxy`). */
export interface ActualNeigh {
  family: Family;
  ip: string;
  dev: string;
  proxy: boolean;
  mac?: string;
  permanent: boolean;
}

/** Lines that make the permanent and proxy neighbours of `ownedDevs` exactly `desired`. */
export function diffNeighbours(desired: NeighSpec[], actual: ActualNeigh[], ownedDevs: string[]): string[] {
  const owned = new Set(ownedDevs);
  const key = (n: { proxy: boolean; dev: string; ip: string }): string => `${n.proxy ? 'p' : 'n'}|${n.dev}|${n.ip}`;
  const want = new Map(desired.map((n) => [key(n), n]));
  const lines: string[] = [];
  const have = new Map<string, ActualNeigh>();
  for (const a of actual) {
    if (!owned.has(a.dev)) continue;
    if (!a.proxy && !a.permanent) continue;
    const k = key(a);
    have.set(k, a);
    if (!want.has(k)) lines.push(`neigh del ${a.proxy ? 'proxy ' : ''}${a.ip} dev ${a.dev}`);
  }
  for (const [k, d] of want) {
    const a = have.get(k);
    if (d.proxy) {
      if (!a) lines.push(`neigh replace proxy ${d.ip} dev ${d.dev}`);
    } else if (!a || a.mac !== d.mac) lines.push(`neigh replace ${d.ip} lladdr ${d.mac} dev ${d.dev} nud permanent`);
  }
  return lines;
}

/** An FDB entry with a `dst`, as read from the kernel. */
export interface ActualFdb {
  mac: string;
  dev: string;
  dst: string;
}

/**
 * `bridge -batch` lines that make the `dst` FDB entries of `devs` exactly `desired`; with `prune` false entries not
 * desired are kept (SPEC §7.8 step 6 guard) and only missing ones are added.
 */
export function diffFdb(desired: FdbSpec[], actual: ActualFdb[], devs: string[], prune = true): string[] {
  const owned = new Set(devs);
  const key = (f: FdbSpec | ActualFdb): string => `${f.dev}|${f.mac}|${f.dst}`;
  const want = new Set(desired.map(key));
  const have = new Set<string>();
  const lines: string[] = [];
  for (const a of actual) {
    if (!owned.has(a.dev)) continue;
    have.add(key(a));
    if (prune && !want.has(key(a))) lines.push(`fdb del ${a.mac} dev ${a.dev} dst ${a.dst} self`);
  }
  for (const d of desired)
    if (!have.has(key(d))) lines.push(`fdb append ${d.mac} dev ${d.dev} dst ${d.dst} self permanent`);
  return lines;
}

/** A global address on a device, as read from the kernel. */
export interface ActualAddress {
  dev: string;
  ip: string;
  prefixLength: number;
}

/**
 * `ip -batch` lines that make the global addresses of `devs` exactly `desired` (SPEC §7.8 step 5: node-local addresses
 * on the VXLAN device, `noprefixroute`, others removed). Link-local addresses are not in `actual` and never touched.
 */
export function diffAddresses(
  desired: { dev: string; cidr: string }[],
  actual: ActualAddress[],
  devs: string[],
): string[] {
  const owned = new Set(devs);
  const want = new Set(desired.filter((d) => owned.has(d.dev)).map((d) => `${d.dev}|${d.cidr}`));
  const have = new Set<string>();
  const lines: string[] = [];
  for (const a of actual) {
    if (!owned.has(a.dev)) continue;
    const k = `${a.dev}|${a.ip}/${a.prefixLength}`;
    have.add(k);
    if (!want.has(k)) lines.push(`addr del ${a.ip}/${a.prefixLength} dev ${a.dev}`);
  }
  for (const d of desired)
    if (owned.has(d.dev) && !have.has(`${d.dev}|${d.cidr}`))
      lines.push(`addr replace ${d.cidr} dev ${d.dev} noprefixroute`);
  return lines;
}

/** An IPv4 address of a link with the flags the VLAN "ARP enhancement" looks at, as read from the kernel. */
export interface ActualFlaggedAddress {
  dev: string;
  family: Family;
  ip: string;
  prefixLength: number;
  /** iproute2 scope name (`global`, `link`, `host`). */
  scope?: string;
  noprefixroute?: boolean;
  secondary?: boolean;
}

/**
 * True when `a` looks like an address the VLAN "ARP enhancement" added (SPEC §7.6): IPv4, `noprefixroute`, not
 * `secondary`, scope link, and without a `local` route in table local (`localRoutes` holds `dev|ip` keys).
 */
export function isEnhancedAddress(a: ActualFlaggedAddress, localRoutes: Set<string>): boolean {
  return (
    a.family === 4 && !!a.noprefixroute && !a.secondary && a.scope === 'link' && !localRoutes.has(`${a.dev}|${a.ip}`)
  );
}

/**
 * `ip -batch` lines of the VLAN "ARP enhancement" (SPEC §7.6): delete stale enhanced addresses (see
 * {@link isEnhancedAddress}) lying inside one of `plan.subnets` that are not wanted — never an address of `plan.keep`
 * nor any other address; then add each wanted address missing on an existing link (`addr replace … noprefixroute
 * scope link`) and delete the kernel's `local` route of each wanted address that has one (else the node would take
 * the pod's traffic for itself). Deletions come first: the new address of a subnet becomes its primary, not a
 * secondary that the deletion of the old primary would take with it.
 *
 * @param actual every IPv4 address of the namespace's links (other families are ignored).
 * @param localRoutes the `local` routes of table local (`readLocalRoutes`).
 * @param devs names of the links that exist now (wanted addresses on other links wait for the link).
 * @throws InvalidCIDRError when `plan.subnets` holds an invalid CIDR (the planner passes only parsed ones).
 */
export function diffArpEnhancement(
  plan: { addresses: { dev: string; ip: string; prefixLength: number }[]; subnets: string[]; keep: string[] },
  actual: ActualFlaggedAddress[],
  localRoutes: { dev: string; ip: string }[],
  devs: string[],
): string[] {
  const local = new Set(localRoutes.map((r) => `${r.dev}|${r.ip}`));
  const exists = new Set(devs);
  const want = new Map(plan.addresses.map((a) => [`${a.dev}|${a.ip}/${a.prefixLength}`, a]));
  const keep = new Set(plan.keep);
  const subnets = plan.subnets.map((c) => parseCIDR(c)).filter((c) => c.family === 4);
  const inSubnet = (ip: string): boolean => {
    const p = tryParseIP(ip);
    return !!p && subnets.some((s) => cidrContains(s, p));
  };
  const dels: string[] = [];
  const adds: string[] = [];
  const have = new Set<string>();
  for (const a of actual) {
    if (a.family !== 4) continue;
    const k = `${a.dev}|${a.ip}/${a.prefixLength}`;
    if (want.has(k)) {
      have.add(k);
      if (local.has(`${a.dev}|${a.ip}`)) adds.push(`route del local ${a.ip} dev ${a.dev} table local`);
    } else if (isEnhancedAddress(a, local) && !keep.has(a.ip) && inSubnet(a.ip))
      dels.push(`addr del ${a.ip}/${a.prefixLength} dev ${a.dev}`);
  }
  for (const [k, d] of want) {
    if (have.has(k) || !exists.has(d.dev)) continue;
    adds.push(
      `addr replace ${d.ip}/${d.prefixLength} dev ${d.dev} noprefixroute scope link`,
      `route del local ${d.ip} dev ${d.dev} table local`,
    );
  }
  return [...dels, ...adds];
}
