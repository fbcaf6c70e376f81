/**
 * Export of subnet state as API objects (used by `IPAMEngine.snapshot`, SPEC §2.2 status).
 */
import type { SubnetState } from './subnet.ts';
import type { IPAMSubnetObject } from './types.ts';

/**
 * The Subnet object a subnet state was built from (modelled fields only, deep-copied), with `status.lastAllocatedIP`
 * set to the current next-fit cursor, so that building from it again restores the cursor.
 */
export function subnetObjectOf(subnet: SubnetState): IPAMSubnetObject {
  const source = subnet.spec.object;
  const range = { ...source.spec.range };
  if (range.reservedIPs != null) range.reservedIPs = [...range.reservedIPs];
  if (range.excludeIPs != null) range.excludeIPs = [...range.excludeIPs];
  const out: IPAMSubnetObject = {
    metadata: { name: source.metadata.name },
    spec: { network: source.spec.network, netID: source.spec.netID ?? null, range },
    status: { lastAllocatedIP: subnet.usage().lastAllocatedIP },
  };
  if (source.spec.config != null) out.spec.config = { ...source.spec.config };
  return out;
}
