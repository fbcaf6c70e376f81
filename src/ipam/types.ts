/**
 * Input and output shapes of the IPAM engine.
 *
 * The input interfaces are the *minimal structural* subsets of the CRD JSON objects the engine reads (SPEC §2.1–§2.3),
 * field names and nesting exactly as in the API, so the full CRD types of `src/api` are assignable to them without a
 * conversion. Nothing here depends on `src/api`.
 */
import type { IPFamily } from '../net/index.ts';

/** A Network object as read by the IPAM (SPEC §2.1). `spec.netID` is the json-always-present `*int32`. */
export interface IPAMNetworkObject {
  metadata: { name: string };
  spec: { netID?: number | null; type?: string; mode?: string };
  status?: { lastAllocatedSubnet?: string; lastAllocatedIPv6Subnet?: string } | null;
}

/** The `spec.range` of a Subnet (SPEC §2.2). Addresses are textual; `cidr` must be canonical. */
export interface IPAMAddressRange {
  version: '4' | '6';
  cidr: string;
  gateway?: string;
  start?: string;
  end?: string;
  reservedIPs?: string[] | null;
  excludeIPs?: string[] | null;
}

/** A Subnet object as read by the IPAM (SPEC §2.2). */
export interface IPAMSubnetObject {
  metadata: { name: string; deletionTimestamp?: string | null };
  spec: {
    network: string;
    netID?: number | null;
    range: IPAMAddressRange;
    config?: { private?: boolean | null } | null;
  };
  status?: { lastAllocatedIP?: string } | null;
}

/**
 * An IPInstance object as read by the IPAM (SPEC §2.3). `spec.address.ip` is `"ip/prefixLength"` (a bare IP is also
 * accepted). `binding.nodeName` empty or absent ⇒ the address is *Reserved* (retained, not in use).
 */
export interface IPAMInstanceObject {
  metadata: { name: string; namespace?: string };
  spec: {
    network: string;
    subnet: string;
    address: { version: '4' | '6'; ip: string; gateway?: string; netID?: number | null };
    binding: { nodeName?: string; podName?: string; podUID?: string };
  };
}

/** Pod IP family mode, the Go `types.IPFamilyMode` values (SPEC §1.3, §4.2). */
export type IPFamilyMode = 'IPv4Only' | 'IPv6Only' | 'DualStack';

/**
 * The pod an address is allocated or assigned to. `namespace` and `name` must be non-empty (as in Go);
 * `nodeName` must be non-empty too: it becomes `binding.nodeName`, and an address whose holder has no node is
 * *Reserved* (SPEC §2.3). `uid` is `binding.podUID` (optional, default empty).
 */
export interface PodRef {
  namespace: string;
  name: string;
  nodeName: string;
  uid?: string;
}

/** One entry of an assignment request: the IP text and optionally the subnet name (SPEC §4.2 Assign). */
export interface AssignSuite {
  subnet?: string;
  ip: string;
}

/** One entry of a release or reserve request: subnet name (mandatory) and IP text (SPEC §4.2 Release/Reserve). */
export interface SubnetIPSuite {
  subnet: string;
  ip: string;
}

/**
 * One address handed out by `allocate` or `assign`: everything needed to write the IPInstance `spec.address`
 * (SPEC §2.3) and name it (§4.3).
 */
export interface AllocatedIP {
  /** Network name. */
  network: string;
  /** Subnet name (`spec.subnet`). */
  subnet: string;
  /** Address family. */
  family: IPFamily;
  /** `spec.address.version`. */
  version: '4' | '6';
  /** Canonical address text (RFC 5952 for IPv6), e.g. `10.14.100.5`. */
  ip: string;
  /** Numeric address value. */
  value: bigint;
  /** Subnet CIDR text, e.g. `10.14.100.0/24`. */
  cidr: string;
  /** Subnet prefix length, e.g. 24. */
  prefixLength: number;
  /** `spec.address.ip`: `"ip/prefixLength"`, e.g. `10.14.100.5/24`. */
  address: string;
  /** Subnet gateway text (`spec.address.gateway`), absent when the subnet has none. */
  gateway?: string;
  /** Effective netID (`spec.address.netID`): subnet netID ?? network netID ?? null. */
  netID: number | null;
  /** IPInstance object name (SPEC §4.3), e.g. `10-14-100-5`. */
  ipInstanceName: string;
}

/**
 * Address counts (SPEC §4.1 usage). All are exact `bigint`s because an IPv6 subnet may hold 2^64 addresses; the CRD
 * status fields are int32, see `toStatusCount`.
 *
 * - `total`: allocatable addresses — in `[start, end]`, not the gateway, not an excludeIP, not a reservedIP (D9).
 * - `used`: allocatable addresses held by a pod, Allocated or Reserved (retained). A reservedIP is never counted, even
 *   when a pod holds it through forced assignment: it was never part of `total`.
 * - `available`: `total − used`, i.e. the allocatable addresses nobody holds (never negative).
 */
export interface Usage {
  total: bigint;
  used: bigint;
  available: bigint;
}

/** Usage of one subnet plus what its status reports (SPEC §2.2 status, §4.1). */
export interface SubnetUsage extends Usage {
  name: string;
  family: IPFamily;
  private: boolean;
  /** `available > 0 ∧ ¬private`: may be chosen automatically (SPEC §4.1 IsAvailable). */
  isAvailable: boolean;
  /** Next-fit cursor address (`status.lastAllocatedIP`), empty when no allocation happened since the last build. */
  lastAllocatedIP: string;
}

/** Usage of one family of a network plus its fill-first cursor (SPEC §2.1 status). */
export interface FamilyUsage extends Usage {
  /** Name of the cursor subnet (`status.lastAllocatedSubnet` / `lastAllocatedIPv6Subnet`), empty without subnets. */
  lastAllocatedSubnet: string;
}

/** Usage of a network (SPEC §2.1 status `statistics`, `ipv6Statistics`, `dualStackStatistics`). */
export interface NetworkUsage {
  name: string;
  ipv4: FamilyUsage;
  ipv6: FamilyUsage;
  /** `available = min(ipv4.available, ipv6.available)`. */
  dualStack: { available: bigint };
  /** Per-subnet usage in slice order (IPv4 subnets by name, then IPv6 subnets by name). */
  subnets: SubnetUsage[];
}

/** Why an IPInstance was left out of the in-memory state during a refresh or rebuild. */
export type SkipReason = 'invalid-address' | 'not-allocatable' | 'duplicate' | 'subnet-not-found';

/** An IPInstance ignored by a refresh/rebuild, with a human explanation (SPEC §4.1 Sync step 6). */
export interface SkippedInstance {
  namespace: string;
  name: string;
  network: string;
  subnet: string;
  ip: string;
  reason: SkipReason;
  message: string;
}

/**
 * Clamps a count to the int32 range of the CRD status `Count` fields (SPEC §2.1, §2.2): values above 2^31 − 1 are
 * reported as 2^31 − 1 (Go would wrap around through uint32 → int32).
 */
export function toStatusCount(count: bigint): number {
  return count > 2147483647n ? 2147483647 : Number(count);
}
