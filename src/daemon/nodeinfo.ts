/**
 * This node's NodeInfo as a place for status: NodeInfo objects are created by the daemon of an overlay node with its
 * VTEP (SPEC §7.8 step 3); a node in BGP networks only has none, yet its BGP peer states belong in
 * `NodeInfo.status.bgpPeers` (#8). {@link patchNodeInfoStatus} creates the object when it is missing.
 */
import type { V1Node } from '@kubernetes/client-node';
import { NodeInfoResource, type NodeInfo } from '../api/index.ts';
import { KubeApiError, NodesPath, resourcePath, type KubeClient } from '../kube/index.ts';

/**
 * A NodeInfo named like its Node and owned by it (ownerReference with `controller: true`: it is garbage-collected with
 * the Node, SPEC §7.8), with `spec`.
 */
export function newNodeInfo(nodeName: string, nodeUID: string, spec: NodeInfo['spec']): NodeInfo {
  return {
    apiVersion: NodeInfoResource.apiVersion,
    kind: NodeInfoResource.kind,
    metadata: {
      name: nodeName,
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUID, controller: true, blockOwnerDeletion: false },
      ],
    },
    spec,
  };
}

/**
 * Merge-patches `status` into the NodeInfo named `nodeName` (status subresource). When the NodeInfo does not exist it
 * is created first, empty (`spec: {}` — the VTEP is written by the VXLAN code once an overlay exists) and owned by the
 * Node (ownerReference, controller, so it goes with the Node like every NodeInfo), then patched.
 *
 * @throws KubeApiError of the API server (e.g. 404 when the Node itself does not exist, 403 without RBAC).
 */
export async function patchNodeInfoStatus(
  client: KubeClient,
  nodeName: string,
  status: NonNullable<NodeInfo['status']>,
): Promise<void> {
  const path = `${resourcePath(NodeInfoResource, undefined, nodeName)}/status`;
  try {
    await client.mergePatch(path, { status });
    return;
  } catch (err) {
    if (!(err instanceof KubeApiError && err.code === 404)) throw err;
  }
  const node = await client.get<V1Node>(resourcePath(NodesPath, undefined, nodeName));
  try {
    await client.create(resourcePath(NodeInfoResource), newNodeInfo(nodeName, node.metadata?.uid ?? '', {}));
  } catch (err) {
    // created meanwhile by the VXLAN code of this daemon: patch that one
    if (!(err instanceof KubeApiError && err.code === 409)) throw err;
  }
  await client.mergePatch(path, { status });
}
