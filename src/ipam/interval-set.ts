/**
 * A set of non-negative integers (IP address values) kept as sorted, disjoint, non-adjacent closed intervals
 * `[lo, hi]` on `bigint` (SPEC D1/D9: IPAM never enumerates a range).
 *
 * Layout: a list of chunks, each holding up to `MAX_CHUNK` intervals in two parallel arrays (`lo[]`, `hi[]`). A
 * lookup is a binary search over the chunks' last `hi` followed by a binary search inside one chunk, so every
 * operation costs O(log n + MAX_CHUNK) where n is the number of intervals — never anything proportional to the
 * number of addresses the intervals cover. An IPv6 /64 with nothing allocated is one interval.
 */

/** Maximum number of intervals in one chunk before it is split in two. */
const MAX_CHUNK = 128;
/** Number of intervals per chunk when building from a sorted sequence (room to grow before a split). */
const FILL_CHUNK = 64;

interface Chunk {
  lo: bigint[];
  hi: bigint[];
}

/** Position of an interval: chunk index and index inside that chunk. */
interface Cursor {
  c: number;
  i: number;
}

/**
 * Mutable set of bigint values stored as intervals. Values are compared numerically; the set does not know about
 * address families (callers store IPv4 and IPv6 values in separate sets).
 */
export class IntervalSet {
  private chunks: Chunk[] = [];
  private total = 0n;
  private count = 0;

  /** A set holding every value of `[lo, hi]` (empty when `lo > hi`). */
  static fromRange(lo: bigint, hi: bigint): IntervalSet {
    return IntervalSet.fromRangeExcluding(lo, hi, []);
  }

  /**
   * A set holding every value of `[lo, hi]` except `points`, built in one pass: O(points) time and memory.
   * @param points ascending, duplicate-free values; values outside `[lo, hi]` are ignored.
   * @throws RangeError if `points` is not strictly ascending.
   */
  static fromRangeExcluding(lo: bigint, hi: bigint, points: readonly bigint[]): IntervalSet {
    const set = new IntervalSet();
    let next = lo;
    let previous: bigint | undefined;
    const los: bigint[] = [];
    const his: bigint[] = [];
    for (const p of points) {
      if (previous !== undefined && p <= previous) throw new RangeError('points must be strictly ascending');
      previous = p;
      if (p < lo || p > hi) continue;
      if (p > next) {
        los.push(next);
        his.push(p - 1n);
      }
      next = p + 1n;
    }
    if (next <= hi) {
      los.push(next);
      his.push(hi);
    }
    set.loadSorted(los, his);
    return set;
  }

  /** A set from ascending, disjoint, non-adjacent intervals (as produced by iterating another set). */
  static fromIntervals(intervals: Iterable<readonly [bigint, bigint]>): IntervalSet {
    const los: bigint[] = [];
    const his: bigint[] = [];
    for (const [lo, hi] of intervals) {
      const last = his[his.length - 1];
      if (lo > hi || (last !== undefined && lo <= last + 1n)) {
        throw new RangeError('intervals must be ascending, disjoint and non-adjacent');
      }
      los.push(lo);
      his.push(hi);
    }
    const set = new IntervalSet();
    set.loadSorted(los, his);
    return set;
  }

  private loadSorted(los: bigint[], his: bigint[]): void {
    this.chunks = [];
    this.total = 0n;
    for (let k = 0; k < los.length; k += FILL_CHUNK) {
      this.chunks.push({ lo: los.slice(k, k + FILL_CHUNK), hi: his.slice(k, k + FILL_CHUNK) });
    }
    for (let k = 0; k < los.length; k++) this.total += his[k]! - los[k]! + 1n;
    this.count = los.length;
  }

  /** Number of values in the set (may exceed 2^53: a free IPv6 /64 holds 2^64 values). */
  get size(): bigint {
    return this.total;
  }

  /** Number of disjoint intervals (the memory cost of the set is proportional to this). */
  get intervalCount(): number {
    return this.count;
  }

  /** Whether the set holds no value. */
  isEmpty(): boolean {
    return this.count === 0;
  }

  /** The smallest value, or `undefined` when empty. */
  first(): bigint | undefined {
    return this.chunks[0]?.lo[0];
  }

  /** The largest value, or `undefined` when empty. */
  last(): bigint | undefined {
    const chunk = this.chunks[this.chunks.length - 1];
    return chunk?.hi[chunk.hi.length - 1];
  }

  /** Position of the first interval whose `hi` is ≥ x; `c === chunks.length` when there is none. */
  private locate(x: bigint): Cursor {
    const chunks = this.chunks;
    let a = 0;
    let b = chunks.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      const his = chunks[m]!.hi;
      if (his[his.length - 1]! < x) a = m + 1;
      else b = m;
    }
    if (a === chunks.length) return { c: a, i: 0 };
    const his = chunks[a]!.hi;
    let lo = 0;
    let hi = his.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (his[m]! < x) lo = m + 1;
      else hi = m;
    }
    return { c: a, i: lo };
  }

  /** Whether `x` is in the set. O(log n). */
  has(x: bigint): boolean {
    const { c, i } = this.locate(x);
    const chunk = this.chunks[c];
    return chunk !== undefined && chunk.lo[i]! <= x;
  }

  /** The smallest value ≥ `x`, or `undefined` when there is none (successor query). O(log n). */
  firstAtOrAfter(x: bigint): bigint | undefined {
    const { c, i } = this.locate(x);
    const chunk = this.chunks[c];
    if (chunk === undefined) return undefined;
    const lo = chunk.lo[i]!;
    return lo > x ? lo : x;
  }

  /**
   * Removes `x` from the set. O(log n + MAX_CHUNK).
   * @returns `true` if `x` was in the set.
   */
  delete(x: bigint): boolean {
    const { c, i } = this.locate(x);
    const chunk = this.chunks[c];
    if (chunk === undefined) return false;
    const lo = chunk.lo[i]!;
    const hi = chunk.hi[i]!;
    if (lo > x) return false;
    if (lo === hi) {
      chunk.lo.splice(i, 1);
      chunk.hi.splice(i, 1);
      this.count--;
      if (chunk.lo.length === 0) this.chunks.splice(c, 1);
    } else if (x === lo) {
      chunk.lo[i] = lo + 1n;
    } else if (x === hi) {
      chunk.hi[i] = hi - 1n;
    } else {
      chunk.hi[i] = x - 1n;
      chunk.lo.splice(i + 1, 0, x + 1n);
      chunk.hi.splice(i + 1, 0, hi);
      this.count++;
      this.splitIfFull(c);
    }
    this.total--;
    return true;
  }

  /**
   * Adds `x` to the set, merging with adjacent intervals. O(log n + MAX_CHUNK).
   * @returns `true` if `x` was not already in the set.
   */
  add(x: bigint): boolean {
    const { c, i } = this.locate(x);
    const chunks = this.chunks;
    const next = chunks[c];
    if (next !== undefined && next.lo[i]! <= x) return false;
    // The interval before position (c, i), possibly at the end of the previous chunk.
    let pc = c;
    let pi = i - 1;
    if (pi < 0) {
      pc = c - 1;
      pi = pc >= 0 ? chunks[pc]!.lo.length - 1 : -1;
    }
    const prev = pc >= 0 ? chunks[pc] : undefined;
    const joinsPrev = prev !== undefined && prev.hi[pi]! === x - 1n;
    const joinsNext = next !== undefined && next.lo[i]! === x + 1n;
    if (joinsPrev && joinsNext) {
      prev.hi[pi] = next.hi[i]!;
      next.lo.splice(i, 1);
      next.hi.splice(i, 1);
      this.count--;
      if (next.lo.length === 0) chunks.splice(c, 1);
    } else if (joinsPrev) {
      prev.hi[pi] = x;
    } else if (joinsNext) {
      next.lo[i] = x;
    } else if (next !== undefined) {
      next.lo.splice(i, 0, x);
      next.hi.splice(i, 0, x);
      this.count++;
      this.splitIfFull(c);
    } else if (prev !== undefined) {
      prev.lo.push(x);
      prev.hi.push(x);
      this.count++;
      this.splitIfFull(pc);
    } else {
      chunks.push({ lo: [x], hi: [x] });
      this.count++;
    }
    this.total++;
    return true;
  }

  private splitIfFull(c: number): void {
    const chunk = this.chunks[c]!;
    if (chunk.lo.length <= MAX_CHUNK) return;
    const half = chunk.lo.length >>> 1;
    const right: Chunk = { lo: chunk.lo.splice(half), hi: chunk.hi.splice(half) };
    this.chunks.splice(c + 1, 0, right);
  }

  /** The intervals `[lo, hi]` in ascending order. Do not mutate the set while iterating. */
  *intervals(): IterableIterator<[bigint, bigint]> {
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.lo.length; i++) yield [chunk.lo[i]!, chunk.hi[i]!];
    }
  }

  /** An independent copy (used to check invariants in tests and to compare states). */
  clone(): IntervalSet {
    const copy = new IntervalSet();
    copy.chunks = this.chunks.map((ch) => ({ lo: ch.lo.slice(), hi: ch.hi.slice() }));
    copy.total = this.total;
    copy.count = this.count;
    return copy;
  }
}
