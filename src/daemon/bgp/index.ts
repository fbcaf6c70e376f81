/**
 * The BGP room of the daemon (SPEC §7.5–§7.7): the supervised gobgpd, the BGP plan and its sync after every node
 * reconcile ({@link BgpController}, used by the node room), and the pod side of it ({@link BgpPodRoutes}, used by the
 * pods room). Other rooms import from here only.
 *
 * Owns the gobgpd process (pid and log in `--state-dir`), its peers and paths, and NodeInfo `status.bgpPeers` with the
 * Events and metrics about peers. May not write kernel tables (the node room programs the BGP subnet tables from the
 * plan's `facts.bgpGateway`) nor touch pod namespaces or attachment records.
 */
export { BgpController } from './controller.ts';
export { BgpPodRoutes } from './pod-routes.ts';
export { isBgpMode, type BgpPlan } from './plan.ts';
