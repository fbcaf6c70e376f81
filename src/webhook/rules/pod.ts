/**
 * Pod admission (SPEC §5.4 validation, §5.5 mutation, D2). Both use the shared selection of
 * `src/selection` (SPEC §4.4). Pods labelled `webhook.hybridnet.io/ignore=true` and host-network
 * pods are skipped (host-network pods only get the network-unavailable toleration on mutation).
 */
import fastJsonPatch from 'fast-json-patch';
import {
  ANNOTATION_HANDLED_BY_WEBHOOK,
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_POOL,
  ANNOTATION_MAC_POOL,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_NETWORK,
  ANNOTATION_SPECIFIED_SUBNET,
  ATTACHED,
  HANDLED_BY_WEBHOOK_VALUE,
  IPFamily,
  LABEL_BGP_NETWORK_ATTACHMENT,
  LABEL_DUALSTACK_ADDRESS_QUOTA,
  LABEL_IPV4_ADDRESS_QUOTA,
  LABEL_IPV6_ADDRESS_QUOTA,
  LABEL_OVERLAY_NETWORK_ATTACHMENT,
  LABEL_UNDERLAY_NETWORK_ATTACHMENT,
  LABEL_WEBHOOK_IGNORE,
  NetworkType,
  QuotaValue,
  TAINT_NETWORK_UNAVAILABLE,
  WEBHOOK_IGNORE_VALUES,
  effectiveNetworkType,
  type Network,
  type Subnet,
} from '../../api/index.ts';
import { InvalidMACError, cidrContainsValue, normalizeMAC, tryParseIP, type IPAddress } from '../../net/index.ts';
import {
  PodSelectionError,
  findRetainedIPs,
  podIPInstances,
  readSpecifiedConfig,
  resolveIPFamily,
  resolveNetworkType,
  resolveSpecifiedNetwork,
  selectPodNetwork,
  type PodLike,
  type SelectionDefaults,
} from '../../selection/index.ts';
import type { AdmissionRequest } from '../admission.ts';
import { allow, deny, errored, type Decision } from '../decision.ts';
import type { ClusterView } from '../view.ts';
import { Denials } from './denials.ts';
import { fmt, parseExistingRange, rangeContains } from './range.ts';

/** A pod as it arrives in an AdmissionReview (kept as raw JSON for the patch diff). */
type RawPod = PodLike & { spec?: PodLike['spec'] & { tolerations?: Toleration[] } };

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): boolean {
  return isRecord(v) && Object.values(v).every((x) => typeof x === 'string');
}

/**
 * The shape the Pod rules rely on, checked before they read it: `metadata` and `spec` objects, string maps for
 * labels, annotations and nodeSelector, arrays of objects for ownerReferences and tolerations. The API server
 * decodes Pods strictly, so a failure here means a broken or forged request; it is an errored 400 naming the field
 * instead of a TypeError inside a rule (an "internal error" 500).
 */
function podShapeError(pod: Record<string, unknown>): string | undefined {
  const meta = pod.metadata;
  if (meta !== undefined && meta !== null) {
    if (!isRecord(meta)) return 'metadata is not an object';
    for (const f of ['labels', 'annotations'])
      if (meta[f] !== undefined && meta[f] !== null && !isStringMap(meta[f]))
        return `metadata.${f} is not a string map`;
    if (meta.name !== undefined && typeof meta.name !== 'string') return 'metadata.name is not a string';
    if (meta.namespace !== undefined && typeof meta.namespace !== 'string') return 'metadata.namespace is not a string';
    const refs = meta.ownerReferences;
    if (refs !== undefined && refs !== null && !(Array.isArray(refs) && refs.every(isRecord)))
      return 'metadata.ownerReferences is not a list of objects';
  }
  const spec = pod.spec;
  if (spec !== undefined && spec !== null) {
    if (!isRecord(spec)) return 'spec is not an object';
    if (spec.nodeSelector !== undefined && spec.nodeSelector !== null && !isStringMap(spec.nodeSelector))
      return 'spec.nodeSelector is not a string map';
    const tol = spec.tolerations;
    if (tol !== undefined && tol !== null && !(Array.isArray(tol) && tol.every(isRecord)))
      return 'spec.tolerations is not a list of objects';
  }
  return undefined;
}

function podOf(req: AdmissionRequest): RawPod | Decision {
  if (!isRecord(req.object)) return errored(400, `${req.operation} Pod ${req.name ?? ''}: the request carries no pod`);
  const shape = podShapeError(req.object);
  if (shape) return errored(400, `${req.operation} Pod ${req.name ?? ''}: ${shape}`);
  return req.object;
}

function isDecision(v: unknown): v is Decision {
  return isRecord(v) && typeof v.allowed === 'boolean' && !('metadata' in v);
}

/** `webhook.hybridnet.io/ignore` is `true`/`TRUE` (the objectSelector already excludes them; belt and braces). */
export function isIgnoredPod(pod: PodLike): boolean {
  const v = pod.metadata?.labels?.[LABEL_WEBHOOK_IGNORE];
  return v !== undefined && WEBHOOK_IGNORE_VALUES.includes(v);
}

function podKey(req: AdmissionRequest, pod: PodLike): { namespace: string; name: string } {
  return { namespace: req.namespace ?? pod.metadata?.namespace ?? '', name: pod.metadata?.name || (req.name ?? '') };
}

function selectionDenial(e: PodSelectionError): Decision {
  return deny(`pod.selection.${e.code}`, e.message);
}

function familyOfSubnet(s: Subnet): 4 | 6 {
  return s.spec.range.version === '6' ? 6 : 4;
}

/** Why `ip` cannot be given out by `s` (outside [start,end], gateway, excluded), or undefined if it can. */
function unusableReason(ip: IPAddress, s: Subnet): string | undefined {
  const r = parseExistingRange(s.spec.range);
  if (!r) return `subnet ${s.metadata.name ?? ''} has an unreadable range`;
  if (rangeContains(r, ip.value)) return undefined;
  const name = s.metadata.name ?? '';
  if (ip.value === r.gateway) return `is the gateway of subnet ${name}`;
  if (r.excludeIPs.has(ip.value)) return `is in spec.range.excludeIPs of subnet ${name}`;
  return `is outside the range [${fmt(r.family, r.start)}, ${fmt(r.family, r.end)}] of subnet ${name}`;
}

/**
 * ip-pool (D2): every comma-separated entry on its own is `ip` or `v4ip/v6ip`; the entry shape
 * matches the family (one IPv4 for IPv4Only, one IPv6 for IPv6Only, IPv4/IPv6 for DualStack); each
 * address lies in one of the specified subnets (else in a subnet of the specified network) and is
 * allocatable there; no address repeats.
 */
function checkIPPool(
  pool: string,
  family: IPFamily,
  network: string,
  subnets: string[],
  view: ClusterView,
  subject: string,
  d: Denials,
): void {
  const head = `${subject} annotation ${ANNOTATION_IP_POOL} ${JSON.stringify(pool)}`;
  const candidates: Subnet[] = (
    subnets.length > 0
      ? subnets.map((n) => view.getSubnet(n))
      : view.listSubnets().filter((s) => s.spec.network === network)
  ).filter((s): s is Subnet => s !== undefined);
  const seen = new Map<string, number>();
  pool.split(',').forEach((entry, i) => {
    const at = `${head}: entry ${i + 1} ${JSON.stringify(entry)}`;
    if (entry === '') {
      d.add('pod.ip-pool.entry', `${at} is empty; remove the extra comma`);
      return;
    }
    const parts = entry.split('/');
    if (parts.length > 2) {
      d.add('pod.ip-pool.entry', `${at} has ${parts.length} addresses; an entry is "ip" or "v4ip/v6ip"`);
      return;
    }
    const ips: IPAddress[] = [];
    for (const part of parts) {
      const ip = tryParseIP(part);
      if (!ip) {
        d.add('pod.ip-pool.entry', `${at}: ${JSON.stringify(part)} is not a valid IP address`);
        return;
      }
      ips.push(ip);
    }
    const [a, b] = ips;
    if (a === undefined) return;
    if (b !== undefined && (a.family !== 4 || b.family !== 6)) {
      d.add('pod.ip-pool.entry', `${at}: a two-address entry must be "<IPv4>/<IPv6>"`);
      return;
    }
    const shapeOk =
      family === IPFamily.DualStack
        ? b !== undefined
        : b === undefined && a.family === (family === IPFamily.IPv6Only ? 6 : 4);
    if (!shapeOk) {
      const want =
        family === IPFamily.DualStack
          ? '"<IPv4>/<IPv6>"'
          : family === IPFamily.IPv6Only
            ? 'one IPv6 address'
            : 'one IPv4 address';
      d.add('pod.ip-pool.family', `${at} does not fit ip-family ${family}: each entry must be ${want}`);
      return;
    }
    for (const ip of ips) {
      const text = fmt(ip.family, ip.value);
      const prev = seen.get(`${ip.family}:${ip.value}`);
      if (prev !== undefined) {
        d.add('pod.ip-pool.duplicate', `${at}: ${text} is already used by entry ${prev}`);
        continue;
      }
      seen.set(`${ip.family}:${ip.value}`, i + 1);
      const inCidr = candidates.filter((s) => {
        const r = parseExistingRange(s.spec.range);
        return r !== undefined && cidrContainsValue(r.cidr, ip.family, ip.value);
      });
      const where = subnets.length > 0 ? `specified subnets ${subnets.join('/')}` : `subnets of network ${network}`;
      const home = inCidr[0];
      if (!home) {
        d.add('pod.ip-pool.subnet', `${at}: ${text} is not in any of the ${where}`);
        continue;
      }
      const reason = unusableReason(ip, home);
      if (reason) d.add('pod.ip-pool.subnet', `${at}: ${text} ${reason}`);
    }
  });
}

function checkMacPool(pool: string, subject: string, d: Denials): void {
  const head = `${subject} annotation ${ANNOTATION_MAC_POOL} ${JSON.stringify(pool)}`;
  pool.split(',').forEach((entry, i) => {
    if (entry === '') {
      d.add('pod.mac-pool', `${head}: entry ${i + 1} is empty; remove the extra comma`);
      return;
    }
    try {
      normalizeMAC(entry);
    } catch (e) {
      const reason = e instanceof InvalidMACError ? e.reason : String(e);
      d.add('pod.mac-pool', `${head}: entry ${i + 1} ${JSON.stringify(entry)} is not a valid MAC address: ${reason}`);
    }
  });
}

const FAMILY_WORDS: Record<IPFamily, { stat: 'statistics' | 'ipv6Statistics' | 'dualStackStatistics'; word: string }> =
  {
    IPv4Only: { stat: 'statistics', word: 'ipv4' },
    IPv6Only: { stat: 'ipv6Statistics', word: 'ipv6' },
    DualStack: { stat: 'dualStackStatistics', word: 'dual stack' },
  };

/**
 * Validates a Pod CREATE (SPEC §5.4 with D2). Other operations, ignored pods and host-network pods pass.
 * @returns allowed, or denied naming the annotation/label, its value and the rule.
 */
export function validatePod(req: AdmissionRequest, view: ClusterView, defaults: SelectionDefaults): Decision {
  if (req.operation !== 'CREATE') return allow('by pass');
  const pod = podOf(req);
  if (isDecision(pod)) return pod;
  if (isIgnoredPod(pod) || pod.spec?.hostNetwork === true) return allow('skipped');
  const { namespace, name } = podKey(req, pod);
  const subject = `pod ${namespace}/${name}`;
  const config = readSpecifiedConfig('pod', pod.metadata, namespace);
  const d = new Denials();

  let network = '';
  let subnets: string[] = [];
  let networkType: NetworkType;
  let family: IPFamily;
  try {
    ({ network, subnets } = resolveSpecifiedNetwork(config, view));
    networkType = resolveNetworkType(config.networkType, defaults);
    family = resolveIPFamily(config.ipFamily, defaults);
  } catch (e) {
    if (e instanceof PodSelectionError) return selectionDenial(e);
    throw e;
  }

  let retained;
  try {
    retained = findRetainedIPs(pod, namespace, view, defaults);
  } catch (e) {
    if (e instanceof PodSelectionError) return selectionDenial(e);
    throw e;
  }
  if (retained) family = retained.ipFamily;

  if (network !== '') {
    const net = view.getNetwork(network);
    if (!net) {
      const where = config.network ?? config.subnet;
      return deny(
        'pod.network.missing',
        `${where?.where ?? subject} ${JSON.stringify(where?.value ?? network)}: specified network ${network} not found`,
      );
    }
    const actual = effectiveNetworkType(net);
    if (config.networkType && networkType !== actual) {
      return deny(
        'pod.network-type.mismatch',
        `${config.networkType.where} ${JSON.stringify(config.networkType.value)} mismatches network ${network} of ` +
          `type ${actual} (specified network type mismatch)`,
      );
    }
    networkType = actual;
    for (const ip of podIPInstances(view, namespace, name)) {
      const addr = ip.spec.address.ip.split('/')[0] ?? '';
      if (ip.spec.network !== network) {
        d.add(
          'pod.assigned-ip.network',
          `${subject} has assigned ip ${addr} (IPInstance ${ip.metadata.name ?? ''}) of network ${ip.spec.network}, ` +
            `cannot assign to another network ${network}`,
        );
      } else if (subnets.length > 0 && !subnets.includes(ip.spec.subnet)) {
        d.add(
          'pod.assigned-ip.subnet',
          `${subject} has assigned ip ${addr} (IPInstance ${ip.metadata.name ?? ''}) of subnet ${ip.spec.subnet}, ` +
            `cannot assign to specified subnets ${subnets.join('/')}`,
        );
      }
    }
  }

  if (subnets.length > 0 && config.subnet) {
    const head = `${config.subnet.where} ${JSON.stringify(config.subnet.value)}`;
    if (family === IPFamily.DualStack && subnets.length !== 2) {
      d.add('pod.subnet.family', `${head} names one subnet but ip-family is DualStack: use "<v4subnet>/<v6subnet>"`);
    } else if (family !== IPFamily.DualStack && subnets.length !== 1) {
      d.add('pod.subnet.family', `${head} names two subnets but ip-family is ${family}: name one subnet`);
    } else if (family !== IPFamily.DualStack) {
      const s = view.getSubnet(subnets[0] ?? '');
      const want = family === IPFamily.IPv6Only ? 6 : 4;
      if (s && familyOfSubnet(s) !== want) {
        d.add(
          'pod.subnet.family',
          `${head}: subnet ${subnets[0] ?? ''} is IPv${familyOfSubnet(s)} but ip-family is ${family}`,
        );
      }
    }
  }

  const ipPool = pod.metadata?.annotations?.[ANNOTATION_IP_POOL];
  if (ipPool !== undefined && ipPool !== '') {
    if (network === '') {
      d.add(
        'pod.ip-pool.unspecified',
        `${subject} annotation ${ANNOTATION_IP_POOL} ${JSON.stringify(ipPool)} needs ${ANNOTATION_SPECIFIED_NETWORK} ` +
          `or ${ANNOTATION_SPECIFIED_SUBNET} on the pod: ip pool and network(subnet) must be specified at the same time`,
      );
    } else if (d.empty) {
      checkIPPool(ipPool, family, network, subnets, view, subject, d);
    }
  }
  const macPool = pod.metadata?.annotations?.[ANNOTATION_MAC_POOL];
  if (macPool !== undefined && macPool !== '') checkMacPool(macPool, subject, d);

  if (!retained && (networkType === NetworkType.Overlay || networkType === NetworkType.GlobalBGP)) {
    const net = view.listNetworks().find((n) => effectiveNetworkType(n) === networkType);
    if (!net) {
      d.add('pod.network.missing', `${subject} network type ${networkType}: no network found by type ${networkType}`);
    } else {
      const { stat, word } = FAMILY_WORDS[family];
      const available = net.status?.[stat]?.available;
      // No status yet (manager has not computed it): let the manager decide rather than refuse blindly.
      if (available !== undefined && available <= 0) {
        d.add(
          'pod.network.capacity',
          `${subject}: network ${net.metadata.name ?? ''} has no free ${word} address (status.${stat}.available ` +
            `${available}): lacking ${word} addresses by network type ${networkType}`,
        );
      }
    }
  }
  return d.decision();
}

/** The nodeSelector that steers a pod to nodes of its network (SPEC §5.5). */
export function networkNodeSelector(
  networkType: NetworkType,
  family: IPFamily,
  network: Network | undefined,
  retainedIPExist: boolean,
): Record<string, string> {
  switch (networkType) {
    case NetworkType.Underlay: {
      const sel: Record<string, string> = network
        ? { ...(network.spec.nodeSelector ?? {}) }
        : { [LABEL_UNDERLAY_NETWORK_ATTACHMENT]: ATTACHED };
      if (!retainedIPExist) {
        const quota =
          family === IPFamily.DualStack
            ? LABEL_DUALSTACK_ADDRESS_QUOTA
            : family === IPFamily.IPv6Only
              ? LABEL_IPV6_ADDRESS_QUOTA
              : LABEL_IPV4_ADDRESS_QUOTA;
        sel[quota] = QuotaValue.NonEmpty;
      }
      return sel;
    }
    case NetworkType.Overlay:
      return { [LABEL_OVERLAY_NETWORK_ATTACHMENT]: ATTACHED };
    case NetworkType.GlobalBGP:
      return { [LABEL_BGP_NETWORK_ATTACHMENT]: ATTACHED };
  }
}

/**
 * Mutates a Pod CREATE (SPEC §5.5): host-network pods get the network-unavailable toleration; other
 * pods get the annotations of SPEC §3.2 and the nodeSelector of {@link networkNodeSelector}.
 * Selection errors deny the pod with the selection message (the API server refuses on any
 * `allowed: false` response; failurePolicy Ignore only covers an unreachable webhook).
 * @returns allowed with a JSON patch (RFC 6902) from the original pod to the mutated one.
 */
export function mutatePod(req: AdmissionRequest, view: ClusterView, defaults: SelectionDefaults): Decision {
  if (req.operation !== 'CREATE') return allow('by pass');
  const pod = podOf(req);
  if (isDecision(pod)) return pod;
  if (isIgnoredPod(pod)) return allow('skipped');
  const mutated = structuredClone(pod);
  if (pod.spec?.hostNetwork === true) {
    const spec = (mutated.spec ??= {});
    const tolerations = (spec.tolerations ??= []);
    const has = tolerations.some(
      (t) => t.key === TAINT_NETWORK_UNAVAILABLE && t.operator === 'Exists' && t.effect === 'NoSchedule',
    );
    if (!has) tolerations.push({ key: TAINT_NETWORK_UNAVAILABLE, operator: 'Exists', effect: 'NoSchedule' });
    return allow(undefined, fastJsonPatch.compare(pod, mutated));
  }
  const { namespace } = podKey(req, pod);
  let sel;
  try {
    sel = selectPodNetwork(pod, namespace, view.getNamespace(namespace), view, defaults);
  } catch (e) {
    if (e instanceof PodSelectionError) return selectionDenial(e);
    throw e;
  }
  const meta = (mutated.metadata ??= {});
  const annotations = (meta.annotations ??= {});
  if (sel.network !== '') annotations[ANNOTATION_SPECIFIED_NETWORK] = sel.network;
  if (sel.subnets.length > 0) annotations[ANNOTATION_SPECIFIED_SUBNET] = sel.subnets.join('/');
  annotations[ANNOTATION_NETWORK_TYPE] = sel.networkType;
  annotations[ANNOTATION_IP_FAMILY] = sel.ipFamily;
  annotations[ANNOTATION_HANDLED_BY_WEBHOOK] = HANDLED_BY_WEBHOOK_VALUE;
  const net = sel.network !== '' ? view.getNetwork(sel.network) : undefined;
  const spec = (mutated.spec ??= {});
  spec.nodeSelector = {
    ...(spec.nodeSelector ?? {}),
    ...networkNodeSelector(sel.networkType, sel.ipFamily, net, sel.retainedIPExist),
  };
  return allow(undefined, fastJsonPatch.compare(pod, mutated));
}
