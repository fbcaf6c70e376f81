/**
 * The node room of the daemon: the level-triggered node reconcile, this node's identity and NodeInfo, the facts
 * read for the planner, the link monitor (see reconciler.ts for what it owns). Other rooms import from here only.
 */
export { NodeReconciler, type NodeReconcilerOptions } from './reconciler.ts';
export { chooseInterface, defaultRouteDevices } from './facts.ts';
