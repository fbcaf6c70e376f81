/**
 * Exclude blocks of a subnet (SPEC §7.4): the addresses of the CIDR that pods never get — outside [start, end] (only
 * when start or end is set), every excludeIP and the gateway — as the minimal list of aligned CIDR blocks, in address
 * order. They become `throw` routes so that lookup continues with the next rule.
 */
import type { AddressRange } from '../../api/index.ts';
import { cidrFirst, cidrLast, familyBits, formatIPValue, parseCIDR, parseIP, type IPFamily } from '../../net/index.ts';

/** Minimal aligned CIDR blocks covering [lo, hi] (RFC 4632 range-to-prefix). */
export function rangeToBlocks(family: IPFamily, lo: bigint, hi: bigint): string[] {
  const bits = familyBits(family);
  const out: string[] = [];
  let cur = lo;
  while (cur <= hi) {
    let size = 0;
    while (size < bits) {
      const next = size + 1;
      const blockSize = 1n << BigInt(next);
      if (cur % blockSize !== 0n || cur + blockSize - 1n > hi) break;
      size = next;
    }
    out.push(`${formatIPValue(family, cur)}/${bits - size}`);
    cur += 1n << BigInt(size);
  }
  return out;
}

/** Exclude blocks of `range` (see module doc). Invalid addresses are ignored (the webhook refuses them). */
export function excludeBlocks(range: AddressRange): string[] {
  const cidr = parseCIDR(range.cidr);
  const first = cidrFirst(cidr);
  const last = cidrLast(cidr);
  const intervals: [bigint, bigint][] = [];
  const value = (text: string | undefined): bigint | undefined => {
    if (!text) return undefined;
    try {
      const ip = parseIP(text);
      return ip.family === cidr.family ? ip.value : undefined;
    } catch {
      return undefined;
    }
  };
  if (range.start || range.end) {
    const start = value(range.start) ?? first;
    const end = value(range.end) ?? last;
    if (start > first) intervals.push([first, start - 1n]);
    if (end < last) intervals.push([end + 1n, last]);
  }
  for (const t of [...(range.excludeIPs ?? []), range.gateway]) {
    const v = value(t);
    if (v !== undefined && v >= first && v <= last) intervals.push([v, v]);
  }
  intervals.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const iv of intervals) {
    const top = merged[merged.length - 1];
    if (top && iv[0] <= top[1] + 1n) {
      if (iv[1] > top[1]) top[1] = iv[1];
    } else merged.push([iv[0], iv[1]]);
  }
  return merged.flatMap(([lo, hi]) => rangeToBlocks(cidr.family, lo, hi));
}
