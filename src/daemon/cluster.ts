/**
 * The daemon's watch caches (SPEC §7.1): Networks, Subnets, NodeInfos and IPInstances of the whole cluster, and the
 * Pods bound to this node. Shared read-only by the node room (its reconcile plans from them) and the pods room (ADD
 * waits for its IPInstances here); only the informers write them. Owns no lock and no kernel state.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  IPInstanceResource,
  LABEL_NODE,
  LABEL_POD_UID,
  NetworkResource,
  NodeInfoResource,
  SubnetResource,
  type IPInstance,
  type Network,
  type NodeInfo,
  type Subnet,
} from '../api/index.ts';
import { Informer, PodsPath, resourcePath, type KubeClient } from '../kube/index.ts';
import type { ClusterState } from './plan/types.ts';

const NODE_UID_INDEX = 'node-pod-uid';

/** The informers of one daemon and the views built on them. */
export class ClusterCache {
  readonly networks: Informer<Network>;
  readonly subnets: Informer<Subnet>;
  readonly nodeInfos: Informer<NodeInfo>;
  readonly ipInstances: Informer<IPInstance>;
  /**
   * Pods bound to this node (field selector `spec.nodeName`): ADD takes its pod from here when the cached object has
   * the UID the runtime sent (K8S_POD_UID), and reads it from the API server otherwise. The kubelet learns of a pod
   * from the same watch, so the cache almost always has it before the sandbox exists.
   */
  readonly pods: Informer<V1Pod>;

  constructor(
    client: KubeClient,
    private readonly nodeName: string,
    logger: Logger,
  ) {
    const mk = <T extends { metadata?: { name?: string } }>(path: string, fieldSelector?: string): Informer<T> =>
      new Informer<T>(client, {
        path,
        ...(fieldSelector ? { fieldSelector } : {}),
        logger: logger.child({ informer: path }),
        staleAfterMs: 120_000,
      });
    this.networks = mk<Network>(resourcePath(NetworkResource));
    this.subnets = mk<Subnet>(resourcePath(SubnetResource));
    this.nodeInfos = mk<NodeInfo>(resourcePath(NodeInfoResource));
    this.ipInstances = mk<IPInstance>(resourcePath(IPInstanceResource));
    this.pods = mk<V1Pod>(resourcePath(PodsPath), `spec.nodeName=${nodeName}`);
    this.ipInstances.addIndex(NODE_UID_INDEX, (i) => {
      const l = i.metadata?.labels ?? {};
      return l[LABEL_NODE] && l[LABEL_POD_UID] ? [`${l[LABEL_NODE]}/${l[LABEL_POD_UID]}`] : [];
    });
  }

  /**
   * Calls `changed` on every add and delete, and on updates of what the node plan reads (specs, labels, deletion,
   * Network `status.nodeList`): status-only writes (the manager's subnet counters, our own IPInstance status patches)
   * would otherwise cost a full reconcile per pod.
   */
  onPlanInputChange(changed: () => void): void {
    const on = <T>(inf: Informer<T & { metadata?: object }>, relevant: (o: T) => unknown): void =>
      inf.on({
        add: () => changed(),
        delete: () => changed(),
        update: (a, b) => {
          if (JSON.stringify(relevant(a)) !== JSON.stringify(relevant(b))) changed();
        },
      });
    const del = (o: { metadata?: { deletionTimestamp?: unknown } }): unknown => o.metadata?.deletionTimestamp;
    on<Network>(this.networks, (n) => [n.spec, n.status?.nodeList, del(n)]);
    on<Subnet>(this.subnets, (x) => [x.spec, del(x)]);
    on<NodeInfo>(this.nodeInfos, (x) => [x.spec, del(x)]);
    on<IPInstance>(this.ipInstances, (x) => [x.spec, x.metadata?.labels, del(x)]);
  }

  /**
   * Runs every informer until `signal` aborts (a stopped informer is logged, never thrown) and resolves `synced`
   * once each has listed; the returned promise settles when all have stopped.
   */
  run(signal: AbortSignal, logger: Logger): { synced: Promise<void>; stopped: Promise<void> } {
    const infs = [this.networks, this.subnets, this.nodeInfos, this.ipInstances, this.pods] as const;
    const running = infs.map((i) => i.run(signal).catch((err: unknown) => logger.error({ err }, 'informer stopped')));
    const synced = (async (): Promise<void> => {
      for (const i of infs) await i.waitForSync(signal);
    })();
    return { synced, stopped: Promise.all(running).then(() => undefined) };
  }

  /** The plan's view of the cluster, as the caches hold it now. */
  state(): ClusterState {
    return {
      networks: this.networks.list(),
      subnets: this.subnets.list(),
      nodeInfos: this.nodeInfos.list(),
      ipInstances: this.ipInstances.list(),
    };
  }

  /** The CIDR of subnet `name`, or undefined when the cache does not hold it. */
  subnetCidr(name: string): string | undefined {
    return this.subnets.get(name)?.spec.range.cidr;
  }

  /** IPInstances labelled with this node and pod UID `podUID` (all namespaces, deleted ones included). */
  instancesOfPod(podUID: string): IPInstance[] {
    return this.ipInstances.byIndex(NODE_UID_INDEX, `${this.nodeName}/${podUID}`);
  }
}
