/**
 * Network value types and encodings: IP addresses and CIDRs on bigint (RFC 791, RFC 4291, RFC 5952, RFC 4632) and the
 * exact naming helpers of SPEC §4.3. Pure functions, no I/O.
 */
export * from './ip.ts';
export * from './cidr.ts';
export * from './encoding.ts';
