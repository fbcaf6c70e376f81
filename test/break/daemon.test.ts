/**
 * A real `hybridnet daemon` (one node namespace, real kube-apiserver, real manager) under careless and hostile CNI
 * traffic (issue #5/#6 hardening): DEL before ADD, ADD twice, DEL while the ADD of the same container is still
 * waiting, the daemon killed in the middle of an ADD, a netns that is not a network namespace, raw garbage and many
 * concurrent connections on the socket. Checked afterwards: the daemon is alive, no host veth or attachment record is
 * left behind, every pod address is wired exactly once.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANNOTATION_IP_FAMILY, ANNOTATION_NETWORK_TYPE } from '../../src/api/index.ts';
import type { KubeClient } from '../../src/kube/index.ts';
import { hostVethName } from '../../src/net/index.ts';
import { overlayNetwork, paths, subnet } from '../manager/helpers.ts';
import { preparePod } from '../datapath/cluster-fixture.ts';
import { useTestCluster } from '../datapath/use-cluster.ts';
import { type Harness, must, ping, type TestNode } from '../datapath/harness.ts';

let c: KubeClient;
let h: Harness;
let n1: TestNode;

interface PodRef {
  name: string;
  ns: string;
  netns: string;
  containerID: string;
}

function env(p: PodRef, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CNI_CONTAINERID: p.containerID,
    CNI_NETNS: p.netns,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${p.name}`,
    ...extra,
  };
}

async function newPod(name: string, scheduled = true): Promise<PodRef> {
  return preparePod({ c, h }, n1, name, {
    scheduled,
    annotations: { [ANNOTATION_NETWORK_TYPE]: 'Overlay', [ANNOTATION_IP_FAMILY]: 'IPv4' },
  });
}

/** Host veths of pods on node1. */
async function hostVeths(): Promise<string[]> {
  const out = await must('ip', ['-n', n1.ns, '-json', 'link', 'show', 'type', 'veth']);
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname).filter((x) => x.startsWith('hybr'));
}

function record(p: PodRef): string {
  return path.join(n1.dir, 'state', 'containers', `${p.containerID}.json`);
}

/** Local-direct routes (table 39999) to `ip` on node1. */
async function routesTo(ip: string): Promise<string[]> {
  const out = await must('ip', ['-n', n1.ns, '-4', 'route', 'show', 'table', '39999']);
  return out.split('\n').filter((l) => l.startsWith(`${ip} `));
}

function daemonAlive(): boolean {
  return n1.daemon?.exitCode === null && n1.daemon.signalCode === null;
}

useTestCluster(
  {
    publishAddresses: false,
    networks: [overlayNetwork('overlay', 4)],
    subnets: [subnet('overlay-v4', 'overlay', '4', '10.210.0.0/16')],
    managerArgs: ['--identity=brk-manager', '--metrics-port=0'],
  },
  (t) => {
    ({ c, h } = t);
    n1 = h.node('node1');
  },
);

describe('daemon under careless and hostile CNI traffic (root + netns (real))', () => {
  it('DEL before ADD succeeds and touches nothing', async () => {
    const p = await newPod('del-first');
    const r = await h.cni('DEL', env(p), h.netconf(n1));
    expect(r.code, r.stdout).toBe(0);
    expect(await hostVeths()).not.toContain(hostVethName('default', p.name));
  });

  it('ADD with a netns that is a regular file fails with code 4 and leaves no veth', async () => {
    const p = await newPod('not-a-netns');
    const before = await hostVeths();
    const r = await h.cni('ADD', env(p, { CNI_NETNS: '/etc/hostname' }), h.netconf(n1));
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ code: 4, msg: expect.stringMatching(/not a network namespace/) as unknown });
    expect(await hostVeths()).toEqual(before);
  });

  it('ADD twice for one container: one veth, one route, traffic works', async () => {
    const p = await newPod('twice');
    const first = await h.cni('ADD', env(p), h.netconf(n1));
    expect(first.code, first.stdout).toBe(0);
    const second = await h.cni('ADD', env(p), h.netconf(n1));
    expect(second.code, second.stdout).toBe(0);
    const ip = ((second.json as { ips: { address: string }[] }).ips[0]?.address ?? '').split('/')[0] ?? '';
    expect(await hostVeths()).toContain(hostVethName('default', p.name));
    expect(await routesTo(ip)).toHaveLength(1);
    expect(await ping(n1.ns, ip)).toBe(true);
    expect((await h.cni('DEL', env(p), h.netconf(n1))).code).toBe(0);
    expect(await hostVeths()).not.toContain(hostVethName('default', p.name));
    expect(existsSync(record(p))).toBe(false);
  });

  it('DEL while the ADD of the same container waits for its IPInstance: nothing stays wired', async () => {
    // an unscheduled pod gets no IPInstance: the ADD waits until the pod is bound to node1
    const p = await newPod('del-during-add', false);
    const add = h.cni('ADD', env(p), h.netconf(n1));
    await new Promise((r) => setTimeout(r, 1500));
    const deleting = h.cni('DEL', env(p), h.netconf(n1));
    await new Promise((r) => setTimeout(r, 500));
    await c.create(`${paths.pods('default')}/${p.name}/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: p.name },
      target: { apiVersion: 'v1', kind: 'Node', name: n1.name },
    });
    const [added, del] = await Promise.all([add, deleting]);
    expect(del.code, del.stdout).toBe(0);
    expect(added.code, added.stdout).toBe(0); // the DEL waited for it, then removed it
    // the runtime was told the container is gone: it must not be left wired (or the ADD must have failed)
    expect(await hostVeths()).not.toContain(hostVethName('default', p.name));
    expect(existsSync(record(p))).toBe(false);
  }, 60_000);

  it('daemon killed in the middle of an ADD: the ADD fails with a CNI error, a retry after restart wires once', async () => {
    const p = await newPod('killed-mid-add', false);
    const add = h.cni('ADD', env(p), h.netconf(n1));
    await new Promise((r) => setTimeout(r, 1500));
    await h.kill(n1.daemon, 'SIGKILL');
    const r = await add;
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ code: 11 });
    await c.create(`${paths.pods('default')}/${p.name}/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: p.name },
      target: { apiVersion: 'v1', kind: 'Node', name: n1.name },
    });
    await h.startDaemon(n1);
    const retry = await h.cni('ADD', env(p), h.netconf(n1));
    expect(retry.code, retry.stdout).toBe(0);
    const ip = ((retry.json as { ips: { address: string }[] }).ips[0]?.address ?? '').split('/')[0] ?? '';
    expect(await routesTo(ip)).toHaveLength(1);
    expect(await ping(n1.ns, ip)).toBe(true);
  }, 120_000);

  it('survives raw garbage, half requests and 100 concurrent connections on its socket', async () => {
    const garbage = ['\0\0\0\0', 'GET / HTTP/1.1\r\n\r\n', `POST /api/v1/add HTTP/1.1\r\nContent-Length: 5\r\n\r\n{"a`];
    for (const g of garbage) {
      const s = net.connect(n1.socket);
      s.on('error', () => undefined);
      s.end(g);
    }
    const body = (i: number): string =>
      JSON.stringify({
        pod_name: `ghost-${i}`,
        pod_namespace: 'default',
        container_id: `ghost${i}`,
        net_ns: '/proc/self/ns/net',
        if_name: 'eth0',
        network_name: 'hybridnet',
      });
    const statuses = await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) =>
          new Promise<number>((resolve, reject) => {
            const req = http.request(
              { socketPath: n1.socket, method: 'POST', path: '/api/v1/add', agent: false },
              (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode ?? 0));
              },
            );
            req.on('error', reject);
            req.end(body(i));
          }),
      ),
    );
    expect(statuses.every((s) => s === 400)).toBe(true); // pod not found in the API server
    expect(daemonAlive()).toBe(true);
    const r = await h.cni(
      'ADD',
      env({ name: 'ghost', ns: '', netns: '/proc/self/ns/net', containerID: 'ghost' }),
      h.netconf(n1),
    );
    expect(r.json).toMatchObject({ code: 3 });
  }, 120_000);
});
