/**
 * In-memory state of one subnet (SPEC §4.1 "Subnet build" steps 4–8, §4.2 primitives) on interval sets.
 *
 * Representation (D1/D9 — nothing here is proportional to the subnet size):
 * - `free`: the allocatable addresses nobody holds, an `IntervalSet`. Allocatable = `contains(ip)` ∧ ip ∉ reservedIPs.
 * - `held`: `Map<address, holder slot>` of every held address (Allocated or Reserved), slots in the network's
 *   `HolderTable`. A held address is either allocatable (then it is not in `free`) or a reservedIP taken by force.
 * - `reserved`: reservedIPs filtered by `contains` (Go `ReservedList`). A reservedIP nobody holds is "Reserved with no
 *   holder": it is in neither `free` nor `held`.
 * - `cursor`: the next-fit cursor, the last address handed out by `allocateNext` (Go `AvailableIPs` index), or
 *   `undefined` for "before the first address" (Go index −1).
 */
import { type CIDR, type IPFamily, cidrLast, formatIPValue, ipInstanceName, tryParseIP } from '../net/index.ts';
import type { CanonicalSubnet } from './canonical-subnet.ts';
import type { HolderTable } from './holders.ts';
import { IntervalSet } from './interval-set.ts';
import type { AllocatedIP, IPAMInstanceObject, SubnetUsage } from './types.ts';

/** An IPInstance reduced to what a subnet keeps: address value and holder fields. */
export interface HolderInput {
  /** Address value. */
  value: bigint;
  namespace: string;
  podName: string;
  podUID: string;
  /** Empty ⇒ Reserved. */
  nodeName: string;
}

/** Result of checking an assignment (SPEC §4.2 Assign, per IP), before anything is changed. */
export type AssignCheck = { ok: true } | { ok: false; kind: 'not-in-subnet' | 'not-available'; detail: string };

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const MAX_U64 = (1n << 64n) - 1n;

/**
 * Sorts `values` (all ≥ `base`) ascending in place and removes duplicates. When every offset from `base` fits in
 * 64 bits (any IPv4 subnet, IPv6 /64 and smaller) the sort runs natively on a `BigUint64Array` of offsets, several
 * times faster than a comparator sort of bigints.
 */
function sortAscendingUnique(values: bigint[], base: bigint, maxOffset: bigint): void {
  if (maxOffset >= 0n && maxOffset <= MAX_U64) {
    const offsets = new BigUint64Array(values.length);
    for (let k = 0; k < values.length; k++) offsets[k] = values[k]! - base;
    offsets.sort();
    for (let k = 0; k < values.length; k++) values[k] = offsets[k]! + base;
  } else {
    values.sort(compareBigint);
  }
  let w = 0;
  for (let k = 0; k < values.length; k++) {
    if (w === 0 || values[k] !== values[w - 1]) values[w++] = values[k]!;
  }
  values.length = w;
}

/** One subnet's allocator. Create with `SubnetState.build`. */
export class SubnetState {
  /** Subnet name. */
  readonly name: string;
  /** Parent network name. */
  readonly network: string;
  /** Address family (`range.version`). */
  readonly family: IPFamily;
  /** The subnet CIDR. */
  readonly cidr: CIDR;
  /** First allocatable address value (defaults applied). */
  readonly start: bigint;
  /** Last allocatable address value (defaults applied; may be below `start`, then nothing is allocatable). */
  readonly end: bigint;
  /** Gateway address value, never allocated; `undefined` when the subnet has none. */
  readonly gateway: bigint | undefined;
  /** `config.private`: never chosen automatically (SPEC §2.2). */
  readonly private: boolean;
  /** Effective netID (subnet ?? network ?? null). */
  readonly netID: number | null;
  /** Validated input, kept for `snapshot` and error messages. */
  readonly spec: CanonicalSubnet;
  /** reservedIPs that pass `contains`. */
  readonly reserved: ReadonlySet<bigint>;
  /** Next-fit cursor (see module doc). Restored by the engine when it rolls an operation back. */
  cursor: bigint | undefined;

  private readonly excluded: ReadonlySet<bigint>;
  private free = new IntervalSet();
  private totalCount = 0n;
  private readonly held = new Map<bigint, number>();
  private heldReserved = 0;
  private readonly holders: HolderTable;
  private readonly addressSuffix: string;

  private constructor(spec: CanonicalSubnet, holders: HolderTable) {
    this.spec = spec;
    this.name = spec.name;
    this.network = spec.network;
    this.family = spec.family;
    this.cidr = spec.cidr;
    this.start = spec.start;
    this.end = spec.end;
    this.gateway = spec.gateway;
    this.private = spec.private;
    this.netID = spec.netID;
    this.excluded = spec.excludeIPs;
    this.holders = holders;
    this.addressSuffix = `/${spec.cidr.prefixLength}`;
    this.reserved = new Set([...spec.reservedIPs].filter((v) => this.contains(v)));
    this.cursor = undefined;
  }

  /**
   * Builds the state from a canonical subnet and its IPInstances (SPEC §4.1 steps 4–8). Cost O(k log k) for k
   * instances, excludeIPs and reservedIPs — independent of the subnet size.
   *
   * @param onReject called (with the subnet being built) for an instance that is not allocatable here (`not-allocatable`: outside
   *   [start, end], the gateway, an excludeIP, or another family) or whose address another instance already holds
   *   (`duplicate`, the first one wins); the instance is then ignored, as Go ignores it.
   */
  static build<T extends HolderInput>(
    spec: CanonicalSubnet,
    holders: HolderTable,
    instances: readonly T[],
    onReject: (input: T, reason: 'not-allocatable' | 'duplicate', subnet: SubnetState) => void,
  ): SubnetState {
    const state = new SubnetState(spec, holders);
    for (const input of instances) {
      if (!state.contains(input.value)) onReject(input, 'not-allocatable', state);
      else if (state.held.has(input.value)) onReject(input, 'duplicate', state);
      else state.hold(input.value, input.namespace, input.podName, input.podUID, input.nodeName);
    }
    // Everything in [start, end] that is not allocatable-and-free: gateway, excludeIPs, reservedIPs, held addresses.
    const points = [...state.held.keys(), ...state.reserved, ...spec.excludeIPs];
    if (spec.gateway !== undefined) points.push(spec.gateway);
    sortAscendingUnique(points, spec.cidr.network, cidrLast(spec.cidr) - spec.cidr.network);
    const inRange = points.filter((v) => v >= spec.start && v <= spec.end);
    state.free = IntervalSet.fromRangeExcluding(spec.start, spec.end, inRange);
    // Allocatable = free ∪ held allocatable addresses (Go |AvailableIPs|, counted without enumerating).
    state.totalCount = state.free.size + BigInt(state.held.size - state.heldReserved);
    const last = tryParseIP(spec.lastAllocatedIP);
    if (last !== undefined && last.family === spec.family && state.isAllocatable(last.value)) state.cursor = last.value;
    return state;
  }

  /** Number of allocatable addresses (Go `|AvailableIPs|`); constant for the life of this object. */
  get total(): bigint {
    return this.totalCount;
  }

  /**
   * Go `Subnet.Contains`: in the CIDR, within [start, end], not the gateway, not an excludeIP (SPEC §4.1 step 4).
   * A reservedIP *is* contained (it can be assigned by force).
   */
  contains(value: bigint): boolean {
    return value >= this.start && value <= this.end && value !== this.gateway && !this.excluded.has(value);
  }

  /** Whether `value` belongs to the allocatable pool (`contains` ∧ not a reservedIP), free or not. */
  isAllocatable(value: bigint): boolean {
    return this.contains(value) && !this.reserved.has(value);
  }

  /** Whether `value` is allocatable and nobody holds it. */
  isFree(value: bigint): boolean {
    return this.free.has(value);
  }

  /** Holder slot of `value`, or `undefined` when nobody holds it. */
  holderOf(value: bigint): number | undefined {
    return this.held.get(value);
  }

  /** Number of held addresses, Allocated or Reserved, reservedIPs included. */
  get heldCount(): number {
    return this.held.size;
  }

  /** Go `UsingIPCount`: |UsingIPs| − ReservedIPCount = held addresses that are not reservedIPs. */
  get used(): bigint {
    const usingIPs = this.held.size + (this.reserved.size - this.heldReserved);
    return BigInt(usingIPs - this.reserved.size);
  }

  /** Free allocatable addresses (`total − used`, equal to the size of the free set). */
  get available(): bigint {
    return this.total - this.used;
  }

  /** Go `IsAvailable`: has a free allocatable address and is not private (SPEC §4.1). */
  get isAvailable(): boolean {
    return !this.private && !this.free.isEmpty();
  }

  /** Size of the free set (equals `available`; exposed so tests can check the two bookkeepings agree). */
  get freeCount(): bigint {
    return this.free.size;
  }

  /** Number of intervals of the free set (its memory cost). */
  get freeIntervalCount(): number {
    return this.free.intervalCount;
  }

  /**
   * Go `AllocateNext` (SPEC §4.2): next-fit — the first free allocatable address strictly after the cursor, wrapping
   * to the first free one; it becomes Allocated for the pod and the new cursor. O(log n) in held addresses.
   * @returns the address value, or `undefined` when no address is free. Then nothing changes, the cursor
   *   included (Go's rotation would move an unset cursor to the last address — visible only in the reported
   *   `lastAllocatedIP`, never in which address comes next; we keep "a failure leaves no trace").
   */
  allocateNext(namespace: string, podName: string, podUID: string, nodeName: string): bigint | undefined {
    const free = this.free;
    const value = (this.cursor === undefined ? undefined : free.firstAtOrAfter(this.cursor + 1n)) ?? free.first();
    if (value === undefined) return undefined;
    free.delete(value);
    this.held.set(value, this.holders.add(namespace, podName, podUID, nodeName));
    this.cursor = value;
    return value;
  }

  /** Checks whether `value` may be assigned to the pod (SPEC §4.2 Assign), without changing anything. */
  checkAssign(value: bigint, namespace: string, podName: string, force: boolean): AssignCheck {
    if (!this.contains(value)) {
      return { ok: false, kind: 'not-in-subnet', detail: this.notContainedReason(value) };
    }
    const slot = this.held.get(value);
    if (slot === undefined) {
      if (!this.reserved.has(value) || force) return { ok: true };
      return {
        ok: false,
        kind: 'not-available',
        detail: 'is a reservedIP of the subnet: only a forced assignment (ip-pool, retained VM IP) may take it',
      };
    }
    const h = this.holders;
    if (h.isPod(slot, namespace, podName)) return { ok: true };
    if (force && h.status(slot) === 'Reserved') return { ok: true };
    const pod = `${h.namespace(slot)}/${h.podName(slot)}`;
    return {
      ok: false,
      kind: 'not-available',
      detail:
        h.status(slot) === 'Allocated'
          ? `is allocated to pod ${pod} on node "${h.nodeName(slot)}"`
          : `is reserved (retained) for pod ${pod}` + (force ? '' : '; only a forced assignment may take it'),
    };
  }

  /**
   * Gives `value` to the pod as Allocated. Call only after `checkAssign` returned ok: takes a free address, re-marks
   * an address held by the same pod, or (forced) takes a Reserved one or a reservedIP (SPEC §4.2 Assign).
   */
  assign(value: bigint, namespace: string, podName: string, podUID: string, nodeName: string): void {
    const slot = this.held.get(value);
    if (slot !== undefined) this.holders.set(slot, namespace, podName, podUID, nodeName);
    else this.hold(value, namespace, podName, podUID, nodeName);
  }

  /**
   * Go `Release` (SPEC §4.2): a reservedIP goes back to "Reserved with no holder", any other held address becomes
   * free. An address nobody holds is left alone.
   * @returns whether something was released.
   */
  release(value: bigint): boolean {
    const slot = this.held.get(value);
    if (slot === undefined) return false;
    this.held.delete(value);
    this.holders.remove(slot);
    if (this.reserved.has(value)) this.heldReserved--;
    else this.free.add(value);
    return true;
  }

  /**
   * Go `Reserve` (SPEC §4.2): the holder becomes Reserved, keeping namespace and pod name (node and pod UID are
   * cleared, as the IPInstance's binding is). An address nobody holds is left alone (Go `IPSet.Update` ignores it).
   * @returns whether a holder was found.
   */
  reserve(value: bigint): boolean {
    const slot = this.held.get(value);
    if (slot === undefined) return false;
    this.holders.markReserved(slot);
    return true;
  }

  /** Builds the allocation result for a held `value` (SPEC §2.3 `spec.address`, §4.3 name). */
  result(value: bigint): AllocatedIP {
    const family = this.family;
    const ip = formatIPValue(family, value);
    const out: AllocatedIP = {
      network: this.network,
      subnet: this.name,
      family,
      version: family === 4 ? '4' : '6',
      ip,
      value,
      cidr: this.spec.cidrText,
      prefixLength: this.cidr.prefixLength,
      address: ip + this.addressSuffix,
      netID: this.netID,
      ipInstanceName: ipInstanceName({ family, value }),
    };
    if (this.spec.gatewayText !== undefined) out.gateway = this.spec.gatewayText;
    return out;
  }

  /** Usage and status of this subnet (SPEC §4.1 usage, §2.2 status). */
  usage(): SubnetUsage {
    const used = this.used;
    return {
      name: this.name,
      family: this.family,
      private: this.private,
      total: this.total,
      used,
      available: this.total - used,
      isAvailable: this.isAvailable,
      lastAllocatedIP: this.cursor === undefined ? '' : formatIPValue(this.family, this.cursor),
    };
  }

  /** The held addresses as IPInstance-like objects, ascending by address (for `snapshot`). */
  instances(): IPAMInstanceObject[] {
    const values = [...this.held.keys()].sort(compareBigint);
    const h = this.holders;
    return values.map((value) => {
      const slot = this.held.get(value)!;
      const r = this.result(value);
      const address: IPAMInstanceObject['spec']['address'] = { version: r.version, ip: r.address, netID: r.netID };
      if (r.gateway !== undefined) address.gateway = r.gateway;
      return {
        metadata: { name: r.ipInstanceName, namespace: h.namespace(slot) },
        spec: {
          network: this.network,
          subnet: this.name,
          address,
          binding: { nodeName: h.nodeName(slot), podName: h.podName(slot), podUID: h.podUID(slot) },
        },
      };
    });
  }

  /** The free intervals, ascending (tests and diagnostics). */
  freeIntervals(): IterableIterator<[bigint, bigint]> {
    return this.free.intervals();
  }

  /** Explains why `value` is not contained, naming the rule it breaks. */
  notContainedReason(value: bigint): string {
    const f = (v: bigint): string => formatIPValue(this.family, v);
    const where = `subnet "${this.name}" of network "${this.network}"`;
    if (value === this.gateway) return `is the gateway of ${where}`;
    if (this.excluded.has(value)) return `is an excludeIP of ${where}`;
    if (this.start > this.end)
      return `cannot be in ${where}: its range start ${f(this.start)} is after end ${f(this.end)}`;
    return `is outside the allocatable range ${f(this.start)}–${f(this.end)} of ${where} (${this.spec.cidrText})`;
  }

  private hold(value: bigint, namespace: string, podName: string, podUID: string, nodeName: string): void {
    if (this.reserved.has(value)) this.heldReserved++;
    else this.free.delete(value);
    this.held.set(value, this.holders.add(namespace, podName, podUID, nodeName));
  }
}
