/**
 * The node applier: makes the current network namespace match a {@link NodePlan} — links first, then sysctls,
 * routes / rules / neighbours in `ip -batch` runs per family, FDB in one `bridge -batch`, ipsets with `ipset restore`
 * (build `<set>-`, swap, destroy) and the HYBRIDNET-* chains with `iptables-restore --noflush`. Returns what changed
 * so that a second application of the same plan can be seen to change nothing.
 */
import { VXLAN_NAME_INFIX } from '../constants.ts';
import type { Family, NodePlan, RuleSpec } from '../plan/types.ts';
import { diffAddresses, diffArpEnhancement, diffFdb, diffNeighbours, diffRoutes, diffRules } from './diff.ts';
import { ipBatch, writeSysctls, type Runner } from './exec.ts';
import {
  readFdb,
  readLinks,
  readLocalRoutes,
  readNeighbours,
  readRoutes,
  readRules,
  type LinkDetails,
} from './read.ts';

/** What one application changed (counts of lines / writes). */
export interface ApplyReport {
  links: string[];
  sysctls: string[];
  routes: string[];
  rules: string[];
  neighbours: string[];
  fdb: string[];
  addresses: string[];
  tc: string[];
  /** Set once per process when the kernel cannot run the flood-MAC tc filter (SPEC §7.8 step 4). */
  tcError?: string;
  ipsets: number;
  iptables: boolean;
}

/** Devices on which the flood-MAC tc filter failed: not retried in this process (the kernel lacks the modules). */
const tcUnsupported = new Set<string>();

/** Total number of changes of a report, ipset/iptables refreshes excluded (they are rewritten wholesale). */
export function changeCount(r: ApplyReport): number {
  return (
    r.links.length +
    r.addresses.length +
    r.tc.length +
    r.sysctls.length +
    r.routes.length +
    r.rules.length +
    r.neighbours.length +
    r.fdb.length
  );
}

async function batchByFamily(runner: Runner, lines: string[]): Promise<void> {
  const v4 = lines.filter((l) => !l.startsWith('-6 '));
  const v6 = lines.filter((l) => l.startsWith('-6 ')).map((l) => l.slice(3));
  await Promise.all([
    ipBatch(runner, v4),
    v6.length > 0 ? runner('ip', ['-6', '-batch', '-'], v6.join('\n') + '\n') : undefined,
  ]);
}

/** `ip -batch` lines creating / replacing the links of the plan (VXLAN recreated when its parameters differ). */
export function linkLines(plan: NodePlan, links: LinkDetails[]): string[] {
  const lines: string[] = [];
  const byName = new Map(links.map((l) => [l.name, l]));
  for (const spec of plan.links) {
    const cur = byName.get(spec.name);
    if (spec.kind === 'vxlan') {
      const ok =
        cur &&
        cur.kind === 'vxlan' &&
        cur.info.id === spec.vni &&
        cur.info.local === spec.local &&
        cur.info.port === spec.port &&
        cur.info.link === spec.parent &&
        cur.mac === spec.mac;
      if (cur && !ok) lines.push(`link del ${spec.name}`);
      if (!ok)
        lines.push(
          `link add ${spec.name} type vxlan id ${spec.vni} dev ${spec.parent} local ${spec.local} dstport ${spec.port} learning`,
          `link set ${spec.name} address ${spec.mac} mtu ${spec.mtu} up`,
        );
      else if (cur.mtu !== spec.mtu) lines.push(`link set ${spec.name} mtu ${spec.mtu} up`);
    } else if (!cur) {
      lines.push(
        `link add link ${spec.parent} name ${spec.name} type vlan id ${spec.vlanId}`,
        `link set ${spec.name} up`,
      );
    }
  }
  const wanted = new Set(plan.links.map((l) => l.name));
  for (const l of links)
    if (l.kind === 'vxlan' && l.name.includes(VXLAN_NAME_INFIX) && !wanted.has(l.name))
      lines.push(`link del ${l.name}`);
  return lines;
}

/**
 * The `ip -batch` lines of the VLAN "ARP enhancement" (SPEC §7.6) for the links as read now; table local is read only
 * when there is something to look at (a wanted address, or an IPv4 `noprefixroute` scope-link address on some link).
 * None when the plan has no {@link NodePlan.arpEnhancement} (flag off: nothing is touched).
 */
export async function arpEnhancementLines(runner: Runner, plan: NodePlan, links: LinkDetails[]): Promise<string[]> {
  const arp = plan.arpEnhancement;
  if (!arp) return [];
  const actual = links.flatMap((l) => l.addresses.filter((a) => a.family === 4).map((a) => ({ dev: l.name, ...a })));
  if (arp.addresses.length === 0 && !actual.some((a) => a.noprefixroute && a.scope === 'link')) return [];
  const local = await readLocalRoutes(runner);
  return diffArpEnhancement(
    arp,
    actual,
    local,
    links.map((l) => l.name),
  );
}

/** The `ipset restore` script refreshing every set of the plan (SPEC §7.10). */
export function ipsetScript(plan: NodePlan): string {
  const lines: string[] = [];
  for (const s of plan.ipsets) {
    const fam = s.family === 6 ? 'inet6' : 'inet';
    const tmp = `${s.name}-`;
    lines.push(`create ${s.name} ${s.type} family ${fam}`, `create ${tmp} ${s.type} family ${fam}`, `flush ${tmp}`);
    for (const m of s.members) lines.push(`add ${tmp} ${m}`);
    lines.push(`swap ${tmp} ${s.name}`, `destroy ${tmp}`);
  }
  return lines.join('\n') + '\n';
}

/** True when `iptables-save` output has, in `table`, a rule `-A chain … -j target`. */
export function hookPresent(saved: string, table: string, chain: string, target: string): boolean {
  let current = '';
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) current = line.slice(1);
    else if (current === table && line.startsWith(`-A ${chain} `) && line.endsWith(`-j ${target}`)) return true;
  }
  return false;
}

/** True for a rule the daemon owns (points at one of its tables). */
export function ownedRule(plan: NodePlan): (r: RuleSpec) => boolean {
  const tables = new Set(plan.ownedTables);
  return (r) => tables.has(r.table) || (r.from !== 'all' && r.table >= 10000 && r.table < 40000 && r.mask === 0x4040);
}

/**
 * Applies `plan` to the namespace of the process. Links first (everything else may name them), then the sysctls; then,
 * concurrently: all kernel reads (rules, routes, neighbours, FDB: one process each) followed by one `ip -batch` per
 * family (rules, then routes, then neighbours) and one `bridge -batch`; and the ipset refresh followed by the v4 and
 * v6 iptables refreshes (side by side; `-w` waits for the xtables lock of the legacy backend).
 */
export async function applyNodePlan(runner: Runner, plan: NodePlan, opts: { iptables: boolean }): Promise<ApplyReport> {
  const report: ApplyReport = {
    links: [],
    sysctls: [],
    routes: [],
    rules: [],
    neighbours: [],
    fdb: [],
    addresses: [],
    tc: [],
    ipsets: 0,
    iptables: false,
  };
  let links = await readLinks(runner);
  report.links = linkLines(plan, links);
  await ipBatch(runner, report.links);
  if (report.links.length > 0) links = await readLinks(runner);
  const vxlanDevs = plan.links.filter((l) => l.kind === 'vxlan').map((l) => l.name);
  const actualAddrs = links.flatMap((l) =>
    l.addresses.filter((a) => a.global).map((a) => ({ dev: l.name, ip: a.ip, prefixLength: a.prefixLength })),
  );
  report.addresses = diffAddresses(plan.addresses, actualAddrs, vxlanDevs);
  await ipBatch(runner, report.addresses);
  const arpLines = await arpEnhancementLines(runner, plan, links);
  await ipBatch(runner, arpLines);
  report.addresses.push(...arpLines);
  for (const t of plan.tc) {
    if (tcUnsupported.has(t.dev)) continue;
    const shown = await runner('tc', ['filter', 'show', 'dev', t.dev]).catch(() => '');
    if (shown.includes('pedit')) continue;
    try {
      for (const args of t.commands) await runner('tc', args);
      report.tc.push(t.dev);
    } catch (err) {
      tcUnsupported.add(t.dev);
      report.tcError = `flood-MAC tc filter on ${t.dev} not installed (kernel without sch_prio/cls_u32/act_pedit?): ${err instanceof Error ? err.message : String(err)}; broadcast/multicast over VXLAN will not reach other nodes`;
    }
  }
  report.sysctls = await writeSysctls(plan.sysctls);

  const vxlans = plan.links.filter((l) => l.kind === 'vxlan').map((l) => l.name);
  const tables = async (): Promise<void> => {
    const [rules, routes, neighbours, fdb] = await Promise.all([
      readRules(runner),
      readRoutes(runner),
      readNeighbours(runner),
      Promise.all(vxlans.map((d) => readFdb(runner, d))).then((x) => x.flat()),
    ]);
    report.rules = diffRules(plan.rules, rules, ownedRule(plan));
    report.routes = diffRoutes(plan.routes, routes, plan.ownedTables);
    report.neighbours = diffNeighbours(plan.neighbours, neighbours, plan.ownedNeighDevs);
    report.fdb = diffFdb(plan.fdb, fdb, vxlans, plan.fdbPrune);
    await Promise.all([
      batchByFamily(runner, [...report.rules, ...report.routes, ...report.neighbours]),
      report.fdb.length > 0 ? runner('bridge', ['-batch', '-'], report.fdb.join('\n') + '\n') : undefined,
    ]);
  };
  const iptables = async (): Promise<void> => {
    if (!opts.iptables) return;
    await applyIptables(runner, plan);
    report.ipsets = plan.ipsets.length;
    report.iptables = true;
  };
  await Promise.all([tables(), iptables()]);
  return report;
}

/**
 * Refreshes the ipsets (`ipset restore`: build, swap, destroy) and then the HYBRIDNET-* chains of both families side
 * by side (`iptables-restore -w --noflush`, `-w` waits for the xtables lock of the legacy backend), adding the hook
 * rules `iptables-save` does not show (SPEC §7.10). Throws {@link CommandError} of the first failing command.
 */
export async function applyIptables(runner: Runner, plan: NodePlan): Promise<void> {
  await runner('ipset', ['-exist', 'restore'], ipsetScript(plan));
  await applyIptablesRules(runner, plan);
}

/**
 * The iptables half of {@link applyIptables}: the HYBRIDNET-* chains of both families and their hook rules, for a
 * caller that refreshes the ipsets itself (the daemon, under its ipset lock). Throws {@link CommandError}.
 */
export async function applyIptablesRules(runner: Runner, plan: NodePlan): Promise<void> {
  await Promise.all(
    ([4, 6] as Family[]).map(async (fam) => {
      const bin = fam === 6 ? 'ip6tables' : 'iptables';
      await runner(`${bin}-restore`, ['-w', '--noflush'], plan.iptables[fam]);
      const saved = await runner(`${bin}-save`, []);
      for (const hook of plan.iptablesHooks[fam]) {
        const [t, table, chain, ...rest] = hook;
        if (!hookPresent(saved, table ?? '', chain ?? '', rest[rest.length - 1] ?? ''))
          await runner(bin, ['-w', t ?? '-t', table ?? 'filter', '-A', chain ?? '', ...rest]);
      }
    }),
  );
}
