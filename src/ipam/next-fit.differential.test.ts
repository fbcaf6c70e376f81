/**
 * Differential test: next-fit allocation, release and usage equal a transcription of the Go data structure
 * (materialised `AvailableIPs` + rotation index + `UsingIPs`, SPEC §4.1/§4.2) on small random subnets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IPFamily, formatIPValue } from '../net/index.ts';
import { IPAMEngine } from './engine.ts';
import { instanceObject, networkObject, pod, subnetObject } from './fixtures.ts';

interface Model {
  family: IPFamily;
  start: bigint;
  end: bigint;
  gateway: bigint | undefined;
  excluded: Set<bigint>;
  reserved: Set<bigint>;
}
const contains = (m: Model, v: bigint): boolean => v >= m.start && v <= m.end && v !== m.gateway && !m.excluded.has(v);
const allocatable = (m: Model, v: bigint): boolean => contains(m, v) && !m.reserved.has(v);

/** Random small subnet: an IPv4 /26–/29 or IPv6 /122–/125 with random range and address lists (offsets). */
const configArb = fc.record({
  family: fc.constantFrom<IPFamily>(4, 6),
  hostBits: fc.integer({ min: 3, max: 6 }),
  start: fc.option(fc.nat(), { freq: 2 }),
  end: fc.option(fc.nat(), { freq: 2 }),
  gateway: fc.option(fc.nat()),
  excludeIPs: fc.array(fc.nat(), { maxLength: 4 }),
  reservedIPs: fc.array(fc.nat(), { maxLength: 4 }),
  lastAllocatedIP: fc.option(fc.nat()),
  held: fc.array(fc.record({ at: fc.nat(), reserved: fc.boolean() }), { maxLength: 12 }),
});

/** The Go `Subnet` of SPEC §4.1/§4.2, materialised — usable for small subnets only. */
class GoSubnet {
  readonly available: bigint[];
  index: number;
  readonly using = new Map<bigint, { pod: string; reserved: boolean }>();
  constructor(
    readonly m: Model,
    held: { value: bigint; pod: string; reserved: boolean }[],
    last: bigint | undefined,
  ) {
    this.available = [];
    for (let v = m.start; v <= m.end; v++) if (allocatable(m, v)) this.available.push(v);
    this.index = last === undefined ? -1 : this.available.indexOf(last);
    for (const h of held) if (contains(m, h.value) && !this.using.has(h.value)) this.using.set(h.value, h);
    for (const r of m.reserved) {
      if (contains(m, r) && !this.using.has(r)) this.using.set(r, { pod: '', reserved: true });
    }
  }
  get reservedCount(): number {
    return [...this.m.reserved].filter((r) => contains(this.m, r)).length;
  }
  allocateNext(pod: string): bigint | undefined {
    // Deliberate difference: Go's failed AllocateNext moves an unset cursor (−1) to the last address (N steps of
    // +1 mod N); that changes only the reported lastAllocatedIP, not the next choice. Ours leaves no trace.
    const start = this.index;
    for (let i = 0; i < this.available.length; i++) {
      this.index = (this.index + 1) % this.available.length;
      const candidate = this.available[this.index]!;
      if (this.using.has(candidate)) continue;
      this.using.set(candidate, { pod, reserved: false });
      return candidate;
    }
    this.index = start;
    return undefined;
  }
  release(value: bigint): void {
    if (this.m.reserved.has(value) && contains(this.m, value)) {
      if (this.using.has(value)) this.using.set(value, { pod: '', reserved: true });
    } else this.using.delete(value);
  }
  usage(): [bigint, bigint, bigint, string] {
    const used = this.using.size - this.reservedCount;
    const last = this.index < 0 ? '' : formatIPValue(this.m.family, this.available[this.index]!);
    return [BigInt(this.available.length), BigInt(used), BigInt(this.available.length - used), last];
  }
}

describe('next-fit equals the Go rotation over materialised AvailableIPs (differential)', () => {
  it('allocates the same addresses in the same order, with the same usage and cursor', { timeout: 60_000 }, () => {
    const opArb = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('allocate' as const) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), i: fc.nat() }) },
    );
    fc.assert(
      fc.property(configArb, fc.array(opArb, { maxLength: 80, size: 'max' }), (c, ops) => {
        const size = 1n << BigInt(c.hostBits);
        const network = c.family === 4 ? 0x0a000000n : 0xfd00n << 112n;
        const at = (n: number): bigint => network + (BigInt(n) % size);
        const text = (v: bigint): string => formatIPValue(c.family, v);
        const m: Model = {
          family: c.family,
          start: c.start === null ? network + 1n : at(c.start),
          end: c.end === null ? network + size - (c.family === 4 ? 2n : 1n) : at(c.end),
          gateway: c.gateway === null ? undefined : at(c.gateway),
          excluded: new Set(c.excludeIPs.map(at)),
          reserved: new Set(c.reservedIPs.map(at)),
        };
        const range: Parameters<typeof subnetObject>[2] = {
          cidr: `${text(network)}/${(c.family === 4 ? 32 : 128) - c.hostBits}`,
        };
        if (c.start !== null) range.start = text(m.start);
        if (c.end !== null) range.end = text(m.end);
        if (m.gateway !== undefined) range.gateway = text(m.gateway);
        range.excludeIPs = c.excludeIPs.map((n) => text(at(n)));
        range.reservedIPs = c.reservedIPs.map((n) => text(at(n)));
        const last = c.lastAllocatedIP === null ? undefined : at(c.lastAllocatedIP);
        const subnet = subnetObject('s', 'net', range, last === undefined ? {} : { lastAllocatedIP: text(last) });
        const held = c.held.map((h, k) => ({ value: at(h.at), pod: `init${k}`, reserved: h.reserved }));
        const prefix = (c.family === 4 ? 32 : 128) - c.hostBits;
        const instances = held.map((h) =>
          instanceObject('net', 's', text(h.value), prefix, {
            namespace: 'ns',
            name: h.pod,
            nodeName: h.reserved ? '' : 'node',
          }),
        );

        const go = new GoSubnet(m, held, last);
        const engine = new IPAMEngine();
        engine.rebuild([networkObject('net')], [subnet], instances);
        const usage = (): [bigint, bigint, bigint, string] => {
          const u = engine.subnetUsage('net', 's');
          return [u.total, u.used, u.available, u.lastAllocatedIP];
        };
        expect(usage()).toEqual(go.usage());
        const mode = c.family === 4 ? 'IPv4Only' : 'IPv6Only';
        const allocated: bigint[] = [];
        for (const op of ops) {
          if (op.kind === 'allocate') {
            const expected = go.allocateNext('p');
            if (expected === undefined) {
              expect(() => engine.allocate('net', pod('p'), mode, ['s'])).toThrow('no available');
            } else {
              expect(engine.allocate('net', pod('p'), mode, ['s'])[0]!.value).toBe(expected);
              allocated.push(expected);
            }
          } else if (allocated.length > 0) {
            const value = allocated.splice(op.i % allocated.length, 1)[0]!;
            go.release(value);
            engine.release('net', [{ subnet: 's', ip: text(value) }]);
          }
          expect(usage()).toEqual(go.usage());
        }
      }),
      { numRuns: 200 },
    );
  });
});
