/**
 * The pure IPAM engine (SPEC §4.1–§4.2, D1/D9): networks → IPv4/IPv6 subnet slices → subnets on bigint interval
 * sets. No I/O; the manager feeds it API objects and writes back what it returns.
 */
export * from './types.ts';
export * from './errors.ts';
export { IPAMEngine, type IPAMSnapshot, type RefreshReport, type RebuildReport } from './engine.ts';
export { IntervalSet } from './interval-set.ts';
export { canonicalizeSubnet, type CanonicalSubnet } from './canonical-subnet.ts';
export { SubnetState, type HolderInput, type AssignCheck } from './subnet.ts';
export { SubnetSlice } from './subnet-slice.ts';
export { NetworkState, buildNetworkState } from './network.ts';
export { HolderTable, type HolderStatus } from './holders.ts';
