/**
 * Defaulting rules of the CRD fields that the schema cannot express (an empty or null field means a default that
 * depends on another field). SPEC §2.1, §2.2. Parameters are the minimal shapes needed, so partial objects (e.g. from a
 * patch or a test) can be passed as well as full `Network` / `Subnet` objects.
 */
import { DEFAULT_NETWORK_MODE_OF_TYPE, NetworkType } from './constants.ts';
import type { NetworkMode } from './constants.ts';

/** The part of a Network that the defaulting helpers read. */
export interface NetworkLike {
  readonly spec: { readonly type?: NetworkType | ''; readonly mode?: NetworkMode | ''; readonly netID?: number | null };
}

/** The part of a Subnet that the defaulting helpers read. */
export interface SubnetLike {
  readonly spec: {
    readonly netID?: number | null;
    readonly config?: { readonly autoNatOutgoing?: boolean | null; readonly private?: boolean | null };
  };
}

/** The type of `network`: `spec.type`, or `Underlay` when empty or absent (SPEC §2.1). */
export function effectiveNetworkType(network: NetworkLike): NetworkType {
  const type = network.spec.type;
  return type === undefined || type === '' ? NetworkType.Underlay : type;
}

/**
 * The mode of `network`: `spec.mode`, or when empty/absent the default of its effective type: Underlay → `VLAN`,
 * Overlay → `VXLAN`, GlobalBGP → `GlobalBGP` (SPEC §2.1). Does not check that mode and type fit together (the webhook
 * does, SPEC §5.2).
 */
export function effectiveNetworkMode(network: NetworkLike): NetworkMode {
  const mode = network.spec.mode;
  return mode === undefined || mode === '' ? DEFAULT_NETWORK_MODE_OF_TYPE[effectiveNetworkType(network)] : mode;
}

/**
 * The netID that applies to addresses of `subnet`: `subnet.spec.netID ?? network.spec.netID`, or `null` when neither
 * is set or `network` is unknown (SPEC §2.2, §4.1). For VLAN networks this is the VLAN id written into
 * `IPInstance.spec.address.netID`.
 */
export function effectiveSubnetNetID(subnet: SubnetLike, network: NetworkLike | undefined): number | null {
  return subnet.spec.netID ?? network?.spec.netID ?? null;
}

/**
 * True when `subnet` is private (`spec.config.private === true`): it is never chosen automatically, only by an
 * explicit specified-subnet or IP assignment. Null/absent means false (SPEC §2.2).
 */
export function isPrivateSubnet(subnet: SubnetLike): boolean {
  return subnet.spec.config?.private === true;
}

/**
 * Whether pod traffic from `subnet` leaving the cluster is SNATed: `spec.config.autoNatOutgoing`, default `true` when
 * null/absent (SPEC §2.2). Only meaningful for Overlay subnets; the webhook refuses the field elsewhere (SPEC §5.3).
 */
export function autoNatOutgoing(subnet: SubnetLike): boolean {
  return subnet.spec.config?.autoNatOutgoing ?? true;
}
