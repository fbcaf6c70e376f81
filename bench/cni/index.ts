/**
 * CNI benchmark (root + netns (real)); prints numbers and ratios from one run, asserts nothing.
 *
 * 1. CNI ADD / DEL latency (p50 / p95 / p99) of the hybridnet plugin binary → daemon (real kube-apiserver, real
 *    manager, IPInstances allocated before the clock starts) for N pods one after another and C pods at once, against
 *    the Debian reference plugins `bridge` + `host-local` (/usr/lib/cni) called the same way (env + stdin), in the same
 *    run (see /work/shared/harness/ref-bridge-bench.sh).
 * 2. iperf3 (3 s, one TCP stream) pod → pod over VXLAN as a ratio of node → node over VXLAN (a VXLAN device pair of
 *    the same kind between the node namespaces), and pod → pod over the underlay as a ratio of node → node.
 * 3. The issue #6 targets with PASS / MISS next to the numbers.
 *
 *   node --import tsx bench/cni/index.ts [N=50] [C=20]
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ANNOTATION_IP_FAMILY, ANNOTATION_NETWORK_TYPE } from '../../src/api/index.ts';
import { preparePod, startTestCluster, switchSubnets } from '../../test/datapath/cluster-fixture.ts';
import { inNs, sh, type TestNode } from '../../test/datapath/harness.ts';
import { overlayNetwork, subnet, underlayNetwork, waitBound } from '../../test/manager/helpers.ts';

const N = Number(process.argv[2] ?? 50);
const C = Number(process.argv[3] ?? 20);

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const stats = (v: number[]): { p50: number; p95: number; p99: number } => ({
  p50: +pct(v, 50).toFixed(1),
  p95: +pct(v, 95).toFixed(1),
  p99: +pct(v, 99).toFixed(1),
});

async function timed(fn: () => Promise<{ code: number; stdout: string }>, what: string): Promise<number> {
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${what} failed: ${r.stdout}`);
  return ms;
}

const t = await startTestCluster({
  nodes: [1, 2],
  nodeLabels: { 'bench/underlay': 'true' },
  publishAddresses: false,
  networks: [overlayNetwork('overlay', 4), underlayNetwork('underlay', { 'bench/underlay': 'true' })],
  subnets: [
    subnet('overlay-v4', 'overlay', '4', '10.210.0.0/16'),
    ...switchSubnets('underlay', { end4: 200, v6: false }),
  ],
  managerArgs: ['--identity=bench', '--metrics-port=0'],
  waitNetwork: 'underlay',
});
const { c, h } = t;
try {
  const [n1, n2] = t.nodes as [TestNode, TestNode];

  // pods + namespaces, IPInstances allocated before timing
  const mk = (name: string, node: TestNode, type = 'Overlay'): Promise<{ name: string; netns: string; uid: string }> =>
    preparePod(t, node, name, { annotations: { [ANNOTATION_NETWORK_TYPE]: type, [ANNOTATION_IP_FAMILY]: 'IPv4' } });
  const seq = await Promise.all(Array.from({ length: N }, (_, i) => mk(`s${i}`, n1)));
  const con = await Promise.all(Array.from({ length: C }, (_, i) => mk(`c${i}`, n1)));
  for (const p of [...seq, ...con])
    await waitBound(c, 'default', { metadata: { name: p.name, uid: p.uid } }, 1, 60_000);
  // CNI_ARGS as containerd's CRI plugin sends them (K8S_POD_UID included)
  const env = (p: { name: string; netns: string; uid: string }): Record<string, string> => ({
    CNI_CONTAINERID: `bench-${p.name}`,
    CNI_NETNS: p.netns,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=bench-${p.name};K8S_POD_UID=${p.uid}`,
  });
  const conf = h.netconf(n1);
  const ours = {
    addSeq: [] as number[],
    delSeq: [] as number[],
    addCon: [] as number[],
    delCon: [] as number[],
    wallAddCon: 0,
    wallDelCon: 0,
  };
  const wall = new Map<string, { start: number; end: number }>(); // epoch ms around each sequential ADD
  for (const p of seq) {
    const start = Date.now();
    ours.addSeq.push(await timed(() => h.cni('ADD', env(p), conf), `ADD ${p.name}`));
    wall.set(`default/${p.name}`, { start, end: Date.now() });
  }
  for (const p of seq) ours.delSeq.push(await timed(() => h.cni('DEL', env(p), conf), `DEL ${p.name}`));
  let t0 = performance.now();
  ours.addCon = await Promise.all(con.map((p) => timed(() => h.cni('ADD', env(p), conf), `ADD ${p.name}`)));
  ours.wallAddCon = performance.now() - t0;
  t0 = performance.now();
  ours.delCon = await Promise.all(con.map((p) => timed(() => h.cni('DEL', env(p), conf), `DEL ${p.name}`)));
  ours.wallDelCon = performance.now() - t0;

  // reference: bridge + host-local in a private host namespace
  const refHost = await h.netns(`${h.prefix}refhost`);
  const dataDir = path.join(h.dir, 'host-local');
  mkdirSync(dataDir, { recursive: true });
  const refConf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'benchnet',
    type: 'bridge',
    bridge: 'cnibench0',
    isGateway: true,
    ipMasq: false,
    ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] },
  });
  const refNs = await Promise.all(Array.from({ length: N + C + 1 }, (_, i) => h.netns(`${h.prefix}r${i}`)));
  const ref = (cmd: string, i: number): Promise<{ code: number; stdout: string }> =>
    sh('ip', ['netns', 'exec', refHost, '/usr/lib/cni/bridge'], {
      input: refConf,
      env: {
        PATH: process.env.PATH ?? '',
        CNI_COMMAND: cmd,
        CNI_CONTAINERID: `ref${i}`,
        CNI_NETNS: `/var/run/netns/${refNs[i]}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/usr/lib/cni',
      },
    });
  await timed(() => ref('ADD', N + C), 'ref warm-up');
  const reference = {
    addSeq: [] as number[],
    delSeq: [] as number[],
    addCon: [] as number[],
    delCon: [] as number[],
    wallAddCon: 0,
    wallDelCon: 0,
  };
  for (let i = 0; i < N; i++) reference.addSeq.push(await timed(() => ref('ADD', i), 'ref ADD'));
  for (let i = 0; i < N; i++) reference.delSeq.push(await timed(() => ref('DEL', i), 'ref DEL'));
  t0 = performance.now();
  reference.addCon = await Promise.all(Array.from({ length: C }, (_, k) => timed(() => ref('ADD', N + k), 'ref ADD')));
  reference.wallAddCon = performance.now() - t0;
  t0 = performance.now();
  reference.delCon = await Promise.all(Array.from({ length: C }, (_, k) => timed(() => ref('DEL', N + k), 'ref DEL')));
  reference.wallDelCon = performance.now() - t0;

  // the process floor of each plugin in this run: VERSION calls (no daemon, no netns work)
  const versionMs = { ours: [] as number[], ref: [] as number[] };
  for (let i = 0; i < N; i++) {
    versionMs.ours.push(await timed(() => h.cni('VERSION', {}, conf), 'VERSION'));
    versionMs.ref.push(
      await timed(
        () =>
          sh('/usr/lib/cni/bridge', [], {
            input: refConf,
            env: { PATH: process.env.PATH ?? '', CNI_COMMAND: 'VERSION' },
          }),
        'ref VERSION',
      ),
    );
  }
  const rows = (['addSeq', 'delSeq', 'addCon', 'delCon'] as const).map((k) => {
    const o = stats(ours[k]);
    const r = stats(reference[k]);
    return {
      op: {
        addSeq: `ADD ×${N} sequential`,
        delSeq: `DEL ×${N} sequential`,
        addCon: `ADD ×${C} concurrent`,
        delCon: `DEL ×${C} concurrent`,
      }[k],
      'ours p50 ms': o.p50,
      'ours p95': o.p95,
      'ours p99': o.p99,
      'ref p50 ms': r.p50,
      'ref p95': r.p95,
      'ref p99': r.p99,
      'ours/ref p50': +(o.p50 / r.p50).toFixed(2),
      'ours/ref p95': +(o.p95 / r.p95).toFixed(2),
    };
  });
  console.log(
    `CNI latency: hybridnet (plugin → daemon, IPv4 overlay pods) vs bridge+host-local, same run, ${new Date().toISOString()}`,
  );
  console.table(rows);
  // per-phase breakdown of the daemon's side of ADD (its 'pod added' log line, ms since the request arrived)
  const added = readFileSync(path.join(n1.dir, 'daemon.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"pod added"'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { pod: string });
  const phaseRows = (['s', 'c'] as const).map((kind) => {
    const mine = added.filter((a) => a.pod.startsWith(`default/${kind}`));
    const row: Record<string, unknown> = { run: kind === 's' ? `ADD ×${N} sequential` : `ADD ×${C} concurrent` };
    for (const k of [
      'waitedMs',
      'preparedMs',
      'recordedMs',
      'nodeWiredMs',
      'podWiredMs',
      'datapathMs',
      'checkedMs',
      'statusMs',
      'totalMs',
    ])
      row[k.replace('Ms', '')] = `${pct(
        mine.map((a) => Number(a[k])),
        50,
      )} / ${pct(
        mine.map((a) => Number(a[k])),
        95,
      )}`;
    return row;
  });
  console.log('daemon side of ADD, cumulative ms since the request arrived at the end of each phase (p50 / p95):');
  console.table(phaseRows);
  // outside the daemon: plugin start + request until the daemon's ADD began; reply until the plugin exited
  const around = added
    .filter((a) => wall.has(a.pod))
    .map((a) => {
      const w = wall.get(a.pod) ?? { start: 0, end: 0 };
      const end = Number(a.time);
      const begin = end - Number(a.totalMs);
      return { before: begin - w.start, after: w.end - end };
    });
  console.log(
    `sequential ADD outside the daemon (p50, ms): plugin spawn → daemon ADD start ${pct(
      around.map((x) => x.before),
      50,
    )}, daemon reply → plugin exit ${pct(
      around.map((x) => x.after),
      50,
    )}`,
  );
  for (const l of readFileSync(path.join(n1.dir, 'daemon.log'), 'utf8').split('\n'))
    if (l.includes('"pod answered the node late"')) console.log(`daemon: ${l}`);
  console.log(
    `plugin process floor (VERSION calls, p50): ours ${stats(versionMs.ours).p50} ms, bridge ${stats(versionMs.ref).p50} ms`,
  );
  console.log(
    `concurrent wall time: ADD ours ${ours.wallAddCon.toFixed(0)} ms vs ref ${reference.wallAddCon.toFixed(0)} ms; DEL ours ${ours.wallDelCon.toFixed(0)} ms vs ref ${reference.wallDelCon.toFixed(0)} ms`,
  );

  let vxlanRatio: number | undefined;
  // iperf3 (HN_BENCH_IPERF=0 skips it)
  if (process.env.HN_BENCH_IPERF !== '0') {
    const o1 = await mk('io1', n1);
    const o2 = await mk('io2', n2);
    const u1 = await mk('iu1', n1, 'Underlay');
    const u2 = await mk('iu2', n2, 'Underlay');
    const ipOf = async (p: { name: string; netns: string; uid: string }): Promise<string> => {
      await waitBound(c, 'default', { metadata: { name: p.name, uid: p.uid } }, 1, 60_000);
      const r = await h.cni('ADD', env(p), h.netconf(p.name.endsWith('2') ? n2 : n1));
      if (r.code !== 0) throw new Error(`ADD ${p.name}: ${r.stdout}`);
      return ((r.json as { ips: { address: string }[] }).ips[0]?.address ?? '').split('/')[0] ?? '';
    };
    const ipO2 = await ipOf(o2);
    await ipOf(o1);
    const ipU2 = await ipOf(u2);
    await ipOf(u1);
    const iperf = async (serverNs: string, ip: string, clientNs: string): Promise<number> => {
      const server = h.spawn(
        'ip',
        ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', ip],
        path.join(h.dir, 'iperf.log'),
      );
      await new Promise((r) => setTimeout(r, 500));
      const out = await inNs(clientNs, 'iperf3', '-c', ip, '-t', '3', '-J');
      await h.kill(server, 'SIGKILL');
      return (
        (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second /
        1e9
      );
    };
    const nsOf = (p: { netns: string }): string => path.basename(p.netns);
    // node → node over VXLAN (the baseline of the target): a point-to-point VXLAN device pair of the same kind as the
    // daemon's (same parent, MTU parent − 50, kernel defaults) on another VNI and port, addressed 10.255.255.1/.2
    for (const [n, local, remote, addr] of [
      [n1, n1.ip4, n2.ip4, '10.255.255.1/30'],
      [n2, n2.ip4, n1.ip4, '10.255.255.2/30'],
    ] as const) {
      const mtu = Number((await inNs(n.ns, 'cat', '/sys/class/net/eth0/mtu')).trim()) - 50;
      const link = ['link', 'add', 'hnbench', 'type', 'vxlan', 'id', '4242', 'dev', 'eth0'];
      await inNs(n.ns, 'ip', ...link, 'local', local, 'remote', remote, 'dstport', '4789');
      await inNs(n.ns, 'ip', 'link', 'set', 'hnbench', 'mtu', String(mtu), 'up');
      await inNs(n.ns, 'ip', 'addr', 'add', addr, 'dev', 'hnbench');
    }
    // interleaved, ROUNDS each (HN_BENCH_IPERF_ROUNDS, default 3); the best run of each path counts (other processes'
    // bursts only ever slow a run; with 2 the VXLAN ratio ranged 0.80–1.03 across runs of the same code)
    const ROUNDS = Math.max(1, Number(process.env.HN_BENCH_IPERF_ROUNDS ?? 3));
    const paths = {
      nodeVxlan: () => iperf(n2.ns, '10.255.255.2', n1.ns),
      podVxlan: () => iperf(nsOf(o2), ipO2, nsOf(o1)),
      nodeUnderlay: () => iperf(n2.ns, n2.ip4, n1.ns),
      podUnderlay: () => iperf(nsOf(u2), ipU2, nsOf(u1)),
    };
    const runs: Record<keyof typeof paths, number[]> = {
      nodeVxlan: [],
      podVxlan: [],
      nodeUnderlay: [],
      podUnderlay: [],
    };
    for (let round = 0; round < ROUNDS; round++)
      for (const k of Object.keys(paths) as (keyof typeof paths)[]) runs[k].push(await paths[k]());
    const best = (k: keyof typeof paths): number => Math.max(...runs[k]);
    console.log(`iperf3, 3 s, 1 TCP stream (Gbit/s; best of ${ROUNDS} interleaved runs, all runs listed):`);
    console.table([
      {
        path: 'node1 → node2 over VXLAN (baseline)',
        gbps: +best('nodeVxlan').toFixed(2),
        runs: runs.nodeVxlan.map((x) => +x.toFixed(2)).join(' '),
        ratio: 1,
      },
      {
        path: 'overlay pod → pod (VXLAN)',
        gbps: +best('podVxlan').toFixed(2),
        runs: runs.podVxlan.map((x) => +x.toFixed(2)).join(' '),
        ratio: +(best('podVxlan') / best('nodeVxlan')).toFixed(2),
      },
      {
        path: 'node1 → node2 underlay (no VXLAN)',
        gbps: +best('nodeUnderlay').toFixed(2),
        runs: runs.nodeUnderlay.map((x) => +x.toFixed(2)).join(' '),
        ratio: 1,
      },
      {
        path: 'underlay pod → pod (netID 0)',
        gbps: +best('podUnderlay').toFixed(2),
        runs: runs.podUnderlay.map((x) => +x.toFixed(2)).join(' '),
        ratio: +(best('podUnderlay') / best('nodeUnderlay')).toFixed(2),
      },
    ]);
    vxlanRatio = best('podVxlan') / best('nodeVxlan');
  }
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const addRatio = stats(ours.addSeq).p50 / stats(reference.addSeq).p50;
  const conStats = stats(ours.addCon);
  const targets = [
    {
      target: 'CNI ADD p50 ≤ 3× bridge+host-local',
      measured: `${addRatio.toFixed(2)}× (${stats(ours.addSeq).p50} vs ${stats(reference.addSeq).p50} ms)`,
      result: verdict(addRatio <= 3),
    },
    {
      target: `${C} concurrent ADDs: p99 ≤ 2× p50`,
      measured: `${(conStats.p99 / conStats.p50).toFixed(2)}× (p50 ${conStats.p50}, p99 ${conStats.p99} ms)`,
      result: verdict(conStats.p99 <= 2 * conStats.p50),
    },
    {
      target: 'VXLAN pod → pod ≥ 0.9× node → node VXLAN',
      measured: vxlanRatio === undefined ? 'not measured (HN_BENCH_IPERF=0)' : `${vxlanRatio.toFixed(3)}×`,
      result: vxlanRatio === undefined ? '-' : verdict(vxlanRatio >= 0.9),
    },
  ];
  console.log(`targets (issue #6), load average ${readFileSync('/proc/loadavg', 'utf8').trim()}:`);
  console.table(targets);
  rmSync(dataDir, { recursive: true, force: true });
} finally {
  await t.stop();
}
