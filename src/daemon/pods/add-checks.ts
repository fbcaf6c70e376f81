/**
 * The checks and announcements of pod ADD (SPEC §7.3 steps 8–10): the VLAN gateway / duplicate-address ARP checks,
 * the gratuitous ARP and unsolicited neighbour advertisement of underlay pods, and the ping from the node. Sends
 * packets; writes no table.
 */
import type { IPInstance } from '../../api/index.ts';
import { runVlanChecks } from '../apply/vlan-checks.ts';
import { CniRequestError } from '../config.ts';
import { familyOf, plainIP } from '../plan/network.ts';
import { planGratuitousArp, planUnsolicitedNa, type PodAddress } from '../plan/pod.ts';
import type { NodeFacts } from '../plan/types.ts';
import { planVlanChecks } from '../plan/vlan-checks.ts';
import type { PodContext } from './context.ts';

/** Starts the VLAN gateway / duplicate-IP ARP checks of an ADD (SPEC §7.3 step 8); resolves with the refusals. */
export function startVlanChecks(
  ctx: PodContext,
  who: string,
  mode: string,
  fwd: string,
  instances: IPInstance[],
): Promise<string[]> {
  const checks = planVlanChecks(
    mode,
    fwd,
    instances.map((i) => ({
      family: familyOf(i.spec.address.version),
      ip: plainIP(i.spec.address.ip),
      gateway: i.spec.address.gateway ?? undefined,
      subnet: i.spec.subnet,
    })),
    ctx.config.vlanCheckTimeoutMs,
    ctx.config.vlanDuplicateProbeMs,
  );
  return runVlanChecks(ctx.runner, checks, (msg, err) => ctx.logger.warn({ pod: who, err }, msg));
}

/**
 * Gratuitous ARP and unsolicited neighbour advertisements of an underlay pod on `fwd` (SPEC §7.3 step 9), one
 * after the other; failures are logged (arping exits 1 when nobody answers, the normal outcome of an announcement).
 */
export async function announcePod(
  ctx: PodContext,
  who: string,
  mode: string,
  fwd: string,
  addresses: PodAddress[],
): Promise<void> {
  for (const args of planGratuitousArp(mode, fwd, addresses))
    await ctx
      .runner('arping', args)
      .catch((err: unknown) => ctx.logger.debug({ pod: who, err: String(err) }, 'gratuitous ARP'));
  for (const args of planUnsolicitedNa(mode, fwd, addresses))
    await ctx
      .runner('na6', args)
      .catch((err: unknown) =>
        ctx.logger.warn({ pod: who, err: String(err) }, 'unsolicited neighbour advertisement failed'),
      );
}

/**
 * SPEC §7.3 step 10: one privileged ping per family with a global node address, done at the first reply, 5 s
 * deadline (`ping -c1 -i0.2 -w5`: one process instead of one per echo; echoes 200 ms apart instead of 1 s, so that
 * one lost first echo costs 0.2 s, not 1 s).
 * @throws CniRequestError code 100 naming the pod and the address that did not answer.
 */
export async function checkFromHost(
  ctx: PodContext,
  who: string,
  addresses: { family: 4 | 6; ip: string }[],
  facts: NodeFacts,
): Promise<void> {
  await Promise.all(
    addresses.map(async (a) => {
      const hostHas = facts.links.some((l) => l.addresses.some((x) => x.global && x.family === a.family));
      if (!hostHas) return;
      const t0 = performance.now();
      const out = await ctx.runner('ping', [`-${a.family}`, '-c1', '-i0.2', '-w5', a.ip]).catch((err: unknown) => {
        throw new CniRequestError(
          500,
          100,
          `pod ${who}: ${a.ip} does not answer ping from the node within 5s: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
      const tookMs = Math.round(performance.now() - t0);
      // a late first answer (lost echoes, neighbour resolution retried) is worth knowing about
      if (tookMs > 500)
        ctx.logger.warn(
          { pod: who, ip: a.ip, tookMs, ping: out.trim().split('\n').slice(-2) },
          'pod answered the node late',
        );
    }),
  );
}
