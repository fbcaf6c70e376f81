/**
 * The ARP checks of an underlay VLAN pod's IPv4 addresses at ADD (SPEC §7.3 step 8, VLAN only): the subnet gateway
 * must answer an ARP request sent from the forward interface with the pod IP as sender within `--vlan-check-timeout`,
 * and nobody may answer an RFC 5227 probe (sender 0.0.0.0) for the pod IP. Pure: what to run and how to read the
 * answers; `apply/vlan-checks.ts` runs them (in parallel).
 *
 * Tool: `arping` of Debian package `arping` (Thomas Habets' arping 2.x): `-S` sender IP, `-0` sender 0.0.0.0, `-i`
 * interface, `-c` requests, `-C` stop after that many replies, `-W` seconds between requests, `-w` deadline in
 * seconds (fractions allowed), `-r` print the MAC of each reply; exit 0 = some reply, 1 = none. IPv6 gateway: `ndisc6`
 * (Debian package `ndisc6`): a neighbour solicitation from the interface's link-local address, `-r` attempts one
 * second (`-w 1000`) apart, `-1` stop at the first advertisement; exit 0 = resolved, 2 = no answer. (The IPv6
 * DAD-style duplicate probe of the SPEC is not done.)
 */
import type { Family } from './types.ts';

/** One pod address with its subnet, as the IPInstance gives it. */
export interface VlanCheckAddress {
  family: Family;
  ip: string;
  /** `spec.address.gateway`; a VLAN address without gateway is refused. */
  gateway?: string | undefined;
  /** Subnet name (`spec.subnet`), for messages. */
  subnet: string;
}

/** A gateway check: the program (`arping` for IPv4, `ndisc6` for IPv6), its arguments, its "no reply" exit code and
 * the message when it gets no reply. */
export interface GatewayCheck {
  cmd: 'arping' | 'ndisc6';
  args: string[];
  noReplyExit: number;
  failure: string;
}

/** A duplicate probe: `arping` arguments; a reply's MAC goes into {@link duplicateMessage}. */
export interface DuplicateProbe {
  ip: string;
  iface: string;
  args: string[];
}

/** The checks of one ADD. */
export interface VlanChecks {
  gateways: GatewayCheck[];
  duplicates: DuplicateProbe[];
  /** Refusals known without sending anything (VLAN address without gateway). */
  errors: string[];
}

const secs = (ms: number): string => String(Math.round(ms) / 1000);

/**
 * Plans the VLAN checks of one pod.
 *
 * @param mode effective network mode; anything but `VLAN` ⇒ no checks.
 * @param iface the forward interface (`eth0`, `eth0.100`).
 * @param timeoutMs `--vlan-check-timeout` (3 s): deadline of the gateway check; one request per second (at least 1).
 * @param duplicateMs how long the single duplicate probe listens (0 ⇒ no probe). A host on the segment answers an ARP
 *   probe within a few ms; 200 ms is the project default, trading a rare miss of a slow responder for ADD latency.
 */
export function planVlanChecks(
  mode: string,
  iface: string,
  addresses: VlanCheckAddress[],
  timeoutMs: number,
  duplicateMs: number,
): VlanChecks {
  const out: VlanChecks = { gateways: [], duplicates: [], errors: [] };
  if (mode !== 'VLAN') return out;
  for (const a of addresses) {
    if (a.family === 6) {
      if (a.gateway && timeoutMs > 0)
        out.gateways.push({
          cmd: 'ndisc6',
          args: ['-1', '-q', '-r', String(Math.max(1, Math.ceil(timeoutMs / 1000))), '-w', '1000', a.gateway, iface],
          noReplyExit: 2,
          failure: `vlan network seems not working: gateway ${a.gateway} of subnet ${a.subnet} does not answer neighbour solicitation on ${iface} within ${secs(Math.max(1000, Math.ceil(timeoutMs / 1000) * 1000))}s`,
        });
      continue;
    }
    if (!a.gateway) {
      out.errors.push(`vlan network seems not working: subnet ${a.subnet} of pod ip ${a.ip} has no gateway`);
      continue;
    }
    if (timeoutMs > 0) {
      const count = Math.max(1, Math.ceil(timeoutMs / 1000));
      out.gateways.push({
        cmd: 'arping',
        noReplyExit: 1,
        args: [
          '-q',
          '-C',
          '1',
          '-c',
          String(count),
          '-W',
          '1',
          '-w',
          secs(timeoutMs),
          '-S',
          a.ip,
          '-i',
          iface,
          a.gateway,
        ],
        failure: `vlan network seems not working: gateway ${a.gateway} of subnet ${a.subnet} does not answer ARP on ${iface} within ${secs(timeoutMs)}s`,
      });
    }
    if (duplicateMs > 0)
      out.duplicates.push({
        ip: a.ip,
        iface,
        args: ['-r', '-0', '-c', '1', '-w', secs(duplicateMs), '-i', iface, a.ip],
      });
  }
  return out;
}

/** The refusal of a duplicated pod IP; `arpingOut` is the `-r` output (one MAC per reply). */
export function duplicateMessage(p: DuplicateProbe, arpingOut: string): string {
  const mac = arpingOut.trim().split(/\s+/)[0] || 'an unknown MAC';
  return `pod ip ${p.ip} duplicated: answered by ${mac} on ${p.iface}`;
}
