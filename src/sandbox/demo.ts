/**
 * `hybridnet sandbox demo`: brings the sandbox up if needed, then
 *
 * 1. creates an overlay Network (VXLAN, VNI 4) with an IPv4 and an IPv6 Subnet, and an underlay Network (VLAN,
 *    netID 0 = untagged) selecting the nodes in zone `underlay-a`, with a Subnet whose gateway is the gw namespace;
 * 2. runs a Deployment in the overlay, a StatefulSet of 3 in the underlay and a DualStack pod, and waits for them;
 * 3. proves connectivity with real traffic from inside each pod's namespace: TCP to every other pod's responder
 *    (which answers with the source address it saw, so "overlay → underlay keeps its source address" is checked),
 *    ping to the underlay gateway, TCP to the "outside" host; prints a table;
 * 4. deletes a StatefulSet pod, waits for its replacement and shows it kept its address (IP retention).
 *
 * Resolves true only if every check passed.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_NETWORK_TYPE,
  IPFamily,
  NETWORKING_API_VERSION,
  NetworkType,
} from '../api/index.ts';
import { KubeApiError, KubeClient } from '../kube/index.ts';
import { loadAdminKubeConfig } from './controlplane.ts';
import { execIn, sleep } from './exec.ts';
import type { Progress } from './progress.ts';
import { up } from './sandbox.ts';
import { RESPONDER_PORT, UNDERLAY_ZONE, ZONE_LABEL, type Topology, type TopologyOptions } from './topology.ts';

/** Namespace of the demo workloads. */
export const DEMO_NAMESPACE = 'demo';
const NET_API = `/apis/${NETWORKING_API_VERSION}`;

interface PodLite {
  metadata?: { name?: string; uid?: string; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { phase?: string; podIPs?: { ip: string }[] };
}

/** One row of the demo table. */
export interface DemoRow {
  pod: string;
  node: string;
  network: string;
  addresses: string[];
  reach: string;
  ok: boolean;
}

/** Result of the demo. */
export interface DemoResult {
  ok: boolean;
  rows: DemoRow[];
  failures: string[];
  sources?: SourceCheck[];
  retention?: { pod: string; before: string; after: string; nodeBefore: string; nodeAfter: string; same: boolean };
}

/** The demo objects (pure): networks, subnets, workloads. */
export function demoObjects(t: Topology): { networks: unknown[]; subnets: unknown[]; workloads: unknown[] } {
  const net = (name: string, spec: Record<string, unknown>): unknown => ({
    apiVersion: NETWORKING_API_VERSION,
    kind: 'Network',
    metadata: { name },
    spec,
  });
  const subnet = (name: string, network: string, range: Record<string, unknown>): unknown => ({
    apiVersion: NETWORKING_API_VERSION,
    kind: 'Subnet',
    metadata: { name },
    spec: { network, range },
  });
  const podSpec = { containers: [{ name: 'responder', image: 'sandbox/responder' }], terminationGracePeriodSeconds: 1 };
  const [underlayBase] = t.gw.underlayCidrV4.split('/');
  const base = (underlayBase ?? '').split('.').slice(0, 3).join('.');
  return {
    networks: [
      net('overlay', { type: NetworkType.Overlay, netID: 4 }),
      net('underlay', { type: NetworkType.Underlay, netID: 0, nodeSelector: { [ZONE_LABEL]: UNDERLAY_ZONE } }),
    ],
    subnets: [
      subnet('overlay-v4', 'overlay', { version: '4', cidr: '10.200.0.0/24' }),
      subnet('overlay-v6', 'overlay', { version: '6', cidr: 'fd00:200::/64' }),
      subnet('underlay-v4', 'underlay', {
        version: '4',
        cidr: t.gw.underlayCidrV4,
        gateway: t.gw.underlayGatewayV4,
        start: `${base}.10`,
        end: `${base}.99`,
      }),
    ],
    workloads: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: DEMO_NAMESPACE },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' }, annotations: { [ANNOTATION_NETWORK_TYPE]: NetworkType.Overlay } },
            spec: podSpec,
          },
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: DEMO_NAMESPACE },
        spec: {
          replicas: 3,
          serviceName: 'db',
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' }, annotations: { [ANNOTATION_NETWORK_TYPE]: NetworkType.Underlay } },
            spec: podSpec,
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'dual',
          namespace: DEMO_NAMESPACE,
          annotations: { [ANNOTATION_NETWORK_TYPE]: NetworkType.Overlay, [ANNOTATION_IP_FAMILY]: IPFamily.DualStack },
        },
        spec: podSpec,
      },
    ],
  };
}

function collectionPath(obj: { apiVersion: string; kind: string; metadata: { namespace?: string } }): string {
  const plural = `${obj.kind.toLowerCase()}s`;
  const group = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  return obj.metadata.namespace ? `${group}/namespaces/${obj.metadata.namespace}/${plural}` : `${group}/${plural}`;
}

/** Creates `obj`, retrying webhook denials that clear up (network status not yet counted) for up to 60 s. */
async function apply(client: KubeClient, obj: unknown): Promise<void> {
  const o = obj as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.create(collectionPath(o), obj);
      return;
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 409) return;
      if (e instanceof KubeApiError && (e.code === 403 || e.code === 500) && Date.now() < deadline) {
        await sleep(1000);
        continue;
      }
      throw new Error(`creating ${o.kind} ${o.metadata.name}: ${(e as Error).message}`);
    }
  }
}

async function waitUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(500);
  }
}

/** The network namespace the kubelet stand-in created for a pod (from its sandbox record). */
export function podNetns(t: Topology, uid: string): string | undefined {
  for (const n of t.nodes) {
    const f = path.join(n.dir, 'pods', `${uid}.json`);
    if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { netns: string }).netns;
  }
  return undefined;
}

/** Canonical form of an address a responder reported (IPv4-mapped IPv6 → IPv4). */
export function canonicalAddress(raw: string): string {
  const s = raw.replace(/^\[|\]$/g, '');
  try {
    const a = ipaddr.parse(s);
    if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) {
      return (a as ipaddr.IPv6).toIPv4Address().toString();
    }
    return a.toString();
  } catch {
    return s;
  }
}

/** TCP to `ip`:8080 from inside `netns`; resolves `{name, source}` the responder reported, or undefined. */
export async function probeTcp(netns: string, ip: string): Promise<{ name: string; source: string } | undefined> {
  const target = ip.includes(':') ? `TCP6:[${ip}]:${RESPONDER_PORT}` : `TCP4:${ip}:${RESPONDER_PORT}`;
  try {
    const out = (await execIn(netns, ['socat', '-T3', '-', `${target},connect-timeout=3`], { timeoutMs: 8000 })).trim();
    const [name = '', source = ''] = out.split(/\s+/);
    return name ? { name, source: canonicalAddress(source) } : undefined;
  } catch {
    return undefined;
  }
}

async function ping(netns: string, ip: string): Promise<boolean> {
  try {
    await execIn(netns, ['ping', '-c', '1', '-W', '2', ip], { timeoutMs: 6000 });
    return true;
  } catch {
    return false;
  }
}

/** Pods of the demo namespace that are Running with addresses. */
async function demoPods(client: KubeClient): Promise<PodLite[]> {
  const list = await client.get<{ items: PodLite[] }>(`/api/v1/namespaces/${DEMO_NAMESPACE}/pods`);
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

function networkOf(p: PodLite): string {
  const a = p.metadata?.annotations ?? {};
  const type = a[ANNOTATION_NETWORK_TYPE] ?? NetworkType.Overlay;
  return type === NetworkType.Underlay ? 'underlay' : 'overlay';
}

/** Formats the table. */
export function formatTable(rows: readonly DemoRow[]): string {
  const head = ['POD', 'NODE', 'NETWORK', 'ADDRESSES', 'REACHABILITY'];
  const data = rows.map((r) => [r.pod, r.node, r.network, r.addresses.join(','), r.reach]);
  const widths = head.map((h, i) => Math.max(h.length, ...data.map((d) => (d[i] ?? '').length)));
  const line = (cols: string[]): string =>
    cols
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...data.map(line)].join('\n');
}

/**
 * Runs the demo against the sandbox described by `opts` (brought up if needed). Prints progress and the table;
 * resolves the result.
 */
export async function demo(opts: TopologyOptions, progress: Progress, out: (s: string) => void): Promise<DemoResult> {
  const t = await up(opts, progress);
  const client = await KubeClient.fromKubeConfig(loadAdminKubeConfig(t.dir), 16, 'hybridnet-sandbox-demo');
  const failures: string[] = [];
  try {
    const objs = demoObjects(t);
    progress.step('demo: networks and subnets');
    for (const o of [...objs.networks, ...objs.subnets]) await apply(client, o);
    for (const name of ['overlay', 'underlay']) {
      await waitUntil(`network ${name} to count free addresses`, 60_000, async () => {
        const n = await client.get<{ status?: { statistics?: { available?: number } } }>(`${NET_API}/networks/${name}`);
        return (n.status?.statistics?.available ?? 0) > 0 ? true : undefined;
      });
    }
    progress.done(
      'demo: overlay (VXLAN 4: 10.200.0.0/24, fd00:200::/64) and underlay (VLAN 0: 192.168.100.0/24) ready',
    );

    progress.step('demo: Deployment web (overlay), StatefulSet db ×3 (underlay), pod dual (DualStack)');
    await apply(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO_NAMESPACE } });
    await waitUntil('the demo namespace default ServiceAccount', 60_000, async () => {
      await client.get(`/api/v1/namespaces/${DEMO_NAMESPACE}/serviceaccounts/default`);
      return true;
    });
    for (const w of objs.workloads) await apply(client, w);
    const pods = await waitUntil('6 demo pods Running with addresses', 180_000, async () => {
      const ps = await demoPods(client);
      const ready = ps.filter((p) => p.status?.phase === 'Running' && (p.status.podIPs?.length ?? 0) > 0);
      return ready.length === 6 ? ready : undefined;
    });
    progress.done('demo: 6 pods Running');

    progress.step('demo: connectivity (TCP to every other pod, ping the gateway, TCP to the outside host)');
    const sources: SourceCheck[] = [];
    const rows = await connectivity(t, pods, failures, sources);
    progress.done('demo: connectivity checked');
    out(formatTable(rows));
    const kept = sources.filter((x) => x.sent === x.seen);
    out(
      `overlay → underlay keeps its source address: ${kept.length}/${sources.length} connections` +
        (sources[0]
          ? ` (e.g. ${sources[0].from} → ${sources[0].to}: sent from ${sources[0].sent}, seen ${sources[0].seen})`
          : ''),
    );
    if (sources.length === 0) failures.push('no overlay → underlay connection was checked');

    progress.step('demo: delete StatefulSet pod db-1 and wait for its replacement');
    const before = pods.find((p) => p.metadata?.name === 'db-1');
    const beforeIp = before?.status?.podIPs?.[0]?.ip ?? '';
    await client.delete(`/api/v1/namespaces/${DEMO_NAMESPACE}/pods/db-1`);
    const after = await waitUntil('db-1 to be replaced and Running', 120_000, async () => {
      const p = await client.get<PodLite>(`/api/v1/namespaces/${DEMO_NAMESPACE}/pods/db-1`).catch(() => undefined);
      return p && p.metadata?.uid !== before?.metadata?.uid && p.status?.phase === 'Running' && p.status.podIPs?.length
        ? p
        : undefined;
    });
    const afterIp = after.status?.podIPs?.[0]?.ip ?? '';
    const retention = {
      pod: 'db-1',
      before: beforeIp,
      after: afterIp,
      nodeBefore: before?.spec?.nodeName ?? '',
      nodeAfter: after.spec?.nodeName ?? '',
      same: beforeIp !== '' && beforeIp === afterIp,
    };
    progress.done('demo: db-1 replaced');
    out(
      `db-1 recreated: ${retention.before} on ${retention.nodeBefore} → ${retention.after} on ${retention.nodeAfter}: ` +
        (retention.same ? 'same address (StatefulSet IP retained)' : 'ADDRESS CHANGED'),
    );
    if (!retention.same) failures.push(`db-1 changed address ${retention.before} → ${retention.after}`);
    const uid = after.metadata?.uid ?? '';
    const ns = podNetns(t, uid);
    const gw = ns ? await ping(ns, t.gw.underlayGatewayV4) : false;
    out(`db-1 (new) reaches the underlay gateway ${t.gw.underlayGatewayV4}: ${gw ? 'yes' : 'NO'}`);
    if (!gw) failures.push('recreated db-1 cannot reach the underlay gateway');
    return { ok: failures.length === 0, rows, failures, retention, sources };
  } finally {
    client.close();
  }
}

async function connectivity(
  t: Topology,
  pods: PodLite[],
  failures: string[],
  sources: SourceCheck[],
): Promise<DemoRow[]> {
  const byName = (p: PodLite): string => p.metadata?.name ?? '';
  const sorted = [...pods].sort((a, b) => byName(a).localeCompare(byName(b)));
  return Promise.all(sorted.map((p) => podRow(t, p, sorted, failures, sources)));
}

/** Source addresses seen by the responders of `to` pods when `from` pods connect (for the summary line). */
export interface SourceCheck {
  from: string;
  to: string;
  sent: string;
  seen: string;
}

async function podRow(
  t: Topology,
  p: PodLite,
  sorted: PodLite[],
  failures: string[],
  sources: SourceCheck[],
): Promise<DemoRow> {
  const byName = (x: PodLite): string => x.metadata?.name ?? '';
  {
    const name = byName(p);
    const netns = podNetns(t, p.metadata?.uid ?? '');
    const addrs = (p.status?.podIPs ?? []).map((x) => x.ip);
    const network = networkOf(p);
    if (!netns) {
      failures.push(`${name}: no sandbox record`);
      return { pod: name, node: p.spec?.nodeName ?? '', network, addresses: addrs, reach: 'NO SANDBOX', ok: false };
    }
    let podOk = 0;
    let podTotal = 0;
    const notes: string[] = [];
    const myV4 = addrs.find((a) => !a.includes(':'));
    for (const q of sorted) {
      if (q === p) continue;
      for (const ip of (q.status?.podIPs ?? []).map((x) => x.ip)) {
        if (ip.includes(':') && !addrs.some((a) => a.includes(':'))) continue;
        podTotal++;
        const r = await probeTcp(netns, ip);
        const expectedSrc = ip.includes(':') ? addrs.find((a) => a.includes(':')) : myV4;
        if (r && r.name === byName(q) && r.source === expectedSrc) {
          podOk++;
          if (networkOf(p) === 'overlay' && networkOf(q) === 'underlay' && !ip.includes(':')) {
            sources.push({ from: name, to: byName(q), sent: expectedSrc, seen: r.source });
          }
        } else {
          failures.push(
            `${name} → ${byName(q)} ${ip}: ${r ? `answered by ${r.name}, source seen ${r.source} (expected ${expectedSrc ?? '?'})` : 'no answer'}`,
          );
        }
      }
    }
    notes.push(`pods ${podOk}/${podTotal}`);
    const gwOk = await ping(netns, t.gw.underlayGatewayV4);
    notes.push(`gw ${gwOk ? 'ok' : 'FAIL'}`);
    if (!gwOk) failures.push(`${name} → gateway ${t.gw.underlayGatewayV4}: no reply`);
    const outside = await probeTcp(netns, t.gw.outsideV4);
    notes.push(outside ? `outside ok (src ${outside.source})` : 'outside FAIL');
    if (!outside) failures.push(`${name} → outside ${t.gw.outsideV4}: no answer`);
    if (addrs.some((a) => a.includes(':'))) {
      const o6 = await probeTcp(netns, t.gw.outsideV6);
      notes.push(o6 ? `outside6 ok (src ${o6.source})` : 'outside6 FAIL');
      if (!o6) failures.push(`${name} → outside ${t.gw.outsideV6}: no answer`);
    }
    const ok = podOk === podTotal && gwOk && outside !== undefined;
    return { pod: name, node: p.spec?.nodeName ?? '', network, addresses: addrs, reach: notes.join(', '), ok };
  }
}

/** CLI entry: runs the demo, prints the table and the verdict; resolves true only if every check passed. */
export async function runDemo(opts: TopologyOptions, progress: Progress): Promise<boolean> {
  const write = (s: string): void => {
    process.stdout.write(s + '\n');
  };
  const r = await demo(opts, progress, write);
  if (r.ok) write('demo: every check passed');
  else {
    write(`demo: ${r.failures.length} check(s) FAILED:`);
    for (const f of r.failures) write(`  - ${f}`);
  }
  return r.ok;
}

/** Lists pod namespaces that exist (for tests: leaked pod sandboxes). */
export function podNetnsNames(prefix: string): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(`${prefix}pod-`));
  } catch {
    return [];
  }
}
