/**
 * What the pods room works with: its own records and locks, the shared watch caches, and the two narrow interfaces
 * by which it reaches the other rooms — {@link NodeTables} (the node room) and {@link PodRoutes} (the BGP room).
 */
import type { Logger } from 'pino';
import type { IPInstance, Network } from '../../api/index.ts';
import type { KubeClient } from '../../kube/index.ts';
import type { Runner } from '../apply/exec.ts';
import type { ClusterCache } from '../cluster.ts';
import type { DaemonConfig } from '../config.ts';
import type { KeyedLock } from '../lock.ts';
import type { NodeFacts } from '../plan/types.ts';
import type { AttachmentStore } from './attachments.ts';

/**
 * The node tables as pod ADD may touch them (implemented by the node room's NodeReconciler): facts, the one short
 * step under the datapath lock that wires a pod into the node tables, the subnet wiring of a subnet's first pod, and
 * the local-pod ipset.
 */
export interface NodeTables {
  /** The last reconcile's node facts, or freshly read ones when there are none or `fresh`. */
  podFacts(fresh?: boolean): Promise<NodeFacts>;
  /** Host veth lines (`ip -batch`) and the pod's proxy neighbours, under the datapath lock (SPEC §7.3 steps 6–8). */
  wirePod(instances: IPInstance[], network: Network, facts: NodeFacts, fwd: string, hostLines: string[]): Promise<void>;
  /** A full reconcile when a subnet of `instances` has no from-subnet rule in `facts` yet. */
  wireSubnets(instances: IPInstance[], facts: NodeFacts): Promise<void>;
  /** Adds the pod's addresses to HYBR-LOCAL-POD-IP (under the node's ipset lock). */
  addLocalPodIPs(instances: IPInstance[]): Promise<void>;
  /** Schedules a node reconcile. */
  trigger(): void;
}

/** The node's BGP speaker as pod ADD and DEL use it (implemented by the BGP room's BgpPodRoutes). */
export interface PodRoutes {
  /** BGP readiness of a new pod (SPEC §7.3 step 8); nothing outside BGP networks. @throws Error naming the cause. */
  ready(network: Network, instances: IPInstance[], facts: NodeFacts): Promise<void>;
  /** Withdraws host routes of `ips` (`ip/len`); never throws. */
  withdraw(ips: string[]): Promise<void>;
}

/** Everything a CNI verb of the pods room reads or writes. */
export interface PodContext {
  config: DaemonConfig;
  client: KubeClient;
  logger: Logger;
  runner: Runner;
  cluster: ClusterCache;
  /** Attachment records and queued DELs (owned by this room). */
  store: AttachmentStore;
  /** Per container ID ({@link containerKey}) and per pod ({@link podKey}) locks of ADD, DEL and GC. */
  locks: KeyedLock;
  node: NodeTables;
  bgp: PodRoutes;
}

/** Lock key of a container ID: ADD, DEL and GC of one sandbox run one at a time. */
export const containerKey = (containerID: string): string => `container/${containerID}`;

/**
 * Lock key of a pod (its host veth name): sandboxes of one pod are wired and removed one at a time. Sorts after
 * {@link containerKey}, so a holder of a container key may take it (KeyedLock's order rule).
 */
export const podKey = (hostVeth: string): string => `pod/${hostVeth}`;
