/**
 * Runs the VLAN ARP checks of one pod ADD (plan: `plan/vlan-checks.ts`, SPEC §7.3 step 8): every gateway check and
 * duplicate probe at once, so the ADD waits for the slowest (≈ the duplicate probe's listening time when the gateway
 * answers at once), not for their sum.
 */
import { duplicateMessage, type VlanChecks } from '../plan/vlan-checks.ts';
import { CommandError, type Runner } from './exec.ts';

/** Exit code of `arping` when no reply came. */
const ARPING_NO_REPLY = 1;

/**
 * Runs `checks`; resolves with the refusals (empty = the pod may start). An `arping` that cannot run at all (missing
 * binary, bad interface) is a refusal naming the error for a gateway check, and only a `warn` for a duplicate probe.
 */
export async function runVlanChecks(
  runner: Runner,
  checks: VlanChecks,
  warn: (msg: string, err: unknown) => void,
): Promise<string[]> {
  const gateway = checks.gateways.map(async (g) => {
    try {
      await runner(g.cmd, g.args);
      return undefined;
    } catch (err) {
      if (err instanceof CommandError && err.exitCode === g.noReplyExit) return g.failure;
      return `${g.failure} (${g.cmd} failed: ${err instanceof Error ? err.message : String(err)})`;
    }
  });
  const dups = checks.duplicates.map(async (d) => {
    try {
      return duplicateMessage(d, await runner('arping', d.args));
    } catch (err) {
      if (!(err instanceof CommandError && err.exitCode === ARPING_NO_REPLY))
        warn(`duplicate-address probe of ${d.ip} on ${d.iface} could not run; not checked`, err);
      return undefined;
    }
  });
  const results = await Promise.all([...gateway, ...dups]);
  return [...checks.errors, ...results.filter((x): x is string => x !== undefined)];
}
