/**
 * A daemon whose Node object is absent (deleted and not registered again yet, root + netns (real)): issue #16's fault
 * "the daemon exits when it starts while its Node object is absent". The 404 of the Node GET in NodeInfo publishing
 * escaped `run()`, so under a DaemonSet the daemon crash-looped and every ADD on the node failed. Now it stays live
 * and ready, says so once, and publishes its NodeInfo (owned by the new Node) as soon as the Node exists again.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeInfoResource, type NodeInfo } from '../../src/api/index.ts';
import { KubeApiError, resourcePath, type KubeClient } from '../../src/kube/index.ts';
import { eventually } from '../fixture/kube.ts';
import { createNode, overlayNetwork, paths, subnet } from '../manager/helpers.ts';
import { useTestCluster } from '../datapath/use-cluster.ts';
import type { Harness } from '../datapath/harness.ts';

let c: KubeClient;
let h: Harness;

useTestCluster(
  {
    nodes: [1],
    networks: [overlayNetwork('overlay', 4)],
    subnets: [subnet('overlay-v4', 'overlay', '4', '10.213.0.0/16')],
    managerArgs: ['--identity=node-absent', '--metrics-port=0'],
    daemons: 'none',
  },
  (t) => {
    ({ c, h } = t);
  },
);

const nodeInfoPath = resourcePath(NodeInfoResource, undefined, 'node1');
const NOT_FOUND = 'Node object not found';

async function nodeInfo(): Promise<NodeInfo | undefined> {
  return c.get<NodeInfo>(nodeInfoPath).catch((err: unknown) => {
    if (err instanceof KubeApiError && err.code === 404) return undefined;
    throw err;
  });
}

describe('daemon without its Node object (root + netns (real))', () => {
  it('starts, stays live and ready, logs it once, and publishes its NodeInfo when the Node is registered again', async () => {
    const n1 = h.node('node1');
    await c.delete(paths.node('node1'));
    if (await nodeInfo()) await c.delete(nodeInfoPath);
    // startDaemon fails when the daemon exits before /ready answers
    await h.startDaemon(n1, ['--iptables-check-duration=1s']);
    // a few resyncs later: still running, no NodeInfo (nothing can own it), the state logged once
    await new Promise((r) => setTimeout(r, 3500));
    expect(n1.daemon?.exitCode).toBeNull();
    expect(await nodeInfo()).toBeUndefined();
    const log = (): string => readFileSync(path.join(n1.dir, 'daemon.log'), 'utf8');
    expect(log().split(NOT_FOUND).length - 1).toBe(1);

    const node = await createNode(c, 'node1');
    const published = await eventually(
      'NodeInfo node1 published, owned by the new Node',
      async () => {
        const ni = await nodeInfo();
        return ni?.metadata?.ownerReferences?.[0]?.uid === node.metadata?.uid && ni?.spec.vtepInfo?.ip ? ni : false;
      },
      20_000,
    );
    expect(published.spec.vtepInfo?.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(log()).toContain('Node object found');
    expect(n1.daemon?.exitCode).toBeNull();
  }, 90_000);
});
