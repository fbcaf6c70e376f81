/**
 * Property tests of the IPAM invariants (DESIGN "Testing tiers" 1; SPEC §4.1–§4.2, D1/D9) over random subnets of both
 * families — small ones (enumerated by the checks) and huge ones (/8, /64: never enumerated) — with random start, end,
 * gateway, excludeIPs, reservedIPs, private flags and cursors, and random operation sequences.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IPFamily, formatIPValue, parseIP } from '../net/index.ts';
import { IPAMEngine, type IPAMSnapshot } from './engine.ts';
import { IPAMError } from './errors.ts';
import { networkObject, subnetObject } from './fixtures.ts';
import type { AllocatedIP, IPAMSubnetObject, IPFamilyMode, PodRef } from './types.ts';

// ---------------------------------------------------------------------------------------------------------------
// Random subnets

/** An offset inside a CIDR: near the bottom, near the top, or anywhere. */
type Offset = { at: 'low' | 'high' | 'any'; n: bigint };
const offsetArb: fc.Arbitrary<Offset> = fc.oneof(
  fc.integer({ min: 0, max: 12 }).map((n) => ({ at: 'low' as const, n: BigInt(n) })),
  fc.integer({ min: 0, max: 12 }).map((n) => ({ at: 'high' as const, n: BigInt(n) })),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => ({ at: 'any' as const, n })),
);
function resolve(o: Offset, size: bigint): bigint {
  if (o.at === 'low') return o.n < size ? o.n : size - 1n;
  if (o.at === 'high') return o.n < size ? size - 1n - o.n : 0n;
  return o.n % size;
}

const subnetConfigArb = fc.record({
  huge: fc.boolean(),
  prefixDelta: fc.integer({ min: 0, max: 6 }),
  start: fc.option(offsetArb, { freq: 2 }),
  end: fc.option(offsetArb, { freq: 2 }),
  gateway: fc.option(offsetArb),
  excludeIPs: fc.array(offsetArb, { maxLength: 4 }),
  reservedIPs: fc.array(offsetArb, { maxLength: 4 }),
  private: fc.integer({ min: 0, max: 4 }).map((n) => n === 0), // one subnet in five is private
  lastAllocatedIP: fc.option(offsetArb),
  netID: fc.option(fc.integer({ min: 0, max: 4094 })),
});
type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;
type SubnetConfig = ValueOf<typeof subnetConfigArb>;

/** The independent view of a subnet the checks use (computed from the config, not by the engine). */
interface Model {
  name: string;
  family: IPFamily;
  size: bigint;
  start: bigint;
  end: bigint;
  gateway: bigint | undefined;
  excluded: Set<bigint>;
  reserved: Set<bigint>;
  private: boolean;
  interesting: bigint[];
}

function makeSubnet(family: IPFamily, index: number, c: SubnetConfig): { object: IPAMSubnetObject; model: Model } {
  const name = `${family === 4 ? 'v4' : 'v6'}-${index}`;
  const prefix = family === 4 ? (c.huge ? 8 : 24 + c.prefixDelta) : c.huge ? 64 : 120 + c.prefixDelta;
  const network = family === 4 ? BigInt(10 + index) << 24n : (0xfd00n << 112n) | (BigInt(index) << 64n);
  const size = 1n << BigInt((family === 4 ? 32 : 128) - prefix);
  const at = (o: Offset): bigint => network + resolve(o, size);
  const text = (v: bigint): string => formatIPValue(family, v);
  const start = c.start === null ? network + 1n : at(c.start);
  const end = c.end === null ? network + size - (family === 4 ? 2n : 1n) : at(c.end);
  const gateway = c.gateway === null ? undefined : at(c.gateway);
  const excluded = c.excludeIPs.map(at);
  const reserved = c.reservedIPs.map(at);
  const range: Parameters<typeof subnetObject>[2] = { cidr: `${text(network)}/${prefix}` };
  if (c.start !== null) range.start = text(start);
  if (c.end !== null) range.end = text(end);
  if (gateway !== undefined) range.gateway = text(gateway);
  if (excluded.length > 0) range.excludeIPs = excluded.map(text);
  if (reserved.length > 0) range.reservedIPs = reserved.map(text);
  const object = subnetObject(name, 'net', range, {
    private: c.private,
    netID: c.netID,
    ...(c.lastAllocatedIP === null ? {} : { lastAllocatedIP: text(at(c.lastAllocatedIP)) }),
  });
  const middle = start + (end - start) / 2n;
  const interesting = [start - 1n, start, start + 1n, start + 2n, start + 3n, middle, end - 1n, end, end + 1n];
  interesting.push(...excluded, ...reserved);
  if (gateway !== undefined) interesting.push(gateway);
  return {
    object,
    model: {
      name,
      family,
      size,
      start,
      end,
      gateway,
      excluded: new Set(excluded),
      reserved: new Set(reserved),
      private: c.private,
      interesting: interesting.filter((v) => v >= network && v < network + size),
    },
  };
}

const contains = (m: Model, v: bigint): boolean => v >= m.start && v <= m.end && v !== m.gateway && !m.excluded.has(v);
const allocatable = (m: Model, v: bigint): boolean => contains(m, v) && !m.reserved.has(v);

// ---------------------------------------------------------------------------------------------------------------
// Random operations

const podArb = fc.record({
  ns: fc.integer({ min: 0, max: 1 }),
  name: fc.integer({ min: 0, max: 4 }),
  node: fc.integer({ min: 0, max: 1 }),
});
const toPod = (p: ValueOf<typeof podArb>): PodRef => ({
  namespace: `ns${p.ns}`,
  name: `pod${p.name}`,
  nodeName: `node${p.node}`,
  uid: `uid${p.ns}-${p.name}-${p.node}`,
});
const modeArb = fc.constantFrom<IPFamilyMode>('IPv4Only', 'IPv6Only', 'DualStack');
const pickArb = fc.record({ held: fc.boolean(), i: fc.nat() });
const opArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('allocate' as const),
      mode: modeArb,
      // auto: no subnet named; right: one name per family of the mode; random: any names (often invalid)
      style: fc.constantFrom('auto', 'auto', 'auto', 'right', 'right', 'random'),
      subnets: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 3 }),
      pod: podArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('assign' as const),
      mode: modeArb,
      // mostly the right number of suites for the mode; sometimes a random number (invalid requests)
      rightCount: fc.integer({ min: 0, max: 7 }).map((n) => n > 0),
      picks: fc.array(pickArb, { minLength: 2, maxLength: 3 }),
      extra: fc.nat({ max: 3 }),
      named: fc.boolean(),
      force: fc.boolean(),
      pod: podArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      picks: fc.array(pickArb, { minLength: 1, maxLength: 2 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      picks: fc.array(pickArb, { minLength: 1, maxLength: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('refresh' as const), inPlace: fc.boolean() }) },
);

const scenarioArb = fc.record({
  // one network in ten lacks the IPv4 or the IPv6 family entirely
  v4: fc.oneof(
    { weight: 1, arbitrary: fc.constant<SubnetConfig[]>([]) },
    { weight: 9, arbitrary: fc.array(subnetConfigArb, { minLength: 1, maxLength: 3 }) },
  ),
  v6: fc.oneof(
    { weight: 1, arbitrary: fc.constant<SubnetConfig[]>([]) },
    { weight: 9, arbitrary: fc.array(subnetConfigArb, { minLength: 1, maxLength: 3 }) },
  ),
  netID: fc.option(fc.integer({ min: 0, max: 4094 })),
  cursor4: fc.nat({ max: 3 }),
  cursor6: fc.nat({ max: 3 }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }),
});

// ---------------------------------------------------------------------------------------------------------------
// Checks

interface Held {
  subnet: string;
  value: bigint;
  namespace: string;
  podName: string;
  nodeName: string;
}

function heldOf(snap: IPAMSnapshot): Map<string, Held> {
  const out = new Map<string, Held>();
  for (const i of snap.instances) {
    const ip = parseIP(i.spec.address.ip.split('/')[0]!);
    const key = `${i.spec.subnet}|${ip.value}`;
    expect(out.has(key)).toBe(false); // one holder per address
    out.set(key, {
      subnet: i.spec.subnet,
      value: ip.value,
      namespace: i.metadata.namespace ?? '',
      podName: i.spec.binding.podName ?? '',
      nodeName: i.spec.binding.nodeName ?? '',
    });
  }
  return out;
}

/** Invariants that hold after every operation. */
function checkState(engine: IPAMEngine, models: Map<string, Model>): void {
  const snap = engine.snapshot();
  const held = [...heldOf(snap).values()];
  // never outside [start,end], never the gateway or an excludeIP
  expect(held.filter((h) => !contains(models.get(h.subnet)!, h.value))).toEqual([]);
  // statistics equal a recount from the snapshot and the specs
  const usage = engine.networkUsage('net');
  const sums = { 4: [0n, 0n, 0n], 6: [0n, 0n, 0n] };
  for (const m of models.values()) {
    const blocked = new Set([...m.excluded, ...m.reserved, ...(m.gateway === undefined ? [] : [m.gateway])]);
    const inRange = m.end >= m.start ? m.end - m.start + 1n : 0n;
    const total = inRange - BigInt([...blocked].filter((v) => v >= m.start && v <= m.end).length);
    const mine = held.filter((h) => h.subnet === m.name);
    const used = BigInt(mine.filter((h) => !m.reserved.has(h.value)).length);
    const u = engine.subnetUsage('net', m.name);
    expect([u.total, u.used, u.available]).toEqual([total, used, total - used]);
    expect(u.isAvailable).toBe(total > used && !m.private);
    const state = engine.network('net').subnet(m.name)!;
    expect(state.freeCount).toBe(total - used);
    const wrong: bigint[] = [];
    if (m.size <= 256n) {
      const heldValues = new Set(mine.map((h) => h.value));
      for (let v = m.start - 1n; v <= m.end + 1n; v++) {
        if (state.isFree(v) !== (allocatable(m, v) && !heldValues.has(v))) wrong.push(v);
      }
    } else {
      for (const [lo, hi] of state.freeIntervals()) {
        if (lo < m.start || hi > m.end) wrong.push(lo, hi);
      }
      for (const v of [...blocked, ...mine.map((h) => h.value)]) if (state.isFree(v)) wrong.push(v);
    }
    expect(wrong).toEqual([]);
    const s = sums[m.family];
    s[0]! += total;
    s[1]! += used;
    s[2]! += total - used;
  }
  expect([usage.ipv4.total, usage.ipv4.used, usage.ipv4.available]).toEqual(sums[4]);
  expect([usage.ipv6.total, usage.ipv6.used, usage.ipv6.available]).toEqual(sums[6]);
  const min = sums[4][2]! < sums[6][2]! ? sums[4][2]! : sums[6][2]!;
  expect(usage.dualStack.available).toBe(min);
}

type Outcome = { ok: AllocatedIP[] | number } | { error: string };

function run(fn: () => AllocatedIP[] | number): Outcome {
  try {
    return { ok: fn() };
  } catch (err) {
    if (!(err instanceof IPAMError)) throw err;
    return { error: `${err.name}: ${err.message}` };
  }
}

describe('IPAM invariants (property tests)', () => {
  // Generous timeout: the suite shares 2 cores with other test files; this is not a timing assertion.
  it('hold for random subnets and random operation sequences', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const made = [...sc.v4.map((c, i) => makeSubnet(4, i, c)), ...sc.v6.map((c, i) => makeSubnet(6, i, c))];
        const models = new Map(made.map((m) => [m.model.name, m.model]));
        const names = made.map((m) => m.model.name);
        const network = networkObject('net', {
          netID: sc.netID,
          lastAllocatedSubnet: `v4-${sc.cursor4}`,
          lastAllocatedIPv6Subnet: `v6-${sc.cursor6}`,
        });
        let engines = [new IPAMEngine()];
        const report = engines[0]!.rebuild(
          [network],
          made.map((m) => m.object),
          [],
        );
        expect(report).toEqual({ skipped: [], failed: [] });
        checkState(engines[0]!, models);

        const interestingOf = (family: IPFamily): { subnet: string; value: bigint }[] =>
          [...models.values()]
            .filter((m) => m.family === family)
            .flatMap((m) => m.interesting.map((value) => ({ subnet: m.name, value })));
        const pick = (p: { held: boolean; i: number }, family: IPFamily, held: Held[]) => {
          const pool = p.held ? held.filter((h) => models.get(h.subnet)!.family === family) : [];
          const source = pool.length > 0 ? pool : interestingOf(family);
          return source.length === 0 ? undefined : source[p.i % source.length];
        };

        for (const op of sc.ops) {
          const engine = engines[0]!;
          const before = engine.snapshot();
          const heldBefore = heldOf(before);
          const held = [...heldBefore.values()];
          let apply: (e: IPAMEngine) => AllocatedIP[] | number;
          let automatic = false;
          if (op.kind === 'allocate') {
            const fams: IPFamily[] = op.mode === 'DualStack' ? [4, 6] : op.mode === 'IPv4Only' ? [4] : [6];
            const ofFamily = (f: IPFamily, i: number): string => {
              const candidates = names.filter((n) => models.get(n)!.family === f);
              return candidates[i % Math.max(1, candidates.length)] ?? 'nope';
            };
            const subnets =
              op.style === 'auto'
                ? []
                : op.style === 'right'
                  ? fams.map((f, k) => ofFamily(f, op.subnets[k] ?? 0))
                  : op.subnets.map((i) => names[i] ?? 'nope');
            automatic = subnets.length === 0;
            apply = (e) => e.allocate('net', toPod(op.pod), op.mode, subnets);
          } else if (op.kind === 'assign') {
            const families: IPFamily[] = op.mode === 'DualStack' ? [4, 6] : op.mode === 'IPv4Only' ? [4] : [6];
            const picks = op.rightCount ? op.picks.slice(0, families.length) : op.picks.slice(0, op.extra);
            const suites = picks.flatMap((p, i) => {
              const t = pick(p, families[i] ?? 4, held);
              if (t === undefined) return [];
              const ip = formatIPValue(models.get(t.subnet)!.family, t.value);
              return [op.named ? { subnet: t.subnet, ip } : { ip }];
            });
            apply = (e) => e.assign('net', toPod(op.pod), op.mode, suites, op.force);
          } else if (op.kind === 'release' || op.kind === 'reserve') {
            const suites = op.picks.flatMap((p, i) => {
              const t = pick(p, i % 2 === 0 ? 4 : 6, held);
              return t === undefined
                ? []
                : [{ subnet: t.subnet, ip: formatIPValue(models.get(t.subnet)!.family, t.value) }];
            });
            apply = (e) => (op.kind === 'release' ? e.release('net', suites) : e.reserve('net', suites));
          } else {
            // refresh: rebuild a fresh engine from the snapshot; from now on both must behave identically.
            const fresh = new IPAMEngine();
            if (op.inPlace) {
              engine.refreshNetwork(before.networks[0]!, before.subnets, before.instances);
              expect(engine.snapshot()).toEqual(before);
            }
            expect(fresh.rebuild(before.networks, before.subnets, before.instances)).toEqual({
              skipped: [],
              failed: [],
            });
            expect(fresh.snapshot()).toEqual(before);
            engines = [engine, fresh];
            continue;
          }

          const outcomes = engines.map((e) => run(() => apply(e)));
          for (const o of outcomes.slice(1)) expect(o).toEqual(outcomes[0]);
          const after = engine.snapshot();
          for (const e of engines.slice(1)) expect(e.snapshot()).toEqual(after);
          const outcome = outcomes[0]!;
          if ('error' in outcome) {
            // a failed operation leaves no trace (DualStack included: addresses and every cursor)
            expect(after).toEqual(before);
          } else if (op.kind === 'allocate' || op.kind === 'assign') {
            const results = outcome.ok as AllocatedIP[];
            const wanted: IPFamily[] = op.mode === 'DualStack' ? [4, 6] : op.mode === 'IPv4Only' ? [4] : [6];
            expect(results.map((r) => r.family)).toEqual(wanted);
            const heldAfter = heldOf(after);
            for (const r of results) {
              const m = models.get(r.subnet)!;
              const key = `${r.subnet}|${r.value}`;
              const prior = heldBefore.get(key);
              const now = heldAfter.get(key)!;
              expect(now).toMatchObject({ namespace: `ns${op.pod.ns}`, podName: `pod${op.pod.name}` });
              expect(r.ip).toBe(formatIPValue(m.family, r.value));
              if (op.kind === 'allocate') {
                // never an address somebody holds, never a reservedIP, never private unless named
                expect(prior).toBeUndefined();
                expect(allocatable(m, r.value)).toBe(true);
                if (automatic) expect(m.private).toBe(false);
              } else {
                const samePod = prior?.namespace === `ns${op.pod.ns}` && prior.podName === `pod${op.pod.name}`;
                if (prior !== undefined && !samePod) {
                  // only a Reserved address, and only by force
                  expect(op.force).toBe(true);
                  expect(prior.nodeName).toBe('');
                }
                // reservedIPs only by force (or kept by the same pod that took them by force)
                if (prior === undefined && m.reserved.has(r.value)) expect(op.force).toBe(true);
              }
            }
            // nothing else changed hands
            const changed = [...heldAfter.keys()].filter(
              (k) =>
                JSON.stringify(heldAfter.get(k), (_, x: unknown) => (typeof x === 'bigint' ? `${x}` : x)) !==
                JSON.stringify(heldBefore.get(k), (_, x: unknown) => (typeof x === 'bigint' ? `${x}` : x)),
            );
            expect(changed.length).toBeLessThanOrEqual(results.length);
          }
          checkState(engine, models);
        }
      }),
      { numRuns: 120 },
    );
  });
});
