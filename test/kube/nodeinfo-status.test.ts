/**
 * patchNodeInfoStatus against a real kube-apiserver + etcd: a node without NodeInfo (BGP only, no overlay) gets one
 * owned by its Node before its status is written; an existing NodeInfo keeps its spec and gets the status merged.
 */
import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { NodeInfoResource, type NodeInfo } from '../../src/api/index.ts';
import { patchNodeInfoStatus } from '../../src/daemon/nodeinfo.ts';
import { KubeApiError, NodesPath, resourcePath } from '../../src/kube/index.ts';
import { useKube } from '../fixture/kube.ts';
import { clientOf, createNode } from '../manager/helpers.ts';

const kube = useKube();
const peer = {
  network: 'bgp-rack1',
  address: '192.168.56.1',
  asn: 64512,
  state: 'Established',
  updateTimestamp: '2026-11-29T18:00:00Z',
};

describe('NodeInfo status of a node (real API server)', () => {
  it('creates the missing NodeInfo owned by the Node, then writes status.bgpPeers', async () => {
    const c = await clientOf(kube());
    await createNode(c, 'bgp-only');
    await patchNodeInfoStatus(c, 'bgp-only', { bgpPeers: [peer] });
    const ni = await c.get<NodeInfo>(resourcePath(NodeInfoResource, undefined, 'bgp-only'));
    const node = await c.get<V1Node>(resourcePath(NodesPath, undefined, 'bgp-only'));
    expect(ni.status?.bgpPeers).toEqual([peer]);
    expect(ni.spec).toEqual({});
    expect(ni.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Node', name: 'bgp-only', uid: node.metadata?.uid, controller: true }),
    ]);
    c.close();
  });

  it('merges into an existing NodeInfo without touching its VTEP; a missing Node is an error', async () => {
    const c = await clientOf(kube());
    await createNode(c, 'overlay-node');
    const vtepInfo = { ip: '192.168.56.11', mac: '02:00:00:00:00:11', localIPs: ['192.168.56.11'] };
    await c.create(resourcePath(NodeInfoResource), {
      apiVersion: NodeInfoResource.apiVersion,
      kind: NodeInfoResource.kind,
      metadata: { name: 'overlay-node' },
      spec: { vtepInfo },
    });
    await patchNodeInfoStatus(c, 'overlay-node', { bgpPeers: [{ ...peer, state: 'Active', lastError: 'no answer' }] });
    const ni = await c.get<NodeInfo>(resourcePath(NodeInfoResource, undefined, 'overlay-node'));
    expect(ni.spec.vtepInfo).toEqual(vtepInfo);
    expect(ni.status?.bgpPeers?.[0]).toMatchObject({ state: 'Active', lastError: 'no answer' });
    await expect(patchNodeInfoStatus(c, 'no-such-node', { bgpPeers: [] })).rejects.toBeInstanceOf(KubeApiError);
    c.close();
  });
});
