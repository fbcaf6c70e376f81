/**
 * Real kube-controller-manager and kube-scheduler against the fixture: garbage collection of an
 * IPInstance owned by a Pod (with the hybridnet finalizer), and StatefulSet pods bound by the
 * scheduler to Node objects that match the pod's nodeSelector. There is no kubelet: pods stay Pending.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually, refusalOf, useKube } from '../fixture/kube.ts';

const group = 'networking.alibaba.com';
const version = 'v1';
const finalizer = 'networking.alibaba.com/ip-allocated';

function node(name: string, pool: string): V1Node {
  const now = new Date();
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'hn-test/pool': pool } },
    status: {
      capacity: { cpu: '4', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
      conditions: [
        { type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now },
      ],
    },
  };
}

describe('kube-apiserver + kube-controller-manager + kube-scheduler (real)', () => {
  const kube = useKube({ controllerManager: true, scheduler: true });

  it('garbage collector deletes an IPInstance owned by a deleted Pod once its finalizer is removed', async () => {
    const kc = kube().kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const objects = kc.makeApiClient(CustomObjectsApi);
    const ns = 'gc-test';
    await kube().createNamespace(ns);
    const pod: V1Pod = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'pod-a' },
        // No node matches: the pod stays unscheduled, so deletion is immediate (no kubelet).
        spec: {
          nodeSelector: { 'hn-test/pool': 'none' },
          containers: [{ name: 'c', image: 'registry.invalid/pause:1' }],
        },
      },
    });
    const ipName = '10-14-100-5';
    await objects.createNamespacedCustomObject({
      group,
      version,
      namespace: ns,
      plural: 'ipinstances',
      body: {
        apiVersion: `${group}/${version}`,
        kind: 'IPInstance',
        metadata: {
          name: ipName,
          finalizers: [finalizer],
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'Pod',
              name: 'pod-a',
              uid: pod.metadata?.uid,
              controller: true,
              blockOwnerDeletion: false,
            },
          ],
        },
        spec: {
          network: 'net-a',
          subnet: 'subnet-a',
          address: {
            version: '4',
            ip: '10.14.100.5/24',
            gateway: '10.14.100.1',
            netID: null,
            mac: '02:12:34:56:78:9a',
          },
          binding: {
            referredObject: { kind: 'Pod', name: 'pod-a', uid: pod.metadata?.uid },
            podName: 'pod-a',
            podUID: pod.metadata?.uid,
          },
        },
      },
    });
    const get = (): Promise<{
      metadata: { deletionTimestamp?: string; finalizers?: string[]; resourceVersion: string };
    }> => objects.getNamespacedCustomObject({ group, version, namespace: ns, plural: 'ipinstances', name: ipName });

    await core.deleteNamespacedPod({ namespace: ns, name: 'pod-a' });
    const terminating = await eventually(
      'IPInstance deletionTimestamp set by the garbage collector',
      async () => {
        const ip = await get();
        return ip.metadata.deletionTimestamp ? ip : undefined;
      },
      60_000,
    );
    expect(terminating.metadata.finalizers).toEqual([finalizer]);

    // The finalizer holds the object; removing it lets the deletion complete.
    await objects.replaceNamespacedCustomObject({
      group,
      version,
      namespace: ns,
      plural: 'ipinstances',
      name: ipName,
      body: { ...terminating, metadata: { ...terminating.metadata, finalizers: [] } },
    });
    const gone = await eventually(
      'IPInstance gone',
      async () => {
        const r = await refusalOf(get()).catch(() => undefined);
        return r?.code === 404 ? r : undefined;
      },
      30_000,
    );
    expect(gone.code).toBe(404);
  });

  it('StatefulSet controller creates <name>-0..2 and the scheduler binds them by nodeSelector', async () => {
    const kc = kube().kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    for (const [name, pool] of [
      ['node-1', 'a'],
      ['node-2', 'a'],
      ['node-3', 'b'],
    ] as const) {
      await core.createNode({ body: node(name, pool) });
      // Status goes through the status subresource, as a kubelet would write it (fresh heartbeat).
      // The node lifecycle controller may update the Node meanwhile: re-read on conflict.
      await eventually(
        `status of ${name}`,
        async () => {
          const cur = await core.readNode({ name });
          await core.replaceNodeStatus({ name, body: { ...cur, status: node(name, pool).status } });
          return true;
        },
        10_000,
      );
    }
    const ns = 'sts-test';
    await kube().createNamespace(ns);
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          serviceName: 'web',
          replicas: 3,
          // OrderedReady would wait for web-0 to become Ready, which needs a kubelet.
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              nodeSelector: { 'hn-test/pool': 'a' },
              containers: [{ name: 'c', image: 'registry.invalid/pause:1' }],
            },
          },
        },
      },
    });
    const pods = await eventually(
      '3 StatefulSet pods bound to nodes',
      async () => {
        const list = await core.listNamespacedPod({ namespace: ns });
        const bound = list.items.filter((p) => p.spec?.nodeName);
        return bound.length === 3 ? list.items : undefined;
      },
      60_000,
    );
    expect(pods.map((p) => p.metadata?.name).sort()).toEqual(['web-0', 'web-1', 'web-2']);
    for (const p of pods) {
      expect(['node-1', 'node-2']).toContain(p.spec?.nodeName);
      expect(p.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'StatefulSet', name: 'web', controller: true });
      expect(p.status?.phase).toBe('Pending');
    }
  });
});
