/**
 * Typed IPAM errors (CONVENTIONS: one class per failure a caller can act on, carrying the fields that explain it).
 *
 * Every message names the network, the subnet, the family and the address involved where they apply, and starts
 * with the Go sentinel text where the original had one (`no available subnet`, `subnet not found`, `assigned ip not
 * found`, `assigned ip is not available`, `only support two assigned subnets when DualStack family`), so events and
 * logs stay recognisable to users of the original.
 */
import type { IPFamily } from '../net/index.ts';

/** What an IPAM error is about. All fields optional; set where they apply. */
export interface IPAMErrorContext {
  network?: string;
  subnet?: string;
  family?: IPFamily;
  /** Address text as given or as formatted. */
  address?: string;
  /** `namespace/name` of the pod. */
  pod?: string;
}

/** Base class of every error the IPAM engine throws on purpose. `code` is a stable machine-readable kind. */
export abstract class IPAMError extends Error {
  abstract readonly code: string;
  readonly network?: string;
  readonly subnet?: string;
  readonly family?: IPFamily;
  readonly address?: string;
  readonly pod?: string;

  constructor(message: string, context: IPAMErrorContext) {
    super(message);
    this.name = new.target.name;
    if (context.network !== undefined) this.network = context.network;
    if (context.subnet !== undefined) this.subnet = context.subnet;
    if (context.family !== undefined) this.family = context.family;
    if (context.address !== undefined) this.address = context.address;
    if (context.pod !== undefined) this.pod = context.pod;
  }
}

/** The network is not in the IPAM state (never refreshed, or deleted). */
export class NetworkNotFoundError extends IPAMError {
  readonly code = 'NetworkNotFound';
  constructor(network: string) {
    super(`network not found: network "${network}" is not known to the IPAM (not created yet or deleted)`, {
      network,
    });
  }
}

/** A named subnet does not exist in the network, or not in the family asked for (SPEC §4.2). */
export class SubnetNotFoundError extends IPAMError {
  readonly code = 'SubnetNotFound';
  constructor(context: IPAMErrorContext & { network: string; subnet: string }, detail?: string) {
    const fam = context.family === undefined ? '' : `IPv${context.family} `;
    super(
      `subnet not found: no ${fam}subnet "${context.subnet}" in network "${context.network}"` +
        (detail === undefined ? '' : ` (${detail})`),
      context,
    );
  }
}

/** Fill-first selection found no subnet with room (all full or private, or none of that family) (SPEC §4.1). */
export class NoAvailableSubnetError extends IPAMError {
  readonly code = 'NoAvailableSubnet';
  constructor(network: string, family: IPFamily, subnetNames: readonly string[]) {
    super(
      `no available subnet for IPv${family} in network "${network}" ` +
        (subnetNames.length === 0
          ? `(the network has no IPv${family} subnet; create one)`
          : `(subnets: ${subnetNames.join(', ')}; all full or private): add a subnet or free addresses`),
      { network, family },
    );
  }
}

/** The chosen subnet has no free allocatable address (SPEC §4.2 AllocateNext returned nil). */
export class NoAvailableIPError extends IPAMError {
  readonly code = 'NoAvailableIP';
  constructor(context: IPAMErrorContext & { network: string; subnet: string; family: IPFamily }, detail: string) {
    super(
      `no available IPv${context.family} address in subnet "${context.subnet}" of network "${context.network}" (${detail})`,
      context,
    );
  }
}

/** An assigned address is not an allocatable address of the subnet (SPEC §4.2 Assign: `assigned ip not found`). */
export class AssignedIPNotInSubnetError extends IPAMError {
  readonly code = 'AssignedIPNotInSubnet';
  constructor(context: IPAMErrorContext & { network: string; address: string; family: IPFamily }, detail: string) {
    super(`assigned ip not found: ${context.address} ${detail}`, context);
  }
}

/** An assigned address is held by another pod (or is a reservedIP and the assignment is not forced) (SPEC §4.2). */
export class AssignedIPNotAvailableError extends IPAMError {
  readonly code = 'AssignedIPNotAvailable';
  constructor(context: IPAMErrorContext & { network: string; subnet: string; address: string }, detail: string) {
    super(
      `assigned ip is not available: ${context.address} in subnet "${context.subnet}" of network "${context.network}" ${detail}`,
      context,
    );
  }
}

/** A Subnet object cannot be turned into an allocator (SPEC §4.1 Canonicalize). `field` is the offending path. */
export class InvalidSubnetError extends IPAMError {
  readonly code = 'InvalidSubnet';
  readonly field?: string;
  constructor(context: IPAMErrorContext & { subnet: string }, reason: string, field?: string) {
    super(
      `canonicalize subnet failed: subnet "${context.subnet}"` +
        (context.network === undefined || context.network === '' ? '' : ` of network "${context.network}"`) +
        `: ${field === undefined ? '' : `${field}: `}${reason}`,
      context,
    );
    if (field !== undefined) this.field = field;
  }
}

/** A request is malformed: empty pod name, unknown family, wrong number of subnets/suites, bad IP text … */
export class InvalidRequestError extends IPAMError {
  readonly code = 'InvalidRequest';
  constructor(message: string, context: IPAMErrorContext = {}) {
    super(message, context);
  }
}
