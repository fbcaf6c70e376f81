/**
 * IPAM engine benchmark (prints figures, asserts nothing — CONVENTIONS "Timing goals live in bench/").
 *
 *   node --expose-gc --import tsx bench/ipam/index.ts [--quick]
 *   npx tsx bench/ipam/index.ts [--quick]
 *
 * Cases: fill an IPv4 /16 from empty to full; 1,000,000 allocations in an IPv6 /64; release-and-reallocate churn at
 * 50 % use of the /16; rebuild from 100,000 IPInstance objects. For each: operations per second and heap bytes per
 * held address (heapUsed delta after a full GC, engine state only: pod names/UIDs and IPInstance objects are built
 * before the baseline, as they live in the informer cache anyway). `--quick` runs smaller sizes (CI smoke test).
 */
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IPAMEngine } from '../../src/ipam/index.ts';
import { instanceObject, networkObject, subnetObject } from '../../src/ipam/fixtures.ts';
import type { IPAMInstanceObject, PodRef } from '../../src/ipam/index.ts';
import { formatIPValue } from '../../src/net/index.ts';

const quick = process.argv.includes('--quick');

/** `global.gc` when run with --expose-gc, else the same function obtained by setting the flag at run time. */
function findGC(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
const gc = findGC();

function heapUsed(): number | undefined {
  if (gc === undefined) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Deterministic xorshift32 PRNG (the engine takes no randomness; only the benchmark's workload does). */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function pods(n: number): PodRef[] {
  return Array.from({ length: n }, (_, i) => ({
    namespace: `ns-${i % 50}`,
    name: `pod-${i}`,
    nodeName: `node-${i % 200}`,
    uid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
  }));
}

interface Row {
  name: string;
  ops: number;
  seconds: number;
  unit: string;
  rateTarget?: number;
  secondsTarget?: number;
  bytesPerAddress: number | undefined;
  bytesTarget: number;
}

const rows: Row[] = [];
const keep: unknown[] = [];

function engineWith(cidr: string, gateway?: string): IPAMEngine {
  const engine = new IPAMEngine();
  engine.rebuild(
    [networkObject('bench')],
    [subnetObject('s', 'bench', gateway === undefined ? { cidr } : { cidr, gateway })],
    [],
  );
  return engine;
}

function warmUp(): void {
  const engine = engineWith('10.0.0.0/16', '10.0.0.1');
  const six = engineWith('fd00::/64');
  const p = pods(1000);
  for (let i = 0; i < 20_000; i++) {
    engine.allocate('bench', p[i % 1000]!, 'IPv4Only');
    six.allocate('bench', p[i % 1000]!, 'IPv6Only');
    if (i % 2 === 0) engine.release('bench', [{ subnet: 's', ip: formatIPValue(4, 0x0a000002n + BigInt(i >> 1)) }]);
  }
}

function fillV4(): void {
  const prefix = quick ? 18 : 16;
  const engine = engineWith(`10.0.0.0/${prefix}`, '10.0.0.1');
  const n = Number(engine.networkUsage('bench').ipv4.total);
  const p = pods(n);
  const before = heapUsed();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) engine.allocate('bench', p[i]!, 'IPv4Only');
  const seconds = (performance.now() - t0) / 1000;
  const after = heapUsed();
  keep.push(engine, p);
  rows.push({
    name: `fill IPv4 /${prefix} empty → full`,
    ops: n,
    seconds,
    unit: 'alloc/s',
    rateTarget: 200_000,
    bytesPerAddress: before === undefined || after === undefined ? undefined : (after - before) / n,
    bytesTarget: 200,
  });
}

function fillV6(): void {
  const n = quick ? 100_000 : 1_000_000;
  const engine = engineWith('fd00:1::/64', 'fd00:1::1');
  const p = pods(n);
  const before = heapUsed();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) engine.allocate('bench', p[i]!, 'IPv6Only');
  const seconds = (performance.now() - t0) / 1000;
  const after = heapUsed();
  keep.push(engine, p);
  rows.push({
    name: `IPv6 /64, ${n.toLocaleString('en-US')} allocations`,
    ops: n,
    seconds,
    unit: 'alloc/s',
    rateTarget: 200_000,
    bytesPerAddress: before === undefined || after === undefined ? undefined : (after - before) / n,
    bytesTarget: 200,
  });
}

function churn(): void {
  const prefix = quick ? 18 : 16;
  const engine = engineWith(`10.0.0.0/${prefix}`, '10.0.0.1');
  const total = Number(engine.networkUsage('bench').ipv4.total);
  const half = total >> 1;
  const rounds = quick ? 20_000 : 200_000;
  const p = pods(half + rounds);
  const random = prng(42);
  const before = heapUsed();
  const held: string[] = [];
  for (let i = 0; i < half; i++) held.push(engine.allocate('bench', p[i]!, 'IPv4Only')[0]!.ip);
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const k = random(held.length);
    const ip = held[k]!;
    held[k] = held[held.length - 1]!;
    held.pop();
    engine.release('bench', [{ subnet: 's', ip }]);
    held.push(engine.allocate('bench', p[half + r]!, 'IPv4Only')[0]!.ip);
  }
  const seconds = (performance.now() - t0) / 1000;
  held.length = 0; // the workload's own bookkeeping is not engine memory
  const after = heapUsed();
  const frag = engine.network('bench').subnet('s')!.freeIntervalCount;
  keep.push(engine, p);
  rows.push({
    name: `churn at 50 % of the /${prefix} (release+allocate, ${frag} free intervals)`,
    ops: rounds,
    seconds,
    unit: 'pairs/s',
    bytesPerAddress: before === undefined || after === undefined ? undefined : (after - before) / half,
    bytesTarget: 200,
  });
}

function rebuild(): void {
  const n = quick ? 10_000 : 100_000;
  const random = prng(7);
  const instances: IPAMInstanceObject[] = [];
  // Half in an IPv4 /16 at random addresses, half at random addresses anywhere in an IPv6 /64 (fully fragmented);
  // one in ten Reserved (retained stateful IP).
  const v4 = new Set<number>();
  while (v4.size < n / 2) v4.add(2 + random(65533));
  let i = 0;
  for (const offset of v4) {
    const ip = formatIPValue(4, 0x0a000000n + BigInt(offset));
    const pod = { namespace: `ns-${i % 50}`, name: `pod-${i}`, nodeName: i % 10 === 0 ? '' : `node-${i % 200}` };
    instances.push(instanceObject('bench', 'v4', ip, 16, pod, ip.replaceAll('.', '-')));
    i++;
  }
  const v6 = new Set<bigint>();
  while (v6.size < n / 2) v6.add((BigInt(random(2 ** 31)) << 33n) | (BigInt(random(2 ** 31)) << 2n) | 1n);
  for (const offset of v6) {
    const ip = formatIPValue(6, (0xfd00_0000_0000_0002n << 64n) + offset);
    const pod = { namespace: `ns-${i % 50}`, name: `pod-${i}`, nodeName: i % 10 === 0 ? '' : `node-${i % 200}` };
    instances.push(instanceObject('bench', 'v6', ip, 64, pod, ip));
    i++;
  }
  const network = networkObject('bench', { lastAllocatedSubnet: 'v4', lastAllocatedIPv6Subnet: 'v6' });
  const subnets = [
    subnetObject('v4', 'bench', { cidr: '10.0.0.0/16', gateway: '10.0.0.1' }),
    subnetObject('v6', 'bench', { cidr: 'fd00:0:0:2::/64', gateway: 'fd00:0:0:2::1' }),
  ];
  const engine = new IPAMEngine();
  const before = heapUsed();
  const t0 = performance.now();
  const report = engine.rebuild([network], subnets, instances);
  const seconds = (performance.now() - t0) / 1000;
  const after = heapUsed();
  if (report.skipped.length > 0) console.log(`note: rebuild skipped ${report.skipped.length} instances`);
  keep.push(engine, instances);
  rows.push({
    name: `rebuild from ${n.toLocaleString('en-US')} IPInstances (v4 /16 + v6 /64, random)`,
    ops: n,
    seconds,
    unit: 'inst/s',
    secondsTarget: quick ? 0.2 : 2,
    bytesPerAddress: before === undefined || after === undefined ? undefined : (after - before) / n,
    bytesTarget: 200,
  });
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function print(): void {
  const header = ['case', 'ops', 'time', 'rate', 'target', 'heap/addr', 'target'];
  const body = rows.map((r) => {
    const rate = r.ops / r.seconds;
    const target =
      r.secondsTarget !== undefined
        ? `≤ ${r.secondsTarget} s ${r.seconds <= r.secondsTarget ? 'ok' : 'MISS'}`
        : r.rateTarget !== undefined
          ? `≥ ${fmt(r.rateTarget)} ${rate >= r.rateTarget ? 'ok' : 'MISS'}`
          : '—';
    const bytes =
      r.bytesPerAddress === undefined
        ? ['n/a', '(no gc)']
        : [`${fmt(r.bytesPerAddress)} B`, `≤ ${r.bytesTarget} B ${r.bytesPerAddress <= r.bytesTarget ? 'ok' : 'MISS'}`];
    return [r.name, fmt(r.ops), `${r.seconds.toFixed(3)} s`, `${fmt(rate)} ${r.unit}`, target, ...bytes];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(
    `IPAM engine benchmark — node ${process.version}, ${cpus().length} CPUs, ${quick ? 'quick' : 'full'} run` +
      (gc === undefined ? ', heap figures unavailable (no gc)' : ''),
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
  console.log(
    'heap/addr: heapUsed growth after a full GC per held address (engine state only; pod names, UIDs and IPInstance ' +
      'objects are built before the baseline). allocate() returns full results (ip text, instance name) on every call.',
  );
}

warmUp();
fillV4();
fillV6();
churn();
rebuild();
print();
keep.length = 0;
