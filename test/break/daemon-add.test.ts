/**
 * The daemon's ADD path after issue #6 (root + netns (real)): the pod comes from the node-scoped pod informer when
 * its UID is the K8S_POD_UID the runtime sent, else from a GET; the IPInstance status patch starts before the wiring.
 * Attacks: a pod deleted and recreated under the same name (the cache may still hold the old UID), ADD without
 * K8S_POD_UID, ADD right after the daemon starts, and ADDs that fail in the wiring or in the ping from the node: a
 * failed ADD leaves no attachment record and no host veth. One node, a real API server, manager and daemon.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_NETWORK_TYPE,
  IPInstanceResource,
  LABEL_POD_UID,
  type IPInstance,
} from '../../src/api/index.ts';
import { resourcePath, type KubeClient } from '../../src/kube/index.ts';
import { hostVethName } from '../../src/net/index.ts';
import { eventually } from '../fixture/kube.ts';
import { createPod, overlayNetwork, paths, subnet } from '../manager/helpers.ts';
import { useTestCluster } from '../datapath/use-cluster.ts';
import { cniEnv, type Harness, must, sh, type TestNode } from '../datapath/harness.ts';

let c: KubeClient;
let h: Harness;
let node: TestNode;

const annotations = { [ANNOTATION_NETWORK_TYPE]: 'Overlay', [ANNOTATION_IP_FAMILY]: 'IPv4' };

interface Sandbox {
  name: string;
  netns: string;
  ns: string;
  containerID: string;
}

async function sandbox(name: string): Promise<Sandbox> {
  const ns = await h.netns(`${h.prefix}p-${name}-${randomBytes(2).toString('hex')}`);
  return { name, ns, netns: `/var/run/netns/${ns}`, containerID: `ctr${randomBytes(6).toString('hex')}` };
}

function add(s: Sandbox, uid?: string): ReturnType<Harness['cni']> {
  return h.cni('ADD', cniEnv({ ...s, ...(uid ? { uid } : {}) }), h.netconf(node));
}

async function instancesOf(uid: string): Promise<IPInstance[]> {
  const l = await c.get<{ items: IPInstance[] }>(resourcePath(IPInstanceResource, 'default'), {
    query: { labelSelector: `${LABEL_POD_UID}=${uid}` },
  });
  return l.items;
}

const recordOf = (containerID: string): string => path.join(node.dir, 'state', 'containers', `${containerID}.json`);

async function hostVethExists(pod: string): Promise<boolean> {
  return (await sh('ip', ['-n', node.ns, 'link', 'show', hostVethName('default', pod)])).code === 0;
}

async function deletePod(name: string): Promise<void> {
  await c.delete(paths.pods('default', name), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
}

useTestCluster(
  {
    networks: [overlayNetwork('overlay', 4)],
    subnets: [subnet('overlay-v4', 'overlay', '4', '10.211.0.0/16')],
    managerArgs: ['--identity=break-manager', '--metrics-port=0', '--leader-elect-lease-duration=4'],
    waitNodeInfos: true,
  },
  (t) => {
    ({ c, h } = t);
    node = h.node('node1');
  },
);

describe('daemon ADD: the pod from the informer or the API server (root + netns (real))', () => {
  it('a pod recreated under the same name gets the new UID’s IPInstance; the old UID is refused', async () => {
    const first = await createPod(c, 'default', 'again', { nodeName: node.name, annotations });
    const uid1 = first.metadata?.uid ?? '';
    const s1 = await sandbox('again');
    const r1 = await add(s1, uid1);
    expect(r1.code, r1.stdout).toBe(0);
    expect((await h.cni('DEL', cniEnv({ ...s1, uid: uid1 }), h.netconf(node))).code).toBe(0);
    await deletePod('again');
    // at once: the informer may still hold the old pod under this name
    const second: V1Pod = await createPod(c, 'default', 'again', { nodeName: node.name, annotations });
    const uid2 = second.metadata?.uid ?? '';
    expect(uid2).not.toBe(uid1);
    const s2 = await sandbox('again');
    const r2 = await add(s2, uid2);
    expect(r2.code, r2.stdout).toBe(0);
    const ip = (r2.json as { ips: { address: string }[] }).ips[0]?.address;
    const mine = await instancesOf(uid2);
    expect(mine.map((i) => i.spec.address.ip)).toEqual([ip]);
    expect(mine[0]?.status?.sandboxID).toBe(s2.containerID);
    // the runtime retrying a sandbox of the deleted pod
    const stale = await add(await sandbox('again'), uid1);
    expect(stale.code).toBe(1);
    expect(stale.json).toMatchObject({
      code: 3,
      msg: expect.stringMatching(/UID .* is not the current pod/) as unknown,
    });
  });

  it('ADD without K8S_POD_UID reads the pod from the API server', async () => {
    const p = await createPod(c, 'default', 'nouid', { nodeName: node.name, annotations });
    const r = await add(await sandbox('nouid'));
    expect(r.code, r.stdout).toBe(0);
    const mine = await instancesOf(p.metadata?.uid ?? '');
    expect(mine.map((i) => i.spec.address.ip)).toEqual([(r.json as { ips: { address: string }[] }).ips[0]?.address]);
  });

  it('ADD right after the daemon restarted', async () => {
    const p = await createPod(c, 'default', 'early', { nodeName: node.name, annotations });
    await eventually('the IPInstance of early', async () => (await instancesOf(p.metadata?.uid ?? '')).length === 1);
    await h.kill(node.daemon);
    await h.startDaemon(node);
    const r = await add(await sandbox('early'), p.metadata?.uid);
    expect(r.code, r.stdout).toBe(0);
  }, 120_000);
});

describe('daemon ADD that fails (root + netns (real))', () => {
  it('wiring fails (the pod namespace already has the interface): no record, no host veth', async () => {
    const p = await createPod(c, 'default', 'clash', { nodeName: node.name, annotations });
    const s = await sandbox('clash');
    await must('ip', ['-n', s.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    const r = await add(s, p.metadata?.uid);
    expect(r.code, r.stdout).toBe(1);
    expect(r.json).toMatchObject({ code: 100 });
    expect(existsSync(recordOf(s.containerID))).toBe(false);
    expect(await hostVethExists('clash')).toBe(false);
    // what the status says afterwards: the failed sandbox (the patch went out before the wiring)
    const [ins] = await instancesOf(p.metadata?.uid ?? '');
    expect(ins?.status?.sandboxID).toBe(s.containerID);
  });

  it('the ping from the node fails (the pod drops ICMP): no record, no host veth', async () => {
    const p = await createPod(c, 'default', 'mute', { nodeName: node.name, annotations });
    const s = await sandbox('mute');
    await must('ip', ['netns', 'exec', s.ns, 'iptables', '-A', 'INPUT', '-p', 'icmp', '-j', 'DROP']);
    const r = await add(s, p.metadata?.uid);
    expect(r.code, r.stdout).toBe(1);
    expect(r.json).toMatchObject({ code: 100, msg: expect.stringMatching(/does not answer ping/) as unknown });
    expect(existsSync(recordOf(s.containerID))).toBe(false);
    expect(await hostVethExists('mute')).toBe(false);
  }, 60_000);
});
