/**
 * Pod controller scenarios of the original's integration tests (SPEC §11) against kube-apiserver (real), with the
 * manager running in-process. No kube-controller-manager: stateful owners are plain owner references, so nothing
 * garbage-collects behind the test's back.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_POOL,
  ANNOTATION_MAC_POOL,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_SUBNET,
  FINALIZER_IP_ALLOCATED,
  LABEL_NETWORK,
  LABEL_NODE,
  LABEL_POD,
  LABEL_POD_UID,
  LABEL_SPECIFIED_NETWORK,
  LABEL_SUBNET,
  LABEL_VERSION,
  type IPInstance,
} from '../../src/api/index.ts';
import type { KubeClient } from '../../src/kube/index.ts';
import { podLabelValue } from '../../src/net/index.ts';
import { useKube } from '../fixture/kube.ts';
import {
  clientOf,
  createNode,
  createPod,
  deletePod,
  eventsOf,
  eventually,
  gone,
  listIPInstances,
  overlayNetwork,
  paths,
  podInstances,
  setContainerState,
  startManager,
  subnet,
  underlayNetwork,
  waitBound,
} from './helpers.ts';

const ipOf = (i: IPInstance): string => i.spec.address.ip.split('/')[0] ?? '';

describe('pod controller against kube-apiserver (real)', () => {
  const kube = useKube();
  let c: KubeClient;
  let stop: () => Promise<void>;
  const ns = 'pods';
  const sts = { kind: 'StatefulSet', name: 'web', uid: randomUUID() };

  beforeAll(async () => {
    c = await clientOf(kube());
    await kube().createNamespace(ns);
    await createNode(c, 'node-1', { 'hn/underlay': 'a' });
    await createNode(c, 'node-2', { 'hn/underlay': 'a' });
    await c.create(paths.network(), underlayNetwork('underlay-a', { 'hn/underlay': 'a' }, 100));
    await c.create(
      paths.subnet(),
      subnet('underlay-a-v4', 'underlay-a', '4', '10.10.0.0/24', { gateway: '10.10.0.1' }),
    );
    await c.create(paths.network(), overlayNetwork('overlay', 4));
    await c.create(paths.subnet(), subnet('overlay-v4', 'overlay', '4', '10.20.0.0/24'));
    await c.create(paths.subnet(), subnet('overlay-v4-b', 'overlay', '4', '10.21.0.0/24'));
    await c.create(paths.subnet(), subnet('overlay-v6', 'overlay', '6', 'fd00:20::/120'));
    ({ stop } = await startManager(kube()));
  }, 180_000);

  afterAll(async () => {
    await stop?.();
    c?.close();
  });

  it('allocates an IPv4 underlay address to a scheduled pod: exact name, labels, finalizer, owner, binding, event', async () => {
    const unscheduled = await createPod(c, ns, 'pending-pod');
    const pod = await createPod(c, ns, 'v4-pod', { nodeName: 'node-1' });
    const [ip] = await waitBound(c, ns, pod);
    expect(ip!.metadata.name).toBe(ipOf(ip!).replaceAll('.', '-'));
    expect(ip!.spec.address.ip).toMatch(/^10\.10\.0\.\d+\/24$/);
    expect(ip!.spec.address).toMatchObject({ version: '4', gateway: '10.10.0.1', netID: 100 });
    expect(ip!.spec.address.mac).toMatch(/^02:12:34(:[0-9a-f]{2}){3}$/);
    expect(ip!.spec).toMatchObject({ network: 'underlay-a', subnet: 'underlay-a-v4' });
    expect(ip!.spec.binding).toMatchObject({
      referredObject: { kind: 'Pod', name: 'v4-pod', uid: pod.metadata?.uid },
      nodeName: 'node-1',
      podName: 'v4-pod',
      podUID: pod.metadata?.uid,
    });
    expect(ip!.spec.binding?.stateful).toBeUndefined();
    expect(ip!.metadata.labels).toEqual({
      [LABEL_VERSION]: 'v1.2',
      [LABEL_SUBNET]: 'underlay-a-v4',
      [LABEL_NETWORK]: 'underlay-a',
      [LABEL_NODE]: 'node-1',
      [LABEL_POD]: 'v4-pod',
      [LABEL_POD_UID]: pod.metadata?.uid,
    });
    expect(ip!.metadata.finalizers).toEqual([FINALIZER_IP_ALLOCATED]);
    expect(ip!.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        name: 'v4-pod',
        uid: pod.metadata?.uid,
        controller: true,
        blockOwnerDeletion: false,
      },
    ]);
    const events = await eventually('IPAllocationSucceed event', async () => {
      const e = await eventsOf(c, ns, 'v4-pod');
      return e.some((x) => x.reason === 'IPAllocationSucceed') ? e : undefined;
    });
    expect(events.find((e) => e.reason === 'IPAllocationSucceed')?.message).toContain(ipOf(ip!));
    // Normal pods get no pod finalizer; unscheduled pods get nothing.
    const p = await c.get<{ metadata: { finalizers?: string[] } }>(paths.pods(ns, 'v4-pod'));
    expect(p.metadata.finalizers ?? []).toEqual([]);
    expect(await podInstances(c, ns, unscheduled)).toEqual([]);
  });

  it('allocates an IPv6 overlay address (network-type + ip-family annotations)', async () => {
    const pod = await createPod(c, ns, 'v6-pod', {
      nodeName: 'node-1',
      annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay', [ANNOTATION_IP_FAMILY]: 'IPv6' },
    });
    const [ip] = await waitBound(c, ns, pod);
    expect(ip!.spec).toMatchObject({ network: 'overlay', subnet: 'overlay-v6' });
    expect(ip!.spec.address.version).toBe('6');
    expect(ip!.spec.address.ip).toMatch(/^fd00:20::[0-9a-f]+\/120$/);
    expect(ip!.metadata.name!.split('-')).toHaveLength(8);
    expect(ip!.spec.address.netID).toBe(4);
  });

  it('allocates a DualStack overlay pair sharing one MAC', async () => {
    const pod = await createPod(c, ns, 'dual-pod', {
      nodeName: 'node-2',
      annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay', [ANNOTATION_IP_FAMILY]: 'DualStack' },
    });
    const ips = await waitBound(c, ns, pod, 2);
    const versions = ips.map((i) => i.spec.address.version).sort();
    expect(versions).toEqual(['4', '6']);
    expect(ips[0]!.spec.address.mac).toBe(ips[1]!.spec.address.mac);
  });

  it('selects by pod label, by namespace annotation, and by specified subnet', async () => {
    const byLabel = await createPod(c, ns, 'label-pod', {
      nodeName: 'node-1',
      labels: { [LABEL_SPECIFIED_NETWORK]: 'overlay' },
    });
    expect((await waitBound(c, ns, byLabel))[0]!.spec.network).toBe('overlay');

    const ns2 = 'ns-overlay';
    await kube().createNamespace(ns2);
    await c.mergePatch(`/api/v1/namespaces/${ns2}`, {
      metadata: { annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay' } },
    });
    await eventually('namespace annotation visible', async () => {
      const n = await c.get<{ metadata: { annotations?: Record<string, string> } }>(`/api/v1/namespaces/${ns2}`);
      return n.metadata.annotations?.[ANNOTATION_NETWORK_TYPE] === 'Overlay';
    });
    await new Promise((r) => setTimeout(r, 500)); // let the manager's namespace cache see it
    const byNs = await createPod(c, ns2, 'ns-pod', { nodeName: 'node-1' });
    expect((await waitBound(c, ns2, byNs))[0]!.spec.network).toBe('overlay');

    const bySubnet = await createPod(c, ns, 'subnet-pod', {
      nodeName: 'node-1',
      annotations: { [ANNOTATION_SPECIFIED_SUBNET]: 'overlay-v4-b' },
    });
    const [ip] = await waitBound(c, ns, bySubnet);
    expect(ip!.spec.subnet).toBe('overlay-v4-b');
    expect(ip!.spec.address.ip).toMatch(/^10\.21\.0\./);
  });

  it('gives an address to a pod whose name is longer than 63 characters (hashed pod label)', async () => {
    const name = `long-${'x'.repeat(70)}-0`;
    const pod = await createPod(c, ns, name, { nodeName: 'node-2' });
    const [ip] = await waitBound(c, ns, pod);
    expect(ip!.metadata.labels?.[LABEL_POD]).toBe(podLabelValue(name));
    expect(ip!.metadata.labels?.[LABEL_POD]).toHaveLength(63);
    expect(ip!.spec.binding?.podName).toBe(name);
  });

  it('stateful pod: allocate → delete → reserved only after containers stop → recreate on another node → same IPInstance re-bound', async () => {
    const name = 'web-0';
    const pod = await createPod(c, ns, name, { nodeName: 'node-1', owner: sts });
    const [ip] = await waitBound(c, ns, pod);
    expect(ip!.spec.binding?.stateful?.index).toBe(0);
    expect(ip!.spec.binding?.referredObject).toEqual({ kind: 'StatefulSet', name: 'web', uid: sts.uid });
    expect(ip!.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'StatefulSet',
      name: 'web',
      uid: sts.uid,
      controller: true,
    });
    const withFinalizer = await c.get<{ metadata: { finalizers?: string[] } }>(paths.pods(ns, name));
    expect(withFinalizer.metadata.finalizers).toContain(FINALIZER_IP_ALLOCATED);

    await setContainerState(c, ns, name, 'running', 'Running');
    await deletePod(c, ns, name);
    // Containers still running: nothing happens, the pod waits.
    await new Promise((r) => setTimeout(r, 2000));
    const still = await c.get<IPInstance>(paths.ipInstances(ns, ip!.metadata.name));
    expect(still.spec.binding?.nodeName).toBe('node-1');
    expect(
      (await c.get<{ metadata: { deletionTimestamp?: string } }>(paths.pods(ns, name))).metadata.deletionTimestamp,
    ).toBeTruthy();

    await setContainerState(c, ns, name, 'terminated');
    const reserved = await eventually('IPInstance reserved', async () => {
      const i = await c.get<IPInstance>(paths.ipInstances(ns, ip!.metadata.name));
      return i.spec.binding?.nodeName === '' ? i : undefined;
    });
    expect(reserved.spec.binding).toMatchObject({ nodeName: '', podUID: '', podName: name, stateful: { index: 0 } });
    expect(reserved.metadata.labels?.[LABEL_NODE]).toBeUndefined();
    expect(reserved.metadata.labels?.[LABEL_POD_UID]).toBeUndefined();
    expect(reserved.metadata.labels?.[LABEL_POD]).toBe(name);
    await eventually('stateful pod gone after its finalizer was removed', async () => {
      return gone(c, paths.pods(ns, name));
    });

    const again = await createPod(c, ns, name, { nodeName: 'node-2', owner: sts });
    const [rebound] = await waitBound(c, ns, again);
    expect(rebound!.metadata.name).toBe(ip!.metadata.name);
    expect(rebound!.metadata.uid).toBe(ip!.metadata.uid);
    expect(rebound!.spec.address.mac).toBe(ip!.spec.address.mac);
    expect(rebound!.spec.binding).toMatchObject({ nodeName: 'node-2', podUID: again.metadata?.uid, podName: name });
    expect(rebound!.metadata.labels?.[LABEL_NODE]).toBe('node-2');
  });

  it('stateful DualStack pod keeps both addresses across re-creation', async () => {
    const name = 'dweb-1';
    const annotations = { [ANNOTATION_NETWORK_TYPE]: 'Overlay', [ANNOTATION_IP_FAMILY]: 'DualStack' };
    const pod = await createPod(c, ns, name, { nodeName: 'node-1', owner: sts, annotations });
    const first = (await waitBound(c, ns, pod, 2)).map((i) => i.metadata.name).sort();
    await deletePod(c, ns, name);
    await eventually('pod gone', async () => gone(c, paths.pods(ns, name)));
    const again = await createPod(c, ns, name, { nodeName: 'node-2', owner: sts }); // no annotations: retained IPs decide
    const second = (await waitBound(c, ns, again, 2)).map((i) => i.metadata.name).sort();
    expect(second).toEqual(first);
  });

  it('ip-pool gives 3 stateful pods their pinned addresses; changing an entry recycles the old address', async () => {
    const pool = '10.20.0.201,10.20.0.202,10.20.0.203';
    const owner = { kind: 'StatefulSet', name: 'pool', uid: randomUUID() };
    const annotations = {
      [ANNOTATION_IP_POOL]: pool,
      [ANNOTATION_NETWORK_TYPE]: 'Overlay',
      [ANNOTATION_SPECIFIED_SUBNET]: 'overlay-v4',
    };
    const pods = await Promise.all(
      [0, 1, 2].map((i) => createPod(c, ns, `pool-${i}`, { nodeName: 'node-1', owner, annotations })),
    );
    for (const [i, p] of pods.entries()) {
      const [ip] = await waitBound(c, ns, p);
      expect(ipOf(ip!)).toBe(`10.20.0.20${i + 1}`);
    }
    await deletePod(c, ns, 'pool-1');
    await eventually('pool-1 gone', async () => gone(c, paths.pods(ns, 'pool-1')));
    const changed = { ...annotations, [ANNOTATION_IP_POOL]: '10.20.0.201,10.20.0.212,10.20.0.203' };
    const p1 = await createPod(c, ns, 'pool-1', { nodeName: 'node-2', owner, annotations: changed });
    const [ip] = await waitBound(c, ns, p1);
    expect(ipOf(ip!)).toBe('10.20.0.212');
    await eventually('old pinned IPInstance recycled', async () => gone(c, paths.ipInstances(ns, '10-20-0-202')));
    const mine = await listIPInstances(c, ns, `${LABEL_POD}=pool-1`);
    expect(mine.map((i) => i.metadata.name)).toEqual(['10-20-0-212']);
  });

  it('mac-pool is honoured for stateful pods and ignored for other pods', async () => {
    const owner = { kind: 'StatefulSet', name: 'mac', uid: randomUUID() };
    const annotations = { [ANNOTATION_MAC_POOL]: '02:AA:00:00:00:01,02:aa:00:00:00:02' };
    const s1 = await createPod(c, ns, 'mac-1', { nodeName: 'node-1', owner, annotations });
    expect((await waitBound(c, ns, s1))[0]!.spec.address.mac).toBe('02:aa:00:00:00:02');
    const plain = await createPod(c, ns, 'plain-1', { nodeName: 'node-1', annotations });
    expect((await waitBound(c, ns, plain))[0]!.spec.address.mac).toMatch(/^02:12:34:/);
  });

  it('deleting an IPInstance releases its address and removes the finalizer', async () => {
    const pod = await createPod(c, ns, 'release-pod', { nodeName: 'node-2' });
    const [ip] = await waitBound(c, ns, pod);
    await c.delete(paths.ipInstances(ns, ip!.metadata.name));
    await eventually('IPInstance gone', async () => gone(c, paths.ipInstances(ns, ip!.metadata.name)));
    // Released in memory: the same address can be pinned by another pod without force.
    const owner = { kind: 'StatefulSet', name: 'grab', uid: randomUUID() };
    const grab = await createPod(c, ns, 'grab-0', {
      nodeName: 'node-1',
      owner,
      annotations: { [ANNOTATION_IP_POOL]: ipOf(ip!), [ANNOTATION_SPECIFIED_SUBNET]: 'underlay-a-v4' },
    });
    expect(ipOf((await waitBound(c, ns, grab))[0]!)).toBe(ipOf(ip!));
  });

  it('an evicted pod is decoupled (its IPInstances deleted)', async () => {
    const pod = await createPod(c, ns, 'evict-pod', { nodeName: 'node-2' });
    const [ip] = await waitBound(c, ns, pod);
    await setContainerState(c, ns, 'evict-pod', 'terminated', 'Failed', 'Evicted');
    await eventually('IPInstance of evicted pod gone', async () => gone(c, paths.ipInstances(ns, ip!.metadata.name)));
  });

  it('a completed pod (Succeeded, every container terminated) is decoupled', async () => {
    const pod = await createPod(c, ns, 'job-pod', { nodeName: 'node-1' });
    const [ip] = await waitBound(c, ns, pod);
    await setContainerState(c, ns, 'job-pod', 'terminated', 'Succeeded');
    await eventually('IPInstance of completed pod gone', async () => gone(c, paths.ipInstances(ns, ip!.metadata.name)));
  });

  it('a stateful pod whose owner reference was stripped is still reserved on deletion (owner from its IPInstance)', async () => {
    const pod = await createPod(c, ns, 'strip-0', { nodeName: 'node-1', owner: sts });
    const [ip] = await waitBound(c, ns, pod);
    await c.mergePatch(paths.pods(ns, 'strip-0'), { metadata: { ownerReferences: null } });
    await deletePod(c, ns, 'strip-0');
    await eventually('pod gone', async () => gone(c, paths.pods(ns, 'strip-0')));
    const kept = await c.get<IPInstance>(paths.ipInstances(ns, ip!.metadata.name));
    expect(kept.spec.binding).toMatchObject({ nodeName: '', podUID: '', podName: 'strip-0' });
  });
});
