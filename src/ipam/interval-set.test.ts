import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalSet } from './interval-set.ts';

function toArray(set: IntervalSet): [bigint, bigint][] {
  return [...set.intervals()];
}

/** Checks the structural invariants and returns the expanded values (small sets only). */
function expand(set: IntervalSet): bigint[] {
  const out: bigint[] = [];
  let previousHi: bigint | undefined;
  let size = 0n;
  for (const [lo, hi] of set.intervals()) {
    expect(lo <= hi).toBe(true);
    if (previousHi !== undefined) expect(lo > previousHi + 1n).toBe(true); // disjoint and non-adjacent
    previousHi = hi;
    size += hi - lo + 1n;
    for (let v = lo; v <= hi; v++) out.push(v);
  }
  expect(set.size).toBe(size);
  expect(set.intervalCount).toBe(toArray(set).length);
  return out;
}

describe('IntervalSet', () => {
  it('fromRangeExcluding builds the complement of sorted points in one pass', () => {
    const set = IntervalSet.fromRangeExcluding(10n, 20n, [5n, 10n, 12n, 13n, 20n, 25n]);
    expect(toArray(set)).toEqual([
      [11n, 11n],
      [14n, 19n],
    ]);
    expect(set.size).toBe(7n);
    expect(() => IntervalSet.fromRangeExcluding(0n, 9n, [3n, 3n])).toThrow(RangeError);
  });

  it('an empty range gives an empty set', () => {
    const set = IntervalSet.fromRange(5n, 4n);
    expect(set.isEmpty()).toBe(true);
    expect(set.first()).toBeUndefined();
    expect(set.firstAtOrAfter(0n)).toBeUndefined();
    expect(set.size).toBe(0n);
  });

  it('holds a whole IPv6 /64 as one interval and answers at offsets above 2^63', () => {
    const base = 0xfd00_0000_0000_0000_0000_0000_0000_0000n;
    const set = IntervalSet.fromRange(base, base + (1n << 64n) - 1n);
    expect(set.size).toBe(1n << 64n);
    const high = base + (1n << 63n) + 12345n;
    expect(set.firstAtOrAfter(high)).toBe(high);
    expect(set.delete(high)).toBe(true);
    expect(set.has(high)).toBe(false);
    expect(set.firstAtOrAfter(high)).toBe(high + 1n);
    expect(set.intervalCount).toBe(2);
    expect(set.add(high)).toBe(true);
    expect(set.intervalCount).toBe(1);
    expect(set.size).toBe(1n << 64n);
  });

  it('add merges with both neighbours, across chunk boundaries too', () => {
    // 1000 isolated points: several chunks.
    const points = Array.from({ length: 1000 }, (_, i) => BigInt(i * 2));
    const set = IntervalSet.fromIntervals(points.map((p) => [p, p] as const));
    expect(set.intervalCount).toBe(1000);
    for (let i = 0; i < 999; i++) expect(set.add(BigInt(i * 2 + 1))).toBe(true);
    expect(toArray(set)).toEqual([[0n, 1998n]]);
    expect(set.add(5n)).toBe(false);
  });

  it('fromIntervals refuses unsorted or adjacent input', () => {
    expect(() =>
      IntervalSet.fromIntervals([
        [5n, 6n],
        [7n, 8n],
      ]),
    ).toThrow(RangeError);
    expect(() =>
      IntervalSet.fromIntervals([
        [5n, 6n],
        [1n, 2n],
      ]),
    ).toThrow(RangeError);
  });

  it('behaves like a Set of integers under random add/delete/query sequences (model-based)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), x: fc.integer({ min: 0, max: 600 }) }),
      fc.record({ kind: fc.constant('delete' as const), x: fc.integer({ min: 0, max: 600 }) }),
      fc.record({ kind: fc.constant('next' as const), x: fc.integer({ min: 0, max: 620 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 600 }),
        fc.array(op, { maxLength: 400 }),
        (lo, hi, ops) => {
          const set = IntervalSet.fromRange(BigInt(lo), BigInt(hi));
          const model = new Set<number>();
          for (let v = lo; v <= hi; v++) model.add(v);
          for (const { kind, x } of ops) {
            const bx = BigInt(x);
            if (kind === 'add') {
              expect(set.add(bx)).toBe(!model.has(x));
              model.add(x);
            } else if (kind === 'delete') {
              expect(set.delete(bx)).toBe(model.has(x));
              model.delete(x);
            } else {
              const expected = [...model].filter((v) => v >= x).sort((a, b) => a - b)[0];
              expect(set.firstAtOrAfter(bx)).toBe(expected === undefined ? undefined : BigInt(expected));
              expect(set.has(bx)).toBe(model.has(x));
            }
          }
          const sorted = [...model].sort((a, b) => a - b).map(BigInt);
          expect(expand(set)).toEqual(sorted);
          expect(set.first()).toBe(sorted[0]);
          expect(set.last()).toBe(sorted[sorted.length - 1]);
          expect(expand(set.clone())).toEqual(sorted);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps chunk splits consistent under heavy fragmentation', () => {
    const set = IntervalSet.fromRange(0n, 9999n);
    // Delete every third value: ~3333 intervals spread over many chunks.
    for (let v = 0n; v < 10000n; v += 3n) expect(set.delete(v)).toBe(true);
    expect(set.size).toBe(10000n - 3334n);
    expect(set.firstAtOrAfter(3000n)).toBe(3001n);
    for (let v = 0n; v < 10000n; v += 3n) expect(set.add(v)).toBe(true);
    expect(toArray(set)).toEqual([[0n, 9999n]]);
  });
});
