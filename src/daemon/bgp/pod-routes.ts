/**
 * The BGP side of pod ADD and DEL (SPEC §7.3 step 8, §7.7), as the pods room sees it: a new pod's host route
 * announced and its readiness checked against the node's kernel (from-subnet rule, the subnet table's default route)
 * and gobgpd (path in the local RIB, peers Established); a deleted or failed pod's host routes withdrawn at once.
 * Reads the kernel; writes only gobgpd paths, through the {@link BgpController}.
 */
import type { IPInstance, Network } from '../../api/index.ts';
import type { Runner } from '../apply/exec.ts';
import { readLinks, readRules } from '../apply/read.ts';
import type { ClusterState, NodeFacts } from '../plan/types.ts';
import type { BgpController } from './controller.ts';
import { isBgpMode } from './plan.ts';

/** Pod ADD / DEL's view of the node's BGP speaker. */
export class BgpPodRoutes {
  constructor(
    private readonly bgp: Pick<BgpController, 'podReady' | 'withdraw'>,
    private readonly runner: Runner,
    private readonly cluster: { state(): ClusterState; subnetCidr(name: string): string | undefined },
  ) {}

  /**
   * BGP readiness of a new pod of `network` (SPEC §7.3 step 8): its paths announced now, rule / table / peers
   * checked with the kernel read again (`before` are the facts ADD wired the pod with). Nothing for other modes.
   * @throws Error naming the peer, its AS and state, or the missing piece (see {@link BgpController.podReady}).
   */
  async ready(network: Network, instances: IPInstance[], before: NodeFacts): Promise<void> {
    if (!isBgpMode(network)) return;
    const [links, rules] = await Promise.all([readLinks(this.runner), readRules(this.runner)]);
    const cidrs = instances.map((i) => this.cluster.subnetCidr(i.spec.subnet)).filter((x): x is string => !!x);
    await this.bgp.podReady(
      network,
      instances,
      cidrs,
      this.cluster.state(),
      { ...before, links },
      rules,
      async (table, fam) =>
        (
          JSON.parse(
            (
              await this.runner('ip', [`-${fam}`, '-json', 'route', 'show', 'default', 'table', String(table)])
            ).trim() || '[]',
          ) as unknown[]
        ).length > 0,
    );
  }

  /** Withdraws the host routes of `ips` (`ip/len`) at once (pod DEL, failed ADD); errors are logged, never thrown. */
  withdraw(ips: string[]): Promise<void> {
    return this.bgp.withdraw(ips);
  }
}
