/**
 * The IPAM engine: the manager's in-memory allocator (Go `pkg/ipam/manager`, SPEC §4.1–§4.2).
 *
 * Pure and synchronous: no I/O, no clock, no randomness. Node.js runs one method call to completion before any other
 * JavaScript runs, so every public method is atomic with respect to every other — this replaces the Go global mutex
 * (SPEC §4.1, §4.9). Callers must not await between reading a result and acting on it if they need a consistent view.
 *
 * Failure atomicity (an improvement over Go, which can leave half-done work behind): a method that throws leaves the
 * state exactly as it was — holders, free sets, the subnets' next-fit cursors and the networks' fill-first cursors.
 * In particular a DualStack allocation whose IPv6 half fails releases the IPv4 address *and* rewinds the IPv4
 * subnet's cursor and both slice cursors, and a DualStack assignment checks both addresses before taking either.
 */
import type { IPFamily } from '../net/index.ts';
import { tryParseIP } from '../net/index.ts';
import type { IPAMError } from './errors.ts';
import {
  AssignedIPNotAvailableError,
  AssignedIPNotInSubnetError,
  InvalidRequestError,
  NetworkNotFoundError,
  NoAvailableIPError,
  NoAvailableSubnetError,
  SubnetNotFoundError,
} from './errors.ts';
import { type NetworkState, buildNetworkState, buildNetworks } from './network.ts';
import { checkPod, familiesOf, listText, resolveSuites } from './requests.ts';
import type { SubnetState } from './subnet.ts';
import { subnetObjectOf } from './snapshot.ts';
import type {
  AllocatedIP,
  AssignSuite,
  FamilyUsage,
  IPAMInstanceObject,
  IPAMNetworkObject,
  IPAMSubnetObject,
  IPFamilyMode,
  NetworkUsage,
  PodRef,
  SkippedInstance,
  SubnetIPSuite,
  SubnetUsage,
} from './types.ts';

/** The whole engine state as API-shaped objects (see `IPAMEngine.snapshot`). */
export interface IPAMSnapshot {
  /** Networks by name, `status` holding the fill-first cursors. */
  networks: IPAMNetworkObject[];
  /** Subnets by network then slice order, `status.lastAllocatedIP` holding the next-fit cursor. */
  subnets: IPAMSubnetObject[];
  /** One IPInstance-like object per held address (reservedIPs nobody holds are not instances), by subnet and address. */
  instances: IPAMInstanceObject[];
}

/** What a refresh left out. */
export interface RefreshReport {
  skipped: SkippedInstance[];
}

/** What a rebuild left out: skipped instances and networks whose subnets failed validation. */
export interface RebuildReport extends RefreshReport {
  failed: { network: string; error: IPAMError }[];
}

/**
 * The IPAM engine. One instance per elected manager. Build it with `rebuild` (start-up) and keep it current with
 * `refreshNetwork` / `removeNetwork` (SPEC §4.1 triggers); between refreshes memory is authoritative.
 */
export class IPAMEngine {
  private networks = new Map<string, NetworkState>();

  /**
   * Replaces the whole state (start-up, SPEC §4.1 "the manager refreshes all existing networks"). Each network is
   * built from the subnets with `spec.network` = its name and the instances of those subnets (see
   * `refreshNetwork`). A network whose subnets fail validation is reported in `failed` and keeps its previous state
   * if it had one. Instances naming a subnet that no given Subnet object has are reported as `subnet-not-found`.
   */
  rebuild(
    networks: readonly IPAMNetworkObject[],
    subnets: readonly IPAMSubnetObject[],
    instances: readonly IPAMInstanceObject[],
  ): RebuildReport {
    const report: RebuildReport = { skipped: [], failed: [] };
    const next = buildNetworks(networks, subnets, instances, report.skipped, (name, error) => {
      report.failed.push({ network: name, error });
      return this.networks.get(name);
    });
    this.networks = next;
    return report;
  }

  /**
   * Go `Refresh(network)` (SPEC §4.1): rebuilds one network from its object, *all* Subnets (filtered by
   * `spec.network`) and IPInstances (filtered by `spec.subnet`), replacing its previous state; cursors come from the
   * objects' status. Instances that cannot be held are ignored and returned in `skipped`.
   * @throws InvalidSubnetError if a subnet of the network is invalid; the previous state is then kept.
   */
  refreshNetwork(
    network: IPAMNetworkObject,
    subnets: readonly IPAMSubnetObject[],
    instances: readonly IPAMInstanceObject[],
  ): RefreshReport {
    const skipped: SkippedInstance[] = [];
    const state = buildNetworkState(network, subnets, instances, skipped);
    this.networks.set(state.name, state);
    return { skipped };
  }

  /** Drops a network (Go: refresh of a network that no longer exists). @returns whether it was known. */
  removeNetwork(name: string): boolean {
    return this.networks.delete(name);
  }

  /** Names of the known networks, sorted. */
  networkNames(): string[] {
    return [...this.networks.keys()].sort();
  }

  /** Whether the network is known. */
  hasNetwork(name: string): boolean {
    return this.networks.has(name);
  }

  /**
   * Go `Allocate` (SPEC §4.2): new addresses for a pod by next-fit.
   *
   * - `IPv4Only` / `IPv6Only`: no subnet ⇒ fill-first available subnet of the family (private ones never chosen);
   *   one subnet ⇒ it must be a subnet of that family (private and full ones are allowed, a full one fails with
   *   `NoAvailableIPError`); more ⇒ `InvalidRequestError`.
   * - `DualStack`: no subnet ⇒ an available IPv4 and an available IPv6 subnet, chosen independently; exactly two ⇒
   *   `[IPv4 subnet, IPv6 subnet]`; otherwise `only support two assigned subnets when DualStack family`. IPv4 is
   *   allocated first. An empty name in the list means "choose automatically" for that family (as in Go).
   *
   * @returns one result per family, IPv4 first.
   * @throws InvalidRequestError, NetworkNotFoundError, SubnetNotFoundError, NoAvailableSubnetError,
   *   NoAvailableIPError — and then nothing has changed (see module doc).
   */
  allocate(
    networkName: string,
    pod: PodRef,
    family: IPFamilyMode,
    specifiedSubnets: readonly string[] = [],
  ): AllocatedIP[] {
    const podText = checkPod(pod);
    const families = familiesOf(family);
    const net = this.network(networkName);
    let names: readonly string[];
    if (families.length === 1) {
      if (specifiedSubnets.length > 1) {
        throw new InvalidRequestError(
          `only support one specified subnet when IPv${families[0]} family, but ${listText(specifiedSubnets)}`,
          { network: networkName, family: families[0]!, pod: podText },
        );
      }
      names = [specifiedSubnets[0] ?? ''];
    } else {
      if (specifiedSubnets.length !== 0 && specifiedSubnets.length !== 2) {
        throw new InvalidRequestError(
          `only support two assigned subnets when DualStack family, but ${listText(specifiedSubnets)}`,
          { network: networkName, pod: podText },
        );
      }
      names = specifiedSubnets.length === 2 ? specifiedSubnets : ['', ''];
    }

    const sliceIndexes = [net.v4.index, net.v6.index] as const;
    const done: { subnet: SubnetState; value: bigint; cursor: bigint | undefined }[] = [];
    try {
      const chosen = families.map((f, i) => this.chooseSubnet(net, f, names[i] ?? ''));
      for (const subnet of chosen) {
        const cursor = subnet.cursor;
        const value = subnet.allocateNext(pod.namespace, pod.name, pod.uid ?? '', pod.nodeName);
        if (value === undefined) {
          throw new NoAvailableIPError(
            { network: net.name, subnet: subnet.name, family: subnet.family, pod: podText },
            this.fullReason(subnet),
          );
        }
        done.push({ subnet, value, cursor });
      }
    } catch (err) {
      for (const d of done.reverse()) {
        d.subnet.release(d.value);
        d.subnet.cursor = d.cursor;
      }
      net.v4.index = sliceIndexes[0];
      net.v6.index = sliceIndexes[1];
      throw err;
    }
    return done.map((d) => d.subnet.result(d.value));
  }

  /**
   * Go `Assign` (SPEC §4.2): gives specific addresses to a pod (retained stateful IPs, ip-pool, VM IPs).
   *
   * `IPv4Only` / `IPv6Only` take exactly one suite, `DualStack` exactly two (`[IPv4, IPv6]`). Each IP must parse and
   * be of the right family. Subnet: by name when given (must be of that family), else the first subnet of the
   * family (slice order, private ones included) whose `contains(ip)` holds. Per address: not contained ⇒
   * `AssignedIPNotInSubnetError`; free ⇒ taken; held by the same namespace + pod name ⇒ re-marked Allocated for this
   * pod; `force` and Reserved (any holder, or a reservedIP nobody holds) ⇒ taken; otherwise
   * `AssignedIPNotAvailableError`. Cursors never move.
   *
   * Atomic, also for DualStack (Go could keep the IPv4 half when the IPv6 half failed): both addresses are checked
   * before either is taken.
   * @returns one result per suite, in order.
   */
  assign(
    networkName: string,
    pod: PodRef,
    family: IPFamilyMode,
    suites: readonly AssignSuite[],
    force: boolean,
  ): AllocatedIP[] {
    const podText = checkPod(pod);
    const families = familiesOf(family);
    const net = this.network(networkName);
    if (suites.length !== families.length) {
      const what =
        families.length === 1 ? `only one IP when IPv${families[0]} family` : 'two IPs when DualStack family';
      throw new InvalidRequestError(`must assign ${what}, but ${listText(suites.map((s) => s.ip))}`, {
        network: net.name,
        pod: podText,
      });
    }
    const plans = suites.map((suite, i) => {
      const f = families[i]!;
      const ip = tryParseIP(suite.ip);
      if (ip === undefined || ip.family !== f) {
        throw new InvalidRequestError(
          `assigned ip ${JSON.stringify(suite.ip)} is not a valid IPv${f} address` +
            (families.length === 2 ? ' (DualStack expects [IPv4, IPv6])' : ''),
          { network: net.name, family: f, address: suite.ip, pod: podText },
        );
      }
      let subnet: SubnetState | undefined;
      if (suite.subnet !== undefined && suite.subnet !== '') subnet = this.namedSubnet(net, f, suite.subnet);
      else subnet = net.slice(f).findContaining(ip.value);
      const context = { network: net.name, family: f, address: suite.ip, pod: podText };
      if (subnet === undefined) {
        const names = net.slice(f).names();
        throw new AssignedIPNotInSubnetError(
          context,
          `is not an allocatable address of any IPv${f} subnet of network "${net.name}" (subnets: ${names.join(', ') || 'none'})`,
        );
      }
      const check = subnet.checkAssign(ip.value, pod.namespace, pod.name, force);
      if (!check.ok) {
        if (check.kind === 'not-in-subnet') {
          throw new AssignedIPNotInSubnetError({ ...context, subnet: subnet.name }, check.detail);
        }
        throw new AssignedIPNotAvailableError({ ...context, subnet: subnet.name }, check.detail);
      }
      return { subnet, value: ip.value };
    });
    for (const { subnet, value } of plans) subnet.assign(value, pod.namespace, pod.name, pod.uid ?? '', pod.nodeName);
    return plans.map(({ subnet, value }) => subnet.result(value));
  }

  /**
   * Go `Release` (SPEC §4.2): for each `{subnet, ip}` a reservedIP returns to "Reserved with no holder", any other
   * held address becomes free; an address nobody holds is ignored. All entries are validated first (subnet name
   * mandatory and known, IP parses), so an invalid entry releases nothing.
   * @returns the number of addresses released.
   * @throws InvalidRequestError, NetworkNotFoundError, SubnetNotFoundError.
   */
  release(networkName: string, suites: readonly SubnetIPSuite[]): number {
    let count = 0;
    for (const { subnet, value } of resolveSuites(this.network(networkName), suites, 'releasing')) {
      if (subnet.release(value)) count++;
    }
    return count;
  }

  /**
   * Go `Reserve` (SPEC §4.2, §4.6 VM retain): each held address becomes Reserved, keeping its namespace and pod name
   * (node and pod UID cleared); addresses nobody holds are ignored. Validated like `release`.
   * @returns the number of addresses marked.
   */
  reserve(networkName: string, suites: readonly SubnetIPSuite[]): number {
    let count = 0;
    for (const { subnet, value } of resolveSuites(this.network(networkName), suites, 'reserving')) {
      if (subnet.reserve(value)) count++;
    }
    return count;
  }

  /**
   * Go `GetNetworkUsage` (SPEC §4.1): per-family sums over all subnets (private ones included), the fill-first
   * cursors, DualStack available = min(IPv4, IPv6), and every subnet's usage.
   * @throws NetworkNotFoundError.
   */
  networkUsage(networkName: string): NetworkUsage {
    const net = this.network(networkName);
    const family = (f: IPFamily): FamilyUsage => {
      const usage: FamilyUsage = { total: 0n, used: 0n, available: 0n, lastAllocatedSubnet: '' };
      for (const s of net.slice(f).subnets) {
        usage.total += s.total;
        usage.used += s.used;
        usage.available += s.available;
      }
      usage.lastAllocatedSubnet = net.slice(f).currentName();
      return usage;
    };
    const ipv4 = family(4);
    const ipv6 = family(6);
    return {
      name: net.name,
      ipv4,
      ipv6,
      dualStack: { available: ipv4.available < ipv6.available ? ipv4.available : ipv6.available },
      subnets: net.subnets().map((s) => s.usage()),
    };
  }

  /**
   * Go `GetSubnetUsage` (SPEC §4.1, §2.2 status): total, used, available, lastAllocatedIP of one subnet.
   * @throws NetworkNotFoundError, SubnetNotFoundError.
   */
  subnetUsage(networkName: string, subnetName: string): SubnetUsage {
    const net = this.network(networkName);
    const subnet = net.subnet(subnetName);
    if (subnet === undefined) throw new SubnetNotFoundError({ network: net.name, subnet: subnetName });
    return subnet.usage();
  }

  /**
   * The state as API objects: Networks (status cursors), Subnets (status.lastAllocatedIP) and one IPInstance-like
   * object per held address. `rebuild(snapshot)` reproduces the same allocations and cursors (property-tested).
   */
  snapshot(): IPAMSnapshot {
    const out: IPAMSnapshot = { networks: [], subnets: [], instances: [] };
    for (const name of this.networkNames()) {
      const net = this.networks.get(name)!;
      out.networks.push(net.toObject());
      for (const subnet of net.subnets()) {
        out.subnets.push(subnetObjectOf(subnet));
        out.instances.push(...subnet.instances());
      }
    }
    return out;
  }

  /** Internal view of a network for tests and diagnostics. @throws NetworkNotFoundError. */
  network(name: string): NetworkState {
    const net = this.networks.get(name);
    if (net === undefined) throw new NetworkNotFoundError(name);
    return net;
  }

  private namedSubnet(net: NetworkState, family: IPFamily, name: string): SubnetState {
    const slice = net.slice(family);
    const subnet = slice.get(name);
    if (subnet !== undefined) return subnet;
    const other = net.slice(family === 4 ? 6 : 4).get(name);
    const names = slice.names();
    throw new SubnetNotFoundError(
      { network: net.name, subnet: name, family },
      (other === undefined ? '' : `"${name}" is an IPv${other.family} subnet; `) +
        (names.length === 0 ? `the network has no IPv${family} subnet` : `IPv${family} subnets: ${names.join(', ')}`),
    );
  }

  private chooseSubnet(net: NetworkState, family: IPFamily, name: string): SubnetState {
    if (name !== '') return this.namedSubnet(net, family, name);
    const subnet = net.slice(family).getAvailable();
    if (subnet === undefined) throw new NoAvailableSubnetError(net.name, family, net.slice(family).names());
    return subnet;
  }

  private fullReason(subnet: SubnetState): string {
    const usage = subnet.usage();
    if (subnet.start > subnet.end) {
      const spec = subnet.spec.object.spec.range;
      return `its range start ${spec.start ?? 'default'} is after its end ${spec.end ?? 'default'}: it has no allocatable address`;
    }
    if (usage.total === 0n) {
      return 'it has no allocatable address: every address of its range is the gateway, an excludeIP or a reservedIP';
    }
    return `all ${usage.total} allocatable addresses are in use` + (subnet.private ? ' (private subnet)' : '');
  }
}
