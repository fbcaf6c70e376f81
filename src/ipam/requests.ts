/**
 * Validation of IPAM requests (SPEC §4.2 argument rules; Go `CheckNotEmpty` and suite checks).
 */
import type { IPFamily } from '../net/index.ts';
import { tryParseIP } from '../net/index.ts';
import { InvalidRequestError, SubnetNotFoundError } from './errors.ts';
import type { NetworkState } from './network.ts';
import type { SubnetState } from './subnet.ts';
import type { IPFamilyMode, PodRef, SubnetIPSuite } from './types.ts';

const FAMILIES: Record<IPFamilyMode, readonly IPFamily[]> = {
  IPv4Only: [4],
  IPv6Only: [6],
  DualStack: [4, 6],
};

/**
 * The address families of a family mode, IPv4 first.
 * @throws InvalidRequestError for anything but `IPv4Only`, `IPv6Only`, `DualStack`.
 */
export function familiesOf(mode: IPFamilyMode): readonly IPFamily[] {
  const families = (FAMILIES as Partial<Record<string, readonly IPFamily[]>>)[mode];
  if (families === undefined) {
    throw new InvalidRequestError(
      `unsupported ip family ${JSON.stringify(mode)}: expected IPv4Only, IPv6Only or DualStack`,
    );
  }
  return families;
}

/**
 * Checks that namespace, name and nodeName are non-empty strings (Go validates name and namespace; the node is
 * needed because it becomes `binding.nodeName`). @returns `namespace/name` for messages.
 * @throws InvalidRequestError naming the empty field.
 */
export function checkPod(pod: PodRef): string {
  for (const field of ['namespace', 'name', 'nodeName'] as const) {
    if (typeof pod[field] !== 'string' || pod[field] === '') {
      throw new InvalidRequestError(`validation fail: pod ${field} must not be empty`);
    }
  }
  if (pod.uid !== undefined && typeof pod.uid !== 'string') {
    throw new InvalidRequestError('validation fail: pod uid must be a string');
  }
  return `${pod.namespace}/${pod.name}`;
}

/** `[a, b]` rendering of a request list for messages (Go `%v`). */
export function listText(values: readonly unknown[]): string {
  return `[${values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}]`;
}

/**
 * Resolves release/reserve entries: subnet name mandatory and known, IP parses. Entries whose IP is of the other
 * family than their subnet are dropped (nobody can hold them there).
 * @param verb `releasing` or `reserving`, for messages.
 * @throws InvalidRequestError, SubnetNotFoundError — before anything is changed.
 */
export function resolveSuites(
  net: NetworkState,
  suites: readonly SubnetIPSuite[],
  verb: string,
): { subnet: SubnetState; value: bigint }[] {
  const targets = suites.map((suite) => {
    if (typeof suite.subnet !== 'string' || suite.subnet === '') {
      throw new InvalidRequestError(`must assign subnet when ${verb} IP, but ${JSON.stringify(suite)}`, {
        network: net.name,
        address: suite.ip,
      });
    }
    const subnet = net.subnet(suite.subnet);
    if (subnet === undefined) throw new SubnetNotFoundError({ network: net.name, subnet: suite.subnet });
    const ip = tryParseIP(suite.ip);
    if (ip === undefined) {
      throw new InvalidRequestError(`${verb} ip ${JSON.stringify(suite.ip)}: not a valid IP address`, {
        network: net.name,
        subnet: subnet.name,
        address: suite.ip,
      });
    }
    return { subnet, value: ip.value, family: ip.family };
  });
  return targets.filter((t) => t.family === t.subnet.family);
}
