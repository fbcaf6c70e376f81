/**
 * The node room of the daemon: the level-triggered node reconcile (reconciler.ts, which says what the room owns and
 * may not touch), this node's identity and NodeInfo (identity.ts), the facts read for the planner (facts.ts), the
 * link monitor (monitor.ts). Other rooms import from here only.
 */
export { NodeReconciler } from './reconciler.ts';
