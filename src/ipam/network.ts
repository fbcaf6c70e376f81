/**
 * In-memory state of one network and how it is built from the API objects (Go `refreshNetwork`, SPEC §4.1).
 */
import { type IPFamily, tryParseIP } from '../net/index.ts';
import { canonicalizeSubnet } from './canonical-subnet.ts';
import { IPAMError } from './errors.ts';
import { HolderTable } from './holders.ts';
import { SubnetSlice } from './subnet-slice.ts';
import { type HolderInput, SubnetState } from './subnet.ts';
import type { IPAMInstanceObject, IPAMNetworkObject, IPAMSubnetObject, SkippedInstance } from './types.ts';

/** One network: its identity, an IPv4 and an IPv6 `SubnetSlice`, and the holder table its subnets share. */
export class NetworkState {
  /** Network name (`metadata.name`). */
  readonly name: string;
  /** `spec.netID` (VLAN id, AS number or VNI; null when unset), inherited by subnets without one. */
  readonly netID: number | null;
  /** `spec.type` as given (empty ⇒ Underlay, SPEC §2.1); kept for callers, the IPAM does not interpret it. */
  readonly type: string;
  /** `spec.mode` as given. */
  readonly mode: string;
  /** IPv4 subnets and their fill-first cursor (`status.lastAllocatedSubnet`). */
  readonly v4: SubnetSlice;
  /** IPv6 subnets and their fill-first cursor (`status.lastAllocatedIPv6Subnet`). */
  readonly v6: SubnetSlice;
  /** Holder records of every held address of the network's subnets. */
  readonly holders: HolderTable;

  constructor(object: IPAMNetworkObject, v4: SubnetSlice, v6: SubnetSlice, holders: HolderTable) {
    this.name = object.metadata.name;
    this.netID = object.spec.netID ?? null;
    this.type = object.spec.type ?? '';
    this.mode = object.spec.mode ?? '';
    this.v4 = v4;
    this.v6 = v6;
    this.holders = holders;
  }

  /** The slice of `family`. */
  slice(family: IPFamily): SubnetSlice {
    return family === 4 ? this.v4 : this.v6;
  }

  /** The subnet called `name` in either family, or `undefined`. */
  subnet(name: string): SubnetState | undefined {
    return this.v4.get(name) ?? this.v6.get(name);
  }

  /** All subnets: IPv4 slice then IPv6 slice. */
  subnets(): SubnetState[] {
    return [...this.v4.subnets, ...this.v6.subnets];
  }

  /** The network as a Network object with the status cursors (for `snapshot`). */
  toObject(): IPAMNetworkObject {
    const spec: IPAMNetworkObject['spec'] = { netID: this.netID };
    if (this.type !== '') spec.type = this.type;
    if (this.mode !== '') spec.mode = this.mode;
    return {
      metadata: { name: this.name },
      spec,
      status: { lastAllocatedSubnet: this.v4.currentName(), lastAllocatedIPv6Subnet: this.v6.currentName() },
    };
  }
}

/** Splits `"ip/prefix"` (or a bare IP) and parses the address; `undefined` when it does not parse. */
function parseInstanceAddress(text: string): { family: IPFamily; value: bigint } | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  return tryParseIP(slash < 0 ? text : text.slice(0, slash));
}

/**
 * Builds a network's state from its Network object, *all* Subnets (those with `spec.network` = the network's name
 * are kept) and IPInstances (those whose `spec.subnet` is one of them are kept; others are ignored silently, they
 * belong to other networks) — SPEC §4.1 Refresh and Subnet build. Cursors come from the objects' status.
 *
 * Instances that cannot be held are reported in `skipped` (and ignored, as Go ignores them): an unparsable
 * `spec.address.ip` (`invalid-address`), an address that is not `contains` in its subnet (`not-allocatable`:
 * outside [start, end], the gateway, an excludeIP, the other family), a second instance on the same address
 * (`duplicate`; the first in input order wins).
 *
 * Cost: O(s log s + k log k) for s subnets and k instances; independent of subnet sizes (D1).
 * @throws InvalidSubnetError if any subnet of the network fails canonicalisation (nothing is built; the caller keeps
 *   the previous state, as Go's refresh does when `AddSubnet` fails).
 */
export function buildNetworkState(
  network: IPAMNetworkObject,
  subnets: readonly IPAMSubnetObject[],
  instances: readonly IPAMInstanceObject[],
  skipped: SkippedInstance[],
): NetworkState {
  const name = network.metadata.name;
  const netID = network.spec.netID ?? null;
  const mine = subnets.filter((s) => s.spec.network === name).map((s) => canonicalizeSubnet(s, netID));
  const bySubnet = new Map<string, IPAMInstanceObject[]>(mine.map((s) => [s.name, []]));
  for (const instance of instances) bySubnet.get(instance.spec.subnet)?.push(instance);

  const skip = (instance: IPAMInstanceObject, reason: SkippedInstance['reason'], message: string): void => {
    skipped.push({
      namespace: instance.metadata.namespace ?? '',
      name: instance.metadata.name,
      network: name,
      subnet: instance.spec.subnet,
      ip: instance.spec.address.ip,
      reason,
      message,
    });
  };

  const holders = new HolderTable();
  const states: SubnetState[] = [];
  for (const spec of mine) {
    const inputs: (HolderInput & { instance: IPAMInstanceObject })[] = [];
    for (const instance of bySubnet.get(spec.name) ?? []) {
      const ip = parseInstanceAddress(instance.spec.address.ip);
      if (ip === undefined) {
        skip(instance, 'invalid-address', `spec.address.ip ${JSON.stringify(instance.spec.address.ip)} is not an IP`);
        continue;
      }
      if (ip.family !== spec.family) {
        skip(instance, 'not-allocatable', `IPv${ip.family} address in IPv${spec.family} subnet "${spec.name}"`);
        continue;
      }
      const b = instance.spec.binding;
      inputs.push({
        value: ip.value,
        namespace: instance.metadata.namespace ?? '',
        podName: b.podName ?? '',
        podUID: b.podUID ?? '',
        nodeName: b.nodeName ?? '',
        instance,
      });
    }
    const state = SubnetState.build(spec, holders, inputs, (input, reason, subnet) => {
      const instance = input.instance;
      skip(
        instance,
        reason,
        reason === 'duplicate'
          ? `another IPInstance already holds ${instance.spec.address.ip} in subnet "${spec.name}"`
          : `${instance.spec.address.ip} ${subnet.notContainedReason(input.value)}`,
      );
    });
    states.push(state);
  }
  const status = network.status ?? undefined;
  return new NetworkState(
    network,
    new SubnetSlice(
      4,
      states.filter((s) => s.family === 4),
      status?.lastAllocatedSubnet,
    ),
    new SubnetSlice(
      6,
      states.filter((s) => s.family === 6),
      status?.lastAllocatedIPv6Subnet,
    ),
    holders,
  );
}

/**
 * Builds every network of `networks` (SPEC §4.1 start-up refresh of all networks): subnets grouped by
 * `spec.network`, instances grouped by `spec.subnet` once (no networks × instances loop). A network whose subnets
 * fail validation is passed to `onFailure`, which may return a state to keep in its place. Instances naming a subnet
 * no given Subnet object has are reported in `skipped` as `subnet-not-found`.
 */
export function buildNetworks(
  networks: readonly IPAMNetworkObject[],
  subnets: readonly IPAMSubnetObject[],
  instances: readonly IPAMInstanceObject[],
  skipped: SkippedInstance[],
  onFailure: (network: string, error: IPAMError) => NetworkState | undefined,
): Map<string, NetworkState> {
  const subnetsByNetwork = groupBy(subnets, (s) => s.spec.network);
  const instancesBySubnet = groupBy(instances, (i) => i.spec.subnet);
  const out = new Map<string, NetworkState>();
  for (const network of networks) {
    const name = network.metadata.name;
    const mine = subnetsByNetwork.get(name) ?? [];
    const theirs = mine.flatMap((s) => instancesBySubnet.get(s.metadata.name) ?? []);
    try {
      out.set(name, buildNetworkState(network, mine, theirs, skipped));
    } catch (err) {
      if (!(err instanceof IPAMError)) throw err;
      const kept = onFailure(name, err);
      if (kept !== undefined) out.set(name, kept);
    }
  }
  const known = new Set(subnets.map((s) => s.metadata.name));
  for (const [subnet, group] of instancesBySubnet) {
    if (known.has(subnet)) continue;
    for (const instance of group) {
      skipped.push({
        namespace: instance.metadata.namespace ?? '',
        name: instance.metadata.name,
        network: instance.spec.network,
        subnet,
        ip: instance.spec.address.ip,
        reason: 'subnet-not-found',
        message: `subnet "${subnet}" does not exist`,
      });
    }
  }
  return out;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = out.get(k);
    if (group === undefined) out.set(k, [item]);
    else group.push(item);
  }
  return out;
}
