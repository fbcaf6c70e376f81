/**
 * Pod network selection shared by the webhook and the manager (SPEC §4.4): which network,
 * subnets, network type and IP family a pod gets. Pure functions over a read-only cluster view.
 */
export * from './errors.ts';
export * from './select.ts';
export * from './types.ts';
