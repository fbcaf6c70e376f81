/**
 * IPAM refresh, Network/Subnet status, node attachment + quota labels and the D6 taint, metrics, and the legacy
 * IPInstance refusal, against kube-apiserver (real) with the manager in-process (SPEC §3.4, §4.1, §4.8, §4.10, §11).
 */
import type { V1Node } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FINALIZER_METRICS_REGISTERED,
  IPInstanceResource,
  LABEL_BGP_NETWORK_ATTACHMENT,
  LABEL_DUALSTACK_ADDRESS_QUOTA,
  LABEL_IPV4_ADDRESS_QUOTA,
  LABEL_IPV6_ADDRESS_QUOTA,
  LABEL_OVERLAY_NETWORK_ATTACHMENT,
  LABEL_UNDERLAY_NETWORK_ATTACHMENT,
  TAINT_NETWORK_UNAVAILABLE,
  type Network,
  type Subnet,
} from '../../src/api/index.ts';
import type { KubeClient } from '../../src/kube/index.ts';
import { LegacyIPInstanceError } from '../../src/manager/manager.ts';
import { useKube } from '../fixture/kube.ts';
import {
  clientOf,
  createNode,
  createPod,
  eventually,
  overlayNetwork,
  paths,
  startManager,
  subnet,
  underlayNetwork,
  waitBound,
} from './helpers.ts';

type Started = Awaited<ReturnType<typeof startManager>>;

describe('status, node labels, quota and IPAM refresh against kube-apiserver (real)', () => {
  const kube = useKube();
  let c: KubeClient;
  let m: Started;
  const ns = 'status';

  const node = (name: string): Promise<V1Node> => c.get<V1Node>(paths.node(name));
  const tainted = (n: V1Node): boolean =>
    (n.spec?.taints ?? []).some((t) => t.key === TAINT_NETWORK_UNAVAILABLE && t.effect === 'NoSchedule');
  const waitNode = (name: string, what: string, ok: (n: V1Node) => boolean): Promise<V1Node> =>
    eventually(`node ${name}: ${what}`, async () => {
      const n = await node(name);
      return ok(n) ? n : undefined;
    });

  beforeAll(async () => {
    c = await clientOf(kube());
    await kube().createNamespace(ns);
    await createNode(c, 'node-a', { 'hn/underlay': 'x' });
    await createNode(c, 'node-b');
    m = await startManager(kube());
  }, 180_000);

  afterAll(async () => {
    await m?.stop();
    c?.close();
  });

  it('taints nodes that are in no network (D6)', async () => {
    await waitNode('node-a', 'tainted', tainted);
    await waitNode('node-b', 'tainted', tainted);
  });

  it('an underlay network attaches matching nodes: label, quota labels, taint removed; status and finalizer', async () => {
    await c.create(paths.network(), underlayNetwork('u1', { 'hn/underlay': 'x' }, 10));
    await c.create(paths.subnet(), subnet('u1-v4', 'u1', '4', '10.30.0.0/29', { gateway: '10.30.0.1' }));
    const a = await waitNode(
      'node-a',
      'underlay attached with quota',
      (n) =>
        n.metadata?.labels?.[LABEL_UNDERLAY_NETWORK_ATTACHMENT] === 'true' &&
        n.metadata.labels[LABEL_IPV4_ADDRESS_QUOTA] === 'nonempty' &&
        !tainted(n),
    );
    expect(a.metadata?.labels?.[LABEL_IPV6_ADDRESS_QUOTA]).toBe('empty');
    expect(a.metadata?.labels?.[LABEL_DUALSTACK_ADDRESS_QUOTA]).toBe('empty');
    const b = await node('node-b');
    expect(tainted(b)).toBe(true);
    expect(b.metadata?.labels?.[LABEL_UNDERLAY_NETWORK_ATTACHMENT]).toBeUndefined();
    expect(b.metadata?.labels?.[LABEL_IPV4_ADDRESS_QUOTA]).toBeUndefined();

    const net = await eventually('network status', async () => {
      const n = await c.get<Network>(paths.network('u1'));
      return n.status?.statistics?.total === 5 ? n : undefined;
    });
    expect(net.metadata.finalizers).toContain(FINALIZER_METRICS_REGISTERED);
    expect(net.status).toMatchObject({
      nodeList: ['node-a'],
      subnetList: ['u1-v4'],
      statistics: { total: 5, used: 0, available: 5 },
      ipv6Statistics: { total: 0, used: 0, available: 0 },
      dualStackStatistics: { available: 0 },
      lastAllocatedSubnet: 'u1-v4',
    });
    const sub = await eventually('subnet status', async () => {
      const s = await c.get<Subnet>(paths.subnet('u1-v4'));
      return s.status?.total === 5 ? s : undefined;
    });
    expect(sub.status).toMatchObject({ total: 5, used: 0, available: 5 });
    expect(sub.metadata.finalizers).toContain(FINALIZER_METRICS_REGISTERED);
  });

  it('allocations update subnet/network status and flip the quota label to empty when the network is full', async () => {
    for (let i = 0; i < 5; i++) {
      const pod = await createPod(c, ns, `fill-${i}`, { nodeName: 'node-a' });
      await waitBound(c, ns, pod);
    }
    const sub = await eventually('subnet full', async () => {
      const s = await c.get<Subnet>(paths.subnet('u1-v4'));
      return s.status?.available === 0 ? s : undefined;
    });
    expect(sub.status).toMatchObject({ total: 5, used: 5, available: 0 });
    expect(sub.status?.lastAllocatedIP).toMatch(/^10\.30\.0\.[2-6]$/);
    await waitNode('node-a', 'quota empty', (n) => n.metadata?.labels?.[LABEL_IPV4_ADDRESS_QUOTA] === 'empty');
    const text = await (await fetch(`http://127.0.0.1:${m.manager.metricsPort}/metrics`)).text();
    expect(text).toContain('ip_usage{networkName="u1",ipFamily="ipv4",usageType="used"} 5');
    expect(text).toContain('subnet_ip_usage{subnetName="u1-v4",networkName="u1",usageType="available"} 0');
    expect(text).toMatch(/ip_allocation_duration_seconds_count\{allocateType="normal",success="true"\} [5-9]/);
    expect((await fetch(`http://127.0.0.1:${m.manager.metricsPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${m.manager.metricsPort}/readyz`)).status).toBe(200);
  });

  it('a new subnet refreshes the IPAM (more room, pods allocate from it); deleting it refreshes again', async () => {
    await c.create(paths.subnet(), subnet('u1-v4-b', 'u1', '4', '10.30.1.0/24', { gateway: '10.30.1.1' }));
    const pod = await createPod(c, ns, 'after-refresh', { nodeName: 'node-a' });
    const [ip] = await waitBound(c, ns, pod);
    expect(ip!.spec.subnet).toBe('u1-v4-b');
    await eventually('network statistics include the new subnet', async () => {
      const n = await c.get<Network>(paths.network('u1'));
      return n.status?.statistics?.total === 5 + 253 && n.status.subnetList?.length === 2;
    });
    await waitNode(
      'node-a',
      'quota nonempty again',
      (n) => n.metadata?.labels?.[LABEL_IPV4_ADDRESS_QUOTA] === 'nonempty',
    );
    await c.create(paths.subnet(), subnet('u1-v4-c', 'u1', '4', '10.30.2.0/24', { gateway: '10.30.2.1' }));
    await eventually(
      'three subnets',
      async () => (await c.get<Network>(paths.network('u1'))).status?.subnetList?.length === 3,
    );
    await c.delete(paths.subnet('u1-v4-c'));
    await eventually('subnet removed from status after its deletion', async () => {
      const n = await c.get<Network>(paths.network('u1'));
      return n.status?.subnetList?.length === 2 && n.status.statistics?.total === 5 + 253;
    });
  });

  it('node relabelling attaches a node; an overlay network attaches every node; an IPv6 /64 is clamped to int32', async () => {
    await c.mergePatch(paths.node('node-b'), { metadata: { labels: { 'hn/underlay': 'x' } } });
    await waitNode(
      'node-b',
      'underlay attached',
      (n) => n.metadata?.labels?.[LABEL_UNDERLAY_NETWORK_ATTACHMENT] === 'true' && !tainted(n),
    );
    await eventually('nodeList has both nodes', async () => {
      const n = await c.get<Network>(paths.network('u1'));
      return JSON.stringify(n.status?.nodeList) === JSON.stringify(['node-a', 'node-b']);
    });
    await createNode(c, 'node-c');
    await waitNode('node-c', 'tainted', tainted);
    await c.create(paths.network(), overlayNetwork('ov', 7));
    await c.create(paths.subnet(), subnet('ov-v6', 'ov', '6', 'fd00:30::/64'));
    for (const n of ['node-a', 'node-b', 'node-c']) {
      await waitNode(
        n,
        'overlay attached',
        (x) => x.metadata?.labels?.[LABEL_OVERLAY_NETWORK_ATTACHMENT] === 'true' && !tainted(x),
      );
    }
    const ov = await eventually('overlay status', async () => {
      const n = await c.get<Network>(paths.network('ov'));
      return n.status?.ipv6Statistics?.total ? n : undefined;
    });
    expect(ov.status?.ipv6Statistics).toEqual({ total: 2147483647, used: 0, available: 2147483647 });
    expect(ov.status?.nodeList).toEqual(['node-a', 'node-b', 'node-c']);
  });

  it('a BGP-mode underlay plus a GlobalBGP network sets the bgp attachment label', async () => {
    await createNode(c, 'node-bgp', { 'hn/bgp': 'y' });
    await c.create(paths.network(), {
      ...underlayNetwork('bgp1', { 'hn/bgp': 'y' }, 65001),
      spec: {
        type: 'Underlay',
        mode: 'BGP',
        netID: 65001,
        nodeSelector: { 'hn/bgp': 'y' },
        config: { bgpPeers: [{ asn: 65000, address: '10.0.0.1' }] },
      },
    });
    await c.create(paths.network(), {
      apiVersion: 'networking.alibaba.com/v1',
      kind: 'Network',
      metadata: { name: 'gbgp' },
      spec: { type: 'GlobalBGP', netID: null },
    });
    await waitNode('node-bgp', 'bgp attached', (n) => n.metadata?.labels?.[LABEL_BGP_NETWORK_ATTACHMENT] === 'true');
    expect((await node('node-a')).metadata?.labels?.[LABEL_BGP_NETWORK_ATTACHMENT]).toBeUndefined();
  });

  it('a network selector change detaches nodes', async () => {
    await c.mergePatch(paths.network('u1'), { spec: { nodeSelector: { 'hn/underlay': 'other' } } });
    await waitNode(
      'node-a',
      'underlay detached, quota labels removed',
      (n) =>
        n.metadata?.labels?.[LABEL_UNDERLAY_NETWORK_ATTACHMENT] === undefined &&
        n.metadata?.labels?.[LABEL_IPV4_ADDRESS_QUOTA] === undefined,
    );
  });

  it('refuses to start on a legacy IPInstance without binding.referredObject.kind', async () => {
    await m.stop();
    await c.create(paths.ipInstances(ns), {
      apiVersion: IPInstanceResource.apiVersion,
      kind: 'IPInstance',
      metadata: { name: '10-30-1-200', namespace: ns },
      spec: {
        network: 'u1',
        subnet: 'u1-v4-b',
        address: { version: '4', ip: '10.30.1.200/24', netID: null, mac: '02:12:34:00:00:01' },
        binding: { podName: 'old' },
      },
    });
    const { Manager } = await import('../../src/manager/manager.ts');
    const { defaultManagerConfig } = await import('../../src/manager/config.ts');
    const pino = (await import('pino')).default;
    const cfg = {
      ...defaultManagerConfig({}),
      identity: 'legacy',
      metricsPort: -1,
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 500,
    };
    const mgr = new Manager(await clientOf(kube()), cfg, pino({ level: 'silent' }));
    await expect(mgr.run(new AbortController().signal)).rejects.toBeInstanceOf(LegacyIPInstanceError);
    await c.delete(paths.ipInstances(ns, '10-30-1-200'));
  }, 120_000);
});
