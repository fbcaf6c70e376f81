/**
 * Start-up work of the daemon in its node namespace (SPEC §7.1, §7.10): refuse to start when the fixed route tables
 * hold someone else's routes or a prefer flag names no interface of the node, and remove the legacy `RAMA-*` chains
 * once per process.
 */
import { isContainerInterface } from '../plan/host.ts';
import {
  foreignTableRoute,
  legacyChainCleanup,
  missingPreferredInterfaces,
  type OwnedTables,
  type PreferFlag,
} from '../plan/startup.ts';
import type { Runner } from './exec.ts';
import { readLinks, readRoutes } from './read.ts';

/** Thrown when a fixed table is used by another program; the daemon exits with this message. */
export class TableInUseError extends Error {
  constructor(message: string) {
    super(
      `${message}; hybridnet owns this table (flags --local-direct-table / --to-overlay-table / --overlay-mark-table): remove the route or give hybridnet other table numbers`,
    );
    this.name = 'TableInUseError';
  }
}

/** Reads the routes and links and throws {@link TableInUseError} on the first foreign route (SPEC §7.1). */
export async function checkOwnedTables(runner: Runner, tables: OwnedTables): Promise<void> {
  const links = await readLinks(runner);
  const msg = foreignTableRoute(await readRoutes(runner), tables, new Map(links.map((l) => [l.name, l.kind])));
  if (msg) throw new TableInUseError(msg);
}

/** Thrown when a `--prefer-*-interfaces` list names no interface of the node; the daemon exits with this message. */
export class PreferredInterfaceMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreferredInterfaceMissingError';
  }
}

/**
 * Reads the links and throws {@link PreferredInterfaceMissingError} when a non-empty prefer list names no existing
 * interface (issue #16: a typo must not put VXLAN or VLAN on the default-route interface without a word).
 */
export async function checkPreferredInterfaces(runner: Runner, flags: PreferFlag[]): Promise<void> {
  if (flags.every((f) => f.interfaces.length === 0)) return;
  const links = await readLinks(runner);
  const msg = missingPreferredInterfaces(
    flags,
    links.map((l) => l.name),
    isContainerInterface,
  );
  if (msg) throw new PreferredInterfaceMissingError(msg);
}

/**
 * Deletes the legacy `RAMA-POSTROUTING/FORWARD/PREROUTING` chains and the rules jumping to them, IPv4 and (unless
 * `ipv6` is false) IPv6 (SPEC §7.10). Returns the families where something was removed.
 */
export async function removeLegacyChains(runner: Runner, ipv6: boolean): Promise<number[]> {
  const done: number[] = [];
  for (const fam of ipv6 ? [4, 6] : [4]) {
    const bin = fam === 6 ? 'ip6tables' : 'iptables';
    const input = legacyChainCleanup(await runner(`${bin}-save`, []));
    if (!input) continue;
    await runner(`${bin}-restore`, ['--noflush'], input);
    done.push(fam);
  }
  return done;
}
