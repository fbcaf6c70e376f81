/**
 * This node's identity in the API (SPEC §7.8): the Node object's UID (owner of the NodeInfo) and `status.addresses`
 * (node-local VXLAN addresses), and the NodeInfo `spec.vtepInfo` the daemon publishes after a reconcile. Writes only
 * this node's NodeInfo; reads only this node's Node.
 */
import type { V1Node } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { NodeInfoResource, type NodeInfo } from '../../api/index.ts';
import { KubeApiError, NodesPath, resourcePath, type KubeClient } from '../../kube/index.ts';
import { newNodeInfo } from '../nodeinfo.ts';
import type { NodePlan } from '../plan/types.ts';

/** The Node this daemon runs on, as last read, and its NodeInfo publisher. */
export class NodeIdentity {
  private nodeUID: string | undefined;
  /** The Node's `status.addresses` values, refreshed at start and every resync (SPEC §7.8 step 2). */
  addresses: string[] | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly nodeName: string,
    private readonly logger: Logger,
  ) {}

  /** Reads this node's Node object: UID (NodeInfo owner) and `status.addresses`; a failure keeps the last values. */
  async refresh(): Promise<void> {
    try {
      const node = await this.client.get<V1Node>(resourcePath(NodesPath, undefined, this.nodeName));
      this.nodeUID = node.metadata?.uid ?? '';
      this.addresses = (node.status?.addresses ?? []).map((a) => a.address);
    } catch (err) {
      this.logger.warn(
        { err, node: this.nodeName },
        'cannot read the Node object; node-local VXLAN addresses keep their last value',
      );
    }
  }

  /**
   * Creates or patches this node's NodeInfo `spec.vtepInfo` to the plan's VTEP (SPEC §7.8 step 3), and stamps its
   * `status.updateTimestamp`; nothing when the plan has no VTEP or `current` already says the same.
   * @throws KubeApiError when the create (other than 409) or the spec patch fails.
   */
  async publish(plan: NodePlan, current: NodeInfo | undefined): Promise<void> {
    if (!plan.vtep) return;
    const name = this.nodeName;
    const v = current?.spec.vtepInfo;
    const want = plan.vtep;
    if (
      v &&
      v.ip === want.ip &&
      v.mac === want.mac &&
      JSON.stringify(v.localIPs ?? []) === JSON.stringify(want.localIPs)
    )
      return;
    const path = resourcePath(NodeInfoResource, undefined, name);
    const vtepInfo = { ip: want.ip, mac: want.mac, localIPs: want.localIPs };
    if (!current) {
      if (this.nodeUID === undefined) {
        const node = await this.client.get<V1Node>(resourcePath(NodesPath, undefined, name));
        this.nodeUID = node.metadata?.uid ?? '';
      }
      try {
        await this.client.create(resourcePath(NodeInfoResource), newNodeInfo(name, this.nodeUID, { vtepInfo }));
        return;
      } catch (err) {
        if (!(err instanceof KubeApiError && err.code === 409)) throw err;
      }
    }
    await this.client.mergePatch(path, { spec: { vtepInfo } });
    await this.client
      .mergePatch(`${path}/status`, { status: { updateTimestamp: new Date().toISOString() } })
      .catch((err: unknown) => this.logger.warn({ err }, 'NodeInfo status patch failed'));
  }
}
