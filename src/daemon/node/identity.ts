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
  /** True while the Node object is known not to exist (404). */
  private absent = false;
  /** The Node's `status.addresses` values, refreshed at start and every resync (SPEC §7.8 step 2). */
  addresses: string[] | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly nodeName: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Reads this node's Node object: UID (NodeInfo owner) and `status.addresses`. A Node that does not exist (deleted
   * and not registered again yet) forgets the UID, so that no NodeInfo is created with a stale owner; other failures
   * keep the last values. Logged once per change of state, not at every resync.
   */
  async refresh(): Promise<void> {
    try {
      const node = await this.client.get<V1Node>(resourcePath(NodesPath, undefined, this.nodeName));
      this.nodeUID = node.metadata?.uid ?? '';
      this.addresses = (node.status?.addresses ?? []).map((a) => a.address);
      this.setAbsent(false);
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) {
        this.nodeUID = undefined;
        this.setAbsent(true);
        return;
      }
      this.logger.warn(
        { err, node: this.nodeName },
        'cannot read the Node object; node-local VXLAN addresses keep their last value',
      );
    }
  }

  /** Records whether the Node object exists; logs when that changes. */
  private setAbsent(absent: boolean): void {
    if (absent === this.absent) return;
    this.absent = absent;
    if (absent)
      this.logger.warn(
        { node: this.nodeName },
        "Node object not found (deleted, or not registered yet): the datapath keeps working; this node's NodeInfo is published when the Node exists (checked at every resync)",
      );
    else this.logger.info({ node: this.nodeName }, 'Node object found');
  }

  /**
   * Creates or patches this node's NodeInfo `spec.vtepInfo` to the plan's VTEP (SPEC §7.8 step 3), and stamps its
   * `status.updateTimestamp`; nothing when the plan has no VTEP, `current` already says the same, or `current` is
   * absent and so is this node's Node object (a daemon must stay up while its Node is deleted and registered again;
   * the next reconcile tries again).
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
      // the NodeInfo is owned by the Node (SPEC §7.8): without one there is nothing to own it yet
      if (this.nodeUID === undefined) await this.refresh();
      if (this.nodeUID === undefined) return;
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
