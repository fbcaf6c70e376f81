/**
 * Public surface of `src/api`: CRD types and schemas of Network, Subnet, IPInstance and NodeInfo (SPEC §2), their
 * runtime validators, API locations and CRD builders, the defaulting helpers, and every annotation / label /
 * finalizer / taint constant (SPEC §3).
 */
export * from './constants.ts';
export * from './crd.ts';
export * from './helpers.ts';
export * from './ipinstance.ts';
export * from './meta.ts';
export * from './network.ts';
export * from './nodeinfo.ts';
export * from './resource.ts';
export * from './schema-kit.ts';
export * from './subnet.ts';
export * from './validation.ts';
