/**
 * Leader election and restarts against kube-apiserver (real):
 * - a stateful pod deleted while the manager is stopped, and a new pod pinning that pod's address (ip-pool) created
 *   before the restart: after the restart the old pod's address is reserved, then force-assigned to the new pod —
 *   one IPInstance, no duplicate;
 * - two manager processes: only the leader writes (IPInstance managedFields name the writer); SIGKILL the leader and
 *   the other takes over within the lease duration; allocation continues without duplicates.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_POOL,
  ANNOTATION_SPECIFIED_SUBNET,
  FINALIZER_IP_ALLOCATED,
  IPInstanceResource,
  LABEL_NETWORK,
  LABEL_NODE,
  LABEL_POD,
  LABEL_POD_UID,
  LABEL_SUBNET,
  LABEL_VERSION,
  type IPInstance,
} from '../../src/api/index.ts';
import type { KubeClient, Lease } from '../../src/kube/index.ts';
import { useKube } from '../fixture/kube.ts';
import {
  clientOf,
  createNode,
  createPod,
  deletePod,
  eventually,
  gone,
  killChild,
  listIPInstances,
  paths,
  spawnManager,
  startManager,
  subnet,
  underlayNetwork,
  waitBound,
} from './helpers.ts';

const leasePath = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/hybridnet-manager-election';

describe('leader election and restarts against kube-apiserver (real)', () => {
  const kube = useKube();
  let c: KubeClient;
  const ns = 'lead';

  beforeAll(async () => {
    c = await clientOf(kube());
    await kube().createNamespace(ns);
    await createNode(c, 'node-1', { 'hn/underlay': 'l' });
    await c.create(paths.network(), underlayNetwork('net', { 'hn/underlay': 'l' }, 0));
    await c.create(paths.subnet(), subnet('net-v4', 'net', '4', '10.60.0.0/24', { gateway: '10.60.0.1' }));
    await c.create(paths.subnet(), subnet('net-v6', 'net', '6', 'fd00:60::/120', { gateway: 'fd00:60::1' }));
  }, 180_000);

  it('a DualStack pod left with one address by a crash between its two IPInstances gets a fresh pair after restart', async () => {
    const pod = await createPod(c, ns, 'half', {
      nodeName: 'node-1',
      annotations: { [ANNOTATION_IP_FAMILY]: 'DualStack' },
    });
    const uid = pod.metadata?.uid ?? '';
    await c.create(paths.ipInstances(ns), {
      apiVersion: IPInstanceResource.apiVersion,
      kind: 'IPInstance',
      metadata: {
        name: '10-60-0-250',
        namespace: ns,
        labels: {
          [LABEL_VERSION]: 'v1.2',
          [LABEL_SUBNET]: 'net-v4',
          [LABEL_NETWORK]: 'net',
          [LABEL_NODE]: 'node-1',
          [LABEL_POD]: 'half',
          [LABEL_POD_UID]: uid,
        },
        finalizers: [FINALIZER_IP_ALLOCATED],
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Pod', name: 'half', uid, controller: true, blockOwnerDeletion: false },
        ],
      },
      spec: {
        network: 'net',
        subnet: 'net-v4',
        address: { version: '4', ip: '10.60.0.250/24', gateway: '10.60.0.1', netID: 0, mac: '02:12:34:00:00:99' },
        binding: {
          referredObject: { kind: 'Pod', name: 'half', uid },
          nodeName: 'node-1',
          podName: 'half',
          podUID: uid,
        },
      },
    });
    const m = await startManager(kube());
    try {
      const pair = await waitBound(c, ns, pod, 2);
      expect(pair.map((i) => i.spec.address.version).sort()).toEqual(['4', '6']);
      await eventually('the lone half gone', () => gone(c, paths.ipInstances(ns, '10-60-0-250')));
    } finally {
      await m.stop();
    }
  }, 120_000);

  afterAll(() => c?.close());

  it('stateful pod deleted while the manager is stopped; a new pod pinning its address after restart gets it, once', async () => {
    const m1 = await startManager(kube());
    const db = await createPod(c, ns, 'db-0', {
      nodeName: 'node-1',
      owner: { kind: 'StatefulSet', name: 'db', uid: randomUUID() },
    });
    const [ip] = await waitBound(c, ns, db);
    const addr = ip!.spec.address.ip.split('/')[0]!;
    await m1.stop();

    await deletePod(c, ns, 'db-0'); // held by the pod finalizer: nobody reserves while the manager is down
    const other = await createPod(c, ns, 'other-0', {
      nodeName: 'node-1',
      owner: { kind: 'StatefulSet', name: 'other', uid: randomUUID() },
      annotations: { [ANNOTATION_IP_POOL]: addr, [ANNOTATION_SPECIFIED_SUBNET]: 'net-v4' },
    });
    expect(await gone(c, paths.pods(ns, 'db-0'))).toBe(false);

    const m2 = await startManager(kube());
    try {
      await eventually('db-0 reserved and gone', () => gone(c, paths.pods(ns, 'db-0')));
      const [taken] = await waitBound(c, ns, other);
      expect(taken!.metadata.name).toBe(ip!.metadata.name);
      expect(taken!.spec.binding).toMatchObject({
        podName: 'other-0',
        nodeName: 'node-1',
        referredObject: { name: 'other' },
      });
      const same = (await listIPInstances(c)).filter((i) => i.spec.address.ip === ip!.spec.address.ip);
      expect(same).toHaveLength(1);
      // db-0 comes back: its address went to other-0, so it gets a fresh one.
      const db2 = await createPod(c, ns, 'db-0', {
        nodeName: 'node-1',
        owner: { kind: 'StatefulSet', name: 'db', uid: randomUUID() },
      });
      const [fresh] = await waitBound(c, ns, db2);
      expect(fresh!.spec.address.ip).not.toBe(ip!.spec.address.ip);
    } finally {
      await m2.stop();
    }
  }, 180_000);

  it('two manager processes: only the leader writes; SIGKILL the leader and the other takes over within the lease duration', async () => {
    const log = path.join(kube().dir, 'logs', 'managers.log');
    const flags = [
      '--metrics-port=0',
      '--leader-elect-lease-duration=4',
      '--leader-elect-renew-deadline=3',
      '--leader-elect-retry-period=0.5',
      '--log-level=warn',
    ];
    const a = spawnManager(kube(), ['--identity=mgr-a', ...flags], log);
    const b = spawnManager(kube(), ['--identity=mgr-b', ...flags], log);
    const procs: Record<string, typeof a> = { 'mgr-a': a, 'mgr-b': b };
    try {
      const holder = await eventually(
        'a leader',
        async () => {
          const l = await c.get<Lease>(leasePath).catch(() => undefined);
          const h = l?.spec?.holderIdentity;
          return h === 'mgr-a' || h === 'mgr-b' ? h : undefined;
        },
        60_000,
      );
      const follower = holder === 'mgr-a' ? 'mgr-b' : 'mgr-a';

      const first = await Promise.all(
        Array.from({ length: 20 }, (_, i) => createPod(c, ns, `one-${i}`, { nodeName: 'node-1' })),
      );
      for (const p of first) await waitBound(c, ns, p);
      const writers = (insts: IPInstance[]): Set<string> =>
        new Set(
          insts.flatMap((i) =>
            ((i.metadata as { managedFields?: { manager?: string }[] }).managedFields ?? []).map(
              (f) => f.manager ?? '',
            ),
          ),
        );
      const firstInstances = (await listIPInstances(c, ns)).filter((i) =>
        i.metadata.labels?.[LABEL_POD]?.startsWith('one-'),
      );
      expect(writers(firstInstances)).toEqual(new Set([`hybridnet-manager-${holder}`]));

      const killedAt = Date.now();
      await killChild(procs[holder]!, 'SIGKILL');
      await eventually(
        'the follower holds the lease',
        async () => {
          const l = await c.get<Lease>(leasePath);
          return l.spec?.holderIdentity === follower;
        },
        30_000,
        100,
      );
      const takeover = Date.now() - killedAt;
      console.log(`[leader] takeover after ${takeover} ms (lease duration 4000 ms)`);
      expect(takeover).toBeLessThan(4000 + 3000); // lease duration + retry period + API latency on a busy machine

      const second = await Promise.all(
        Array.from({ length: 20 }, (_, i) => createPod(c, ns, `two-${i}`, { nodeName: 'node-1' })),
      );
      for (const p of second) await waitBound(c, ns, p, 1, 90_000);
      const all = await listIPInstances(c);
      const ips = all.map((i) => i.spec.address.ip);
      expect(new Set(ips).size).toBe(ips.length);
      const secondInstances = all.filter((i) => i.metadata.labels?.[LABEL_POD]?.startsWith('two-'));
      expect(secondInstances).toHaveLength(20);
      expect(writers(secondInstances)).toEqual(new Set([`hybridnet-manager-${follower}`]));
    } finally {
      await killChild(a, 'SIGTERM');
      await killChild(b, 'SIGTERM');
    }
  }, 240_000);
});
