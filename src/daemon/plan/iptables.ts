/**
 * iptables chains and ipsets of SPEC §7.10, as `iptables-restore --noflush` text (one per family) plus the hook
 * rules that jump into them and the ipset contents. Only HYBRIDNET-* chains and HYBR-* sets are written; rules the
 * project does not own are never touched.
 */
import type { IPInstance, Subnet } from '../../api/index.ts';
import { Chain, FULL_NAT_MARK, IPSet, IPSET_V6_PREFIX, KUBE_PROXY_MASQ_MARK, POD_TO_NODE_MARK } from '../constants.ts';
import type { ClusterState, Family, IPSetSpec } from './types.ts';

/** Inputs of {@link planIptables}. */
export interface IptablesInput {
  cluster: ClusterState;
  node: string;
  vxlan: string | undefined;
  overlaySubnets: Subnet[];
  underlaySubnets: Subnet[];
  localUnderlaySubnets: Subnet[];
  localSubnets: Subnet[];
  localInstances: IPInstance[];
  localIPs: string[];
  underlayForwardIfs: string[];
}

/** Set name of `base` for `family`. */
export function setName(base: string, family: Family): string {
  return family === 6 ? `${IPSET_V6_PREFIX}${base}` : base;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Plans ipsets, restore text and hooks (SPEC §7.10). */
export function planIptables(input: IptablesInput): {
  ipsets: IPSetSpec[];
  restore: Record<Family, string>;
  hooks: Record<Family, string[][]>;
} {
  const ipsets: IPSetSpec[] = [];
  const restore: Record<Family, string> = { 4: '', 6: '' };
  const hooks: Record<Family, string[][]> = { 4: [], 6: [] };
  for (const fam of [4, 6] as Family[]) {
    const ofFam = (subs: Subnet[]): string[] =>
      subs.filter((s) => (s.spec.range.version === '6' ? 6 : 4) === fam).map((s) => s.spec.range.cidr);
    const isFam = (ip: string): boolean => (ip.includes(':') ? 6 : 4) === fam;
    const nodeIPs = new Set<string>();
    for (const ni of input.cluster.nodeInfos)
      for (const ip of ni.spec.vtepInfo?.localIPs ?? []) if (isFam(ip)) nodeIPs.add(ip);
    for (const ip of input.localIPs) if (isFam(ip)) nodeIPs.add(ip);
    const podIPs = input.localInstances
      .filter((i) => (i.spec.address.version === '6' ? 6 : 4) === fam)
      .map((i) => i.spec.address.ip.split('/')[0] ?? '');
    const overlayNets = ofFam(input.overlaySubnets);
    const sets: [string, IPSetSpec['type'], string[]][] = [
      [IPSet.OverlayNet, 'hash:net', overlayNets],
      [IPSet.All, 'hash:net', [...ofFam(input.underlaySubnets), ...overlayNets, ...nodeIPs]],
      [IPSet.NodeIP, 'hash:ip', [...nodeIPs]],
      [IPSet.LocalUnderlayNet, 'hash:net', ofFam(input.localUnderlaySubnets)],
      [IPSet.LocalPodIP, 'hash:ip', podIPs],
    ];
    for (const [base, type, members] of sets)
      ipsets.push({ name: setName(base, fam), family: fam, type, members: [...new Set(members)].sort() });

    const S = (base: string): string => setName(base, fam);
    const nat: string[] = [];
    const filter: string[] = [];
    const prerouting: string[] = [];
    const postrouting: string[] = [];
    const skip: string[] = [];
    const mark: string[] = [];
    if (input.vxlan) {
      const vx = input.vxlan;
      nat.push(
        `-A ${Chain.Postrouting} -o hybr+ -m comment --comment "skip masquerade if traffic is to local pod" -j RETURN`,
      );
      nat.push(`-A ${Chain.Postrouting} -o h_+ -j RETURN`);
      nat.push(`-A ${Chain.Postrouting} ! -o ${vx} -m set --match-set ${S(IPSet.OverlayNet)} src -j MASQUERADE`);
      const reject = fam === 6 ? 'icmp6-addr-unreachable' : 'icmp-host-unreachable';
      filter.push(
        `-A ${Chain.Forward} -o ${vx} -m set ! --match-set ${S(IPSet.All)} dst -m conntrack ! --ctstate RELATED,ESTABLISHED -j REJECT --reject-with ${reject}`,
      );
      const match = `-m addrtype ! --dst-type LOCAL -m set --match-set ${S(IPSet.OverlayNet)} src -m set --match-set ${S(IPSet.NodeIP)} dst -m conntrack ! --ctstate NEW,INVALID,DNAT,SNAT`;
      prerouting.push(`-A ${Chain.Prerouting} ${match} -j ${Chain.PodToNodeMark}`);
      postrouting.push(`-A ${Chain.Postrouting} ${match} -j MARK --set-xmark 0x0/${hex(POD_TO_NODE_MARK)}`);
      for (const ip of input.localIPs.filter(isFam))
        mark.push(`-A ${Chain.PodToNodeMark} -m conntrack --ctorigdst ${ip} -j RETURN`);
      mark.push(`-A ${Chain.PodToNodeMark} -j MARK --set-xmark ${hex(POD_TO_NODE_MARK)}/${hex(POD_TO_NODE_MARK)}`);
    }
    for (const dev of input.underlayForwardIfs)
      filter.push(
        `-A ${Chain.Forward} -i ${dev} -m mark ! --mark ${hex(KUBE_PROXY_MASQ_MARK)}/${hex(KUBE_PROXY_MASQ_MARK)} -m set ! --match-set ${S(IPSet.LocalPodIP)} dst -m set --match-set ${S(IPSet.LocalUnderlayNet)} dst -j DROP`,
      );
    prerouting.push(`-A ${Chain.Prerouting} -m conntrack --ctstate SNAT -j ${Chain.FromRuleSkip}`);
    for (const cidr of ofFam(input.localSubnets))
      skip.push(
        `-A ${Chain.FromRuleSkip} -m conntrack --ctstate DNAT --ctreplsrc ${cidr} -j MARK --set-xmark ${hex(FULL_NAT_MARK)}/${hex(FULL_NAT_MARK)}`,
      );
    const table = (name: string, chains: [string, string[]][]): string =>
      [`*${name}`, ...chains.map(([c]) => `:${c} - [0:0]`), ...chains.flatMap(([, r]) => r), 'COMMIT'].join('\n');
    restore[fam] =
      [
        table('nat', [[Chain.Postrouting, nat]]),
        table('filter', [[Chain.Forward, filter]]),
        table('mangle', [
          [Chain.Prerouting, prerouting],
          [Chain.Postrouting, postrouting],
          [Chain.FromRuleSkip, skip],
          [Chain.PodToNodeMark, mark],
        ]),
      ].join('\n') + '\n';
    hooks[fam] = [
      [
        '-t',
        'nat',
        'POSTROUTING',
        '-m',
        'comment',
        '--comment',
        'hybridnet postrouting rules',
        '-j',
        Chain.Postrouting,
      ],
      ['-t', 'filter', 'FORWARD', '-m', 'comment', '--comment', 'hybridnet forward rules', '-j', Chain.Forward],
      [
        '-t',
        'mangle',
        'PREROUTING',
        '-m',
        'comment',
        '--comment',
        'hybridnet prerouting rules',
        '-j',
        Chain.Prerouting,
      ],
      [
        '-t',
        'mangle',
        'POSTROUTING',
        '-m',
        'comment',
        '--comment',
        'hybridnet postrouting rules',
        '-j',
        Chain.Postrouting,
      ],
    ];
  }
  return { ipsets, restore, hooks };
}

/**
 * `ipsets` with `podIPs` (plain addresses of either family) added to the HYBR-LOCAL-POD-IP set of their family;
 * members stay sorted and unique, the other sets and the input are unchanged.
 *
 * Why: an iptables refresh applies a plan made under the datapath lock a moment earlier, and its `ipset restore`
 * replaces each set whole (swap). A pod wired in between has added its address to the set (ADD); without this union
 * the swap would take it out again, and the underlay loop guard (SPEC §7.10: FORWARD drops traffic to local underlay
 * subnets that is not for a local pod) would drop the pod's inbound traffic until the next refresh. An address
 * still in the set after its pod left only lets traffic through to an address nobody answers, until that refresh.
 */
export function withLocalPodIPs(ipsets: IPSetSpec[], podIPs: string[]): IPSetSpec[] {
  return ipsets.map((s) => {
    if (s.name !== setName(IPSet.LocalPodIP, s.family)) return s;
    const add = podIPs.filter((ip) => (ip.includes(':') ? 6 : 4) === s.family);
    return { ...s, members: [...new Set([...s.members, ...add])].sort() };
  });
}
