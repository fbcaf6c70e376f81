/**
 * Reading the node's facts for the planner (SPEC §7.2): links with their addresses, policy rules, the chosen VXLAN /
 * VLAN / BGP parent interfaces, the IPv6 RA default-route device. Reads only; writes no kernel state.
 */
import { raDefaultRouteDev } from '../apply/host.ts';
import type { Runner } from '../apply/exec.ts';
import { readLinks, readRules } from '../apply/read.ts';
import type { LinkFacts, NodeFacts } from '../plan/types.ts';

/**
 * Picks the first existing interface of `prefer`, else the interface of the IPv4 then IPv6 default route.
 * `defaultDevs`, when given, is the result of {@link defaultRouteDevices} read once for several choices.
 */
export async function chooseInterface(
  runner: Runner,
  prefer: string[],
  links: LinkFacts[],
  defaultDevs?: Promise<(string | undefined)[]>,
): Promise<string | undefined> {
  for (const p of prefer) if (links.some((l) => l.name === p)) return p;
  const devs = await (defaultDevs ?? defaultRouteDevices(runner));
  return devs.find((d) => d !== undefined);
}

/** The devices of the IPv4 and IPv6 default routes of the main table (`ip -json route show default`, both at once). */
export function defaultRouteDevices(runner: Runner): Promise<(string | undefined)[]> {
  return Promise.all(
    ['-4', '-6'].map(async (fam) => {
      const out = await runner('ip', [fam, '-json', 'route', 'show', 'default']).catch(() => '[]');
      const rows = JSON.parse(out.trim() || '[]') as { dev?: string }[];
      return rows.find((r) => r.dev)?.dev;
    }),
  );
}

/** What {@link readNodeFacts} needs besides the kernel: flags and what the daemon knows of its Node. */
export interface FactsInput {
  nodeName: string;
  preferVxlanInterfaces: string[];
  preferVlanInterfaces: string[];
  preferBgpInterfaces: string[];
  /** True when the cluster has a BGP network: only then is the BGP interface looked up (asked after the reads). */
  needBgpParent: () => boolean;
  /** The Node's `status.addresses` values (SPEC §7.8 step 2), when known (asked last, as fresh as possible). */
  nodeAddresses: () => string[] | undefined;
  ipv6Disabled: boolean;
}

/** Reads the node's facts (links, rules, chosen interfaces); the reads run concurrently. */
export async function readNodeFacts(runner: Runner, input: FactsInput): Promise<NodeFacts> {
  const [links, currentRules, raDev] = await Promise.all([
    readLinks(runner),
    readRules(runner),
    input.ipv6Disabled ? undefined : raDefaultRouteDev(runner),
  ]);
  let defaults: Promise<(string | undefined)[]> | undefined;
  const lazyDefaults = (): Promise<(string | undefined)[]> => (defaults ??= defaultRouteDevices(runner));
  const needDefaults = (prefer: string[]): boolean => !prefer.some((p) => links.some((l) => l.name === p));
  // only clusters with BGP networks pay for the BGP interface look-up
  const prefers = [input.preferVxlanInterfaces, input.preferVlanInterfaces];
  if (input.needBgpParent()) prefers.push(input.preferBgpInterfaces);
  const [vxlanParent, vlanParent, bgpParent] = await Promise.all(
    prefers.map((prefer) => chooseInterface(runner, prefer, links, needDefaults(prefer) ? lazyDefaults() : undefined)),
  );
  const nodeAddresses = input.nodeAddresses();
  return {
    nodeName: input.nodeName,
    links,
    ...(vxlanParent ? { vxlanParent } : {}),
    ...(vlanParent ? { vlanParent } : {}),
    ...(bgpParent ? { bgpParent } : {}),
    currentRules,
    ...(nodeAddresses ? { nodeAddresses } : {}),
    ipv6Disabled: input.ipv6Disabled,
    ...(raDev ? { raDefaultRouteDev: raDev } : {}),
  };
}
