/**
 * The node planner (SPEC §7.4–7.12): from the cluster objects and the node's link facts, the complete desired state of
 * the node namespace — VXLAN/VLAN devices, policy routing (tables 39999/40000/40001 and one table per local subnet
 * with throw routes for exclude blocks), neighbours (remote pods and nodes → VTEP MAC; proxy entries for local pods),
 * FDB of every remote VTEP, sysctls, ipsets and iptables chains. Pure: same input, same plan.
 */
import type { IPInstance, Network, Subnet } from '../../api/index.ts';
import { autoNatOutgoing, effectiveNetworkMode, effectiveNetworkType, effectiveSubnetNetID } from '../../api/index.ts';
import { cidrContains, hostVethName, parseCIDR, parseIP } from '../../net/index.ts';
import {
  FROM_SUBNET_RULE_MASK,
  FROM_SUBNET_TABLE_MAX,
  FROM_SUBNET_TABLE_MIN,
  POD_TO_NODE_MARK,
  VXLAN_FLOOD_MAC,
  VXLAN_OVERHEAD,
} from '../constants.ts';
import { planArpEnhancement } from './arp.ts';
import { excludeBlocks as rangeExcludeBlocks } from './blocks.ts';
import { fdbPruneAllowed, floodMacTc, nodeLocalAddresses, planHostSysctls } from './host.ts';
import { planIptables } from './iptables.ts';
import {
  familyOf,
  plainIP,
  isActiveInstance,
  vlanForwardIf,
  overlayOf,
  firstGlobalAddress,
  forwardInterface,
  linkNamed,
} from './network.ts';
import type {
  ClusterState,
  Family,
  NeighSpec,
  NodeFacts,
  NodePlan,
  PlanOptions,
  RouteSpec,
  RuleSpec,
} from './types.ts';

function nodeInNetwork(network: Network, node: string): boolean {
  return effectiveNetworkType(network) === 'Overlay' || (network.status?.nodeList ?? []).includes(node);
}

function ruleKey(r: RuleSpec): string {
  return `${r.family}|${r.from}|${r.fwmark ?? ''}|${r.mask ?? ''}|${r.table}`;
}

/**
 * Plans the node. `facts.currentRules` keeps per-subnet table numbers stable: an existing `from <cidr>` rule's table
 * is reused, a new subnet gets the first table in [10000, 40000) no rule uses.
 */
export function planNode(cluster: ClusterState, facts: NodeFacts, opts: PlanOptions): NodePlan {
  const plan: NodePlan = {
    links: [],
    addresses: [],
    routes: [],
    rules: [],
    neighbours: [],
    fdb: [],
    fdbPrune: true,
    tc: [],
    sysctls: {},
    ipsets: [],
    iptables: { 4: '', 6: '' },
    iptablesHooks: { 4: [], 6: [] },
    ownedTables: [opts.localDirectTable, opts.toOverlayTable, opts.overlayMarkTable],
    ownedNeighDevs: [],
    warnings: [],
  };
  const node = facts.nodeName;
  const networks = new Map(cluster.networks.map((n) => [n.metadata?.name ?? '', n]));
  const overlay = overlayOf(cluster, facts);
  const families: Family[] = [4, 6];
  // exclude blocks of one subnet are needed once per VXLAN subnet table: compute each once (500 nodes × 100 subnets)
  const blocksOf = new Map<Subnet['spec']['range'], string[]>();
  const excludeBlocks = (range: Subnet['spec']['range']): string[] => {
    let b = blocksOf.get(range);
    if (!b) blocksOf.set(range, (b = rangeExcludeBlocks(range)));
    return b;
  };

  // ---- sysctls of the node namespace (SPEC §7.1, §7.12)
  const sys = plan.sysctls;
  Object.assign(
    sys,
    planHostSysctls({
      links: facts.links,
      ipv6Disabled: facts.ipv6Disabled ?? false,
      raDefaultRouteDev: facts.raDefaultRouteDev,
      neighGcThresh: opts.neighGcThresh ?? [0, 0, 0],
      ipv6RouteMaxSize: opts.ipv6RouteMaxSize ?? 0,
      ipv6RouteGcThresh: opts.ipv6RouteGcThresh ?? 0,
    }),
  );
  for (const p of [facts.vxlanParent, facts.vlanParent]) if (p) sys[`/proc/sys/net/ipv4/conf/${p}/rp_filter`] = '0';

  // ---- VXLAN device, VTEP, FDB (SPEC §7.8)
  const parentLink = linkNamed(facts, facts.vxlanParent);
  const vtepIP = firstGlobalAddress(parentLink);
  if (overlay && parentLink && vtepIP) {
    plan.links.push({
      kind: 'vxlan',
      name: overlay.vxlan,
      vni: overlay.vni,
      parent: parentLink.name,
      local: vtepIP,
      port: opts.vxlanUdpPort,
      mac: parentLink.mac,
      mtu: parentLink.mtu - VXLAN_OVERHEAD,
    });
    plan.ownedNeighDevs.push(overlay.vxlan);
    const local = nodeLocalAddresses(
      facts.links,
      overlay.vxlan,
      vtepIP,
      facts.nodeAddresses ?? [],
      opts.extraNodeLocalVxlanIPCidrs ?? [],
    );
    plan.vtep = { ip: vtepIP, mac: parentLink.mac, localIPs: local.map((a) => a.ip) };
    for (const a of local)
      plan.addresses.push({ dev: overlay.vxlan, cidr: `${a.ip}/${a.prefixLength}`, family: a.family });
    plan.fdbPrune = fdbPruneAllowed(cluster.nodeInfos.length, overlay.network.status?.nodeList);
    plan.tc.push({ dev: overlay.vxlan, commands: floodMacTc(overlay.vxlan) });
    sys[`/proc/sys/net/ipv4/conf/${overlay.vxlan}/rp_filter`] = '0';
    if (!facts.ipv6Disabled) sys[`/proc/sys/net/ipv6/conf/${overlay.vxlan}/accept_ra`] = '0';
    for (const ni of cluster.nodeInfos) {
      const v = ni.spec.vtepInfo;
      if (ni.metadata?.name === node || !v?.ip || !v.mac || v.mac === parentLink.mac) continue;
      plan.fdb.push({ mac: v.mac.toLowerCase(), dev: overlay.vxlan, dst: v.ip });
      plan.fdb.push({ mac: VXLAN_FLOOD_MAC, dev: overlay.vxlan, dst: v.ip });
      for (const ip of v.localIPs ?? []) {
        const fam: Family = ip.includes(':') ? 6 : 4;
        plan.neighbours.push({ family: fam, ip, dev: overlay.vxlan, proxy: false, mac: v.mac.toLowerCase() });
      }
    }
  } else if (overlay && !vtepIP) {
    plan.warnings.push(`overlay network ${overlay.network.metadata?.name}: ${facts.vxlanParent} has no global address`);
  }

  // ---- subnets: classify
  const subnets = cluster.subnets.filter((s) => !s.metadata?.deletionTimestamp);
  const overlaySubnets = subnets.filter((s) => {
    const n = networks.get(s.spec.network);
    return n !== undefined && effectiveNetworkType(n) === 'Overlay';
  });
  const underlaySubnets = subnets.filter((s) => {
    const n = networks.get(s.spec.network);
    return n !== undefined && effectiveNetworkType(n) !== 'Overlay';
  });

  const vtepMacOf = new Map<string, string>();
  for (const ni of cluster.nodeInfos) {
    const mac = ni.spec.vtepInfo?.mac;
    if (ni.metadata?.name && mac) vtepMacOf.set(ni.metadata.name, mac.toLowerCase());
  }

  // ---- table 40000 / 40001 (SPEC §7.4)
  if (overlay && plan.links.length > 0) {
    for (const s of overlaySubnets) {
      const fam = familyOf(s.spec.range.version);
      plan.routes.push({
        family: fam,
        table: opts.toOverlayTable,
        dst: s.spec.range.cidr,
        type: 'unicast',
        dev: overlay.vxlan,
      });
      for (const b of excludeBlocks(s.spec.range))
        plan.routes.push({ family: fam, table: opts.toOverlayTable, dst: b, type: 'throw' });
    }
    for (const fam of families)
      plan.routes.push({
        family: fam,
        table: opts.overlayMarkTable,
        dst: 'default',
        type: 'unicast',
        dev: overlay.vxlan,
      });
  }
  for (const fam of families) {
    plan.rules.push({ family: fam, from: 'all', table: opts.localDirectTable });
    plan.rules.push({ family: fam, from: 'all', table: opts.toOverlayTable });
    plan.rules.push({
      family: fam,
      from: 'all',
      fwmark: POD_TO_NODE_MARK,
      mask: POD_TO_NODE_MARK,
      table: opts.overlayMarkTable,
    });
  }

  // ---- per-subnet tables (SPEC §7.4)
  const usedTables = new Set<number>();
  const tableOfFrom = new Map<string, number>();
  for (const r of facts.currentRules) {
    usedTables.add(r.table);
    if (r.from !== 'all' && r.table >= FROM_SUBNET_TABLE_MIN && r.table < FROM_SUBNET_TABLE_MAX)
      tableOfFrom.set(`${r.family}|${r.from}`, r.table);
  }
  const tableFor = (fam: Family, cidr: string): number => {
    const existing = tableOfFrom.get(`${fam}|${cidr}`);
    if (existing !== undefined) return existing;
    for (let t = FROM_SUBNET_TABLE_MIN; t < FROM_SUBNET_TABLE_MAX; t++) {
      if (!usedTables.has(t)) {
        usedTables.add(t);
        tableOfFrom.set(`${fam}|${cidr}`, t);
        return t;
      }
    }
    throw new Error('no free route table in [10000, 40000)');
  };
  const localSubnets: Subnet[] = [];
  for (const s of subnets) {
    const network = networks.get(s.spec.network);
    if (!network || !nodeInNetwork(network, node)) continue;
    const mode = effectiveNetworkMode(network);
    const fam = familyOf(s.spec.range.version);
    const cidr = s.spec.range.cidr;
    const routes: RouteSpec[] = [];
    if (mode === 'VXLAN') {
      if (!overlay || plan.links.length === 0) continue;
      if (!autoNatOutgoing(s))
        routes.push({ family: fam, table: 0, dst: 'default', type: 'unicast', dev: overlay.vxlan });
      else
        for (const u of underlaySubnets) {
          if (familyOf(u.spec.range.version) !== fam) continue;
          routes.push({ family: fam, table: 0, dst: u.spec.range.cidr, type: 'unicast', dev: overlay.vxlan });
          for (const b of excludeBlocks(u.spec.range)) routes.push({ family: fam, table: 0, dst: b, type: 'throw' });
        }
    } else if (mode === 'VLAN') {
      if (!facts.vlanParent) {
        plan.warnings.push(`subnet ${s.metadata?.name}: no VLAN parent interface on this node`);
        continue;
      }
      const dev = vlanForwardIf(facts.vlanParent, effectiveSubnetNetID(s, network));
      if (dev !== facts.vlanParent)
        plan.links.push({
          kind: 'vlan',
          name: dev,
          parent: facts.vlanParent,
          vlanId: Number(effectiveSubnetNetID(s, network)),
        });
      const parsed = parseCIDR(cidr);
      // a `noprefixroute` address (e.g. the ARP enhancement's pod address, SPEC §7.6) does not make a local subnet
      const own = linkNamed(facts, dev)?.addresses.find(
        (a) => a.family === fam && !a.noprefixroute && cidrContains(parsed, parseIP(a.ip)),
      );
      routes.push({
        family: fam,
        table: 0,
        dst: cidr,
        type: 'unicast',
        dev,
        scope: 'link',
        ...(own ? { src: own.ip } : {}),
      });
      const gw = s.spec.range.gateway;
      if (gw && cidrContains(parsed, parseIP(gw)))
        routes.push({ family: fam, table: 0, dst: 'default', type: 'unicast', dev, via: gw });
      else plan.warnings.push(`subnet ${s.metadata?.name}: VLAN subnet needs a gateway inside ${cidr}`);
    } else {
      // BGP / GlobalBGP (SPEC §7.4): default via the routing peer, else a copy of the host's default route
      const gw = facts.bgpGateway?.[fam];
      if (!gw) {
        plan.warnings.push(`subnet ${s.metadata?.name}: no BGP gateway (IPv${fam}) on this node for mode ${mode}`);
        continue;
      }
      routes.push({
        family: fam,
        table: 0,
        dst: 'default',
        type: 'unicast',
        dev: gw.dev,
        ...(gw.via ? { via: gw.via } : {}),
      });
    }
    const table = tableFor(fam, cidr);
    plan.ownedTables.push(table);
    localSubnets.push(s);
    plan.rules.push({ family: fam, from: cidr, fwmark: 0, mask: FROM_SUBNET_RULE_MASK, table });
    for (const r of routes) plan.routes.push({ ...r, table });
  }

  // ---- pods: table 39999, proxy neighbours, remote pod neighbours (SPEC §7.3, §7.6, §7.9)
  const localInstances: IPInstance[] = [];
  const proxies = new Map<string, NeighSpec>();
  const addProxy = (n: NeighSpec): void => {
    proxies.set(`${n.dev}|${n.ip}`, n);
  };
  for (const ins of cluster.ipInstances) {
    if (!isActiveInstance(ins)) continue;
    const fam = familyOf(ins.spec.address.version);
    const ip = plainIP(ins.spec.address.ip);
    const insNode = ins.spec.binding?.nodeName ?? '';
    if (insNode === node) {
      localInstances.push(ins);
      const podName = ins.spec.binding?.podName;
      const ns = ins.metadata?.namespace ?? '';
      if (podName) {
        const veth = hostVethName(ns, podName);
        if (linkNamed(facts, veth))
          plan.routes.push({ family: fam, table: opts.localDirectTable, dst: ip, type: 'unicast', dev: veth });
      }
      const network = networks.get(ins.spec.network);
      if (overlay && plan.links.length > 0) addProxy({ family: fam, ip, dev: overlay.vxlan, proxy: true });
      if (network) {
        const fwd = forwardInterface(network, ins.spec.address.netID, cluster, facts);
        if (fwd && (effectiveNetworkMode(network) === 'VLAN' || fwd === overlay?.vxlan))
          addProxy({ family: fam, ip, dev: fwd, proxy: true });
      }
    } else if (overlay && plan.links.length > 0) {
      const mac = vtepMacOf.get(insNode);
      if (mac) plan.neighbours.push({ family: fam, ip, dev: overlay.vxlan, proxy: false, mac });
    }
  }
  for (const p of proxies.values()) {
    plan.neighbours.push(p);
    if (!plan.ownedNeighDevs.includes(p.dev)) plan.ownedNeighDevs.push(p.dev);
    if (p.family === 6) {
      sys[`/proc/sys/net/ipv6/conf/${p.dev}/proxy_ndp`] = '1';
      sys[`/proc/sys/net/ipv6/neigh/${p.dev}/proxy_delay`] = '0';
    } else sys[`/proc/sys/net/ipv4/neigh/${p.dev}/proxy_delay`] = '0';
  }

  // ---- VLAN "ARP enhancement" (SPEC §7.6)
  if (opts.vlanArpEnhancement) {
    const arp = planArpEnhancement({
      localInstances,
      networks,
      subnets: cluster.subnets,
      links: facts.links,
      vlanParent: facts.vlanParent,
      nodeNetworks: new Set(
        cluster.networks.filter((n) => (n.status?.nodeList ?? []).includes(node)).map((n) => n.metadata?.name ?? ''),
      ),
      nodeAddresses: facts.nodeAddresses ?? [],
    });
    plan.arpEnhancement = arp.plan;
    plan.warnings.push(...arp.warnings);
  }

  // ---- iptables / ipsets (SPEC §7.10)
  const ipt = planIptables({
    cluster,
    node,
    vxlan: overlay && plan.links.length > 0 ? overlay.vxlan : undefined,
    overlaySubnets,
    underlaySubnets,
    localUnderlaySubnets: localSubnets.filter((s) => !overlaySubnets.includes(s)),
    localSubnets,
    localInstances,
    localIPs: plan.vtep?.localIPs ?? parentLink?.addresses.filter((a) => a.global).map((a) => a.ip) ?? [],
    underlayForwardIfs: [
      ...new Set(
        localSubnets
          .filter((s) => !overlaySubnets.includes(s))
          .map((s) => {
            const n = networks.get(s.spec.network);
            if (n && effectiveNetworkMode(n) !== 'VLAN') return facts.bgpParent ?? facts.vlanParent ?? '';
            return vlanForwardIf(facts.vlanParent ?? '', effectiveSubnetNetID(s, n));
          }),
      ),
    ],
  });
  plan.ipsets = ipt.ipsets;
  plan.iptables = ipt.restore;
  plan.iptablesHooks = ipt.hooks;

  // dedupe rules (same key twice when two subnets share a CIDR family, defensive)
  const seen = new Set<string>();
  plan.rules = plan.rules.filter((r) => {
    const k = ruleKey(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return plan;
}
