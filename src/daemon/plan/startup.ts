/**
 * Pure start-up decisions of the node daemon: whether the policy-routing tables it owns hold someone else's routes
 * (SPEC §7.1) and how to remove the chains of the project's former name (SPEC §7.10 "once per process").
 */
import type { ActualRoute } from '../apply/diff.ts';

/** The three fixed tables (`--local-direct-table`, `--to-overlay-table`, `--overlay-mark-table`). */
export interface OwnedTables {
  localDirectTable: number;
  toOverlayTable: number;
  overlayMarkTable: number;
}

/** A route in `ip route` notation, for messages. */
export function formatRoute(r: ActualRoute): string {
  const parts: string[] = [];
  if (r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dst);
  if (r.via) parts.push('via', r.via);
  if (r.dev) parts.push('dev', r.dev);
  if (r.scope && r.scope !== 'global') parts.push('scope', r.scope);
  if (r.src) parts.push('src', r.src);
  parts.push('table', String(r.table));
  return (r.family === 6 ? '-6 ' : '') + parts.join(' ');
}

const isHost = (r: ActualRoute): boolean => !r.dst.includes('/') || r.dst.endsWith(r.family === 6 ? '/128' : '/32');

/**
 * Checks that the fixed tables hold only routes hybridnet makes (SPEC §7.1): the local-direct table only `/32` `/128`
 * device routes on veths; the to-overlay table only routes on a VXLAN device or `throw` routes; the overlay-mark table
 * at most one route per family, `default dev <vxlan>`.
 *
 * @param linkKinds link name → iproute2 kind (`veth`, `vxlan`, …) of the node namespace.
 * @returns the refusal message `table N is used by others: <route>` for the first foreign route, else undefined.
 */
export function foreignTableRoute(
  routes: ActualRoute[],
  tables: OwnedTables,
  linkKinds: Map<string, string | undefined>,
): string | undefined {
  const kind = (dev: string | undefined): string | undefined => (dev ? linkKinds.get(dev) : undefined);
  const perFamilyMark = new Map<number, number>();
  for (const r of routes) {
    let ok = true;
    if (r.table === tables.localDirectTable) {
      ok = r.type === 'unicast' && !r.via && isHost(r) && kind(r.dev) === 'veth';
    } else if (r.table === tables.toOverlayTable) {
      ok = r.type === 'throw' || (r.type === 'unicast' && !r.via && kind(r.dev) === 'vxlan');
    } else if (r.table === tables.overlayMarkTable) {
      const n = (perFamilyMark.get(r.family) ?? 0) + 1;
      perFamilyMark.set(r.family, n);
      ok = n === 1 && r.type === 'unicast' && r.dst === 'default' && !r.via && kind(r.dev) === 'vxlan';
    } else continue;
    if (!ok) return `table ${r.table} is used by others: ${formatRoute(r)}`;
  }
  return undefined;
}

/** Chains of the project's former name (SPEC §7.10): removed once per process with their hook rules. */
export const LEGACY_CHAINS = ['RAMA-POSTROUTING', 'RAMA-FORWARD', 'RAMA-PREROUTING'];

/**
 * The `iptables-restore --noflush` input removing the legacy chains found in `saved` (`iptables-save` output of one
 * family) — first every rule of another chain jumping to one of them (`-D` of the saved rule, so nothing else is
 * touched), then `-F` and `-X` of each. Returns undefined when there is none.
 */
export function legacyChainCleanup(saved: string): string | undefined {
  const out: string[] = [];
  let table = '';
  let body: string[] = [];
  const flush = (): void => {
    if (table && body.length > 0) out.push(`*${table}`, ...body, 'COMMIT');
    body = [];
  };
  const chains: string[] = [];
  const hooks: string[] = [];
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) {
      flush();
      table = line.slice(1).trim();
      chains.length = 0;
      hooks.length = 0;
    } else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0] ?? '';
      if (LEGACY_CHAINS.includes(name)) chains.push(name);
    } else if (line.startsWith('-A ')) {
      const [, chain] = line.split(' ');
      const target = / -[jg] (\S+)/.exec(line)?.[1];
      if (!LEGACY_CHAINS.includes(chain ?? '') && target && LEGACY_CHAINS.includes(target))
        hooks.push(`-D ${line.slice(3)}`);
    } else if (line.startsWith('COMMIT')) {
      body = [...hooks, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`)];
      flush();
      table = '';
    }
  }
  return out.length > 0 ? out.join('\n') + '\n' : undefined;
}

/** A `--prefer-*-interfaces` flag as the daemon was started with it. */
export interface PreferFlag {
  /** The flag's name, e.g. `--prefer-vxlan-interfaces`. */
  flag: string;
  /** Its interfaces in order; empty means "the default-route interface". */
  interfaces: string[];
}

/**
 * The refusal for prefer flags of which no interface exists on the node, or undefined when each non-empty list names
 * at least one existing interface. Without it a typo (`--prefer-vxlan-interfaces=eth9`) silently put VXLAN or VLAN on
 * the default-route interface; the original refuses to start (issue #16). `existing` are the node's interface names;
 * container-side veths are left out of the message.
 */
export function missingPreferredInterfaces(
  flags: PreferFlag[],
  existing: string[],
  isContainerInterface: (name: string) => boolean,
): string | undefined {
  const have = new Set(existing);
  const bad = flags.filter((f) => f.interfaces.length > 0 && !f.interfaces.some((i) => have.has(i)));
  if (bad.length === 0) return undefined;
  const shown = existing.filter((n) => !isContainerInterface(n)).sort();
  return (
    bad.map((f) => `${f.flag}=${f.interfaces.join(',')}: none of these interfaces exists on this node`).join('; ') +
    ` (its interfaces: ${shown.join(', ') || 'none'}); name an existing interface, or leave the flag empty to use the default-route interface`
  );
}
