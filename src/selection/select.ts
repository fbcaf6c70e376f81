/**
 * How a pod's network, subnets, network type and IP family are chosen — the original's
 * `ParseNetworkConfigOfPodByPriority` (SPEC §4.4). One implementation, imported by the webhook
 * (mutation and validation) and the manager (pods the webhook never saw). Pure: pod + namespace +
 * a read-only {@link SelectionView} → {@link PodNetworkSelection} or {@link PodSelectionError}.
 */
import {
  ANNOTATION_IP_FAMILY,
  ANNOTATION_IP_RETAIN,
  ANNOTATION_NETWORK_TYPE,
  ANNOTATION_SPECIFIED_NETWORK,
  ANNOTATION_SPECIFIED_SUBNET,
  ENV_DEFAULT_IP_FAMILY,
  ENV_DEFAULT_NETWORK_TYPE,
  IPFamily,
  IPVersion,
  LABEL_NETWORK_TYPE,
  LABEL_POD,
  LABEL_SPECIFIED_NETWORK,
  LABEL_SPECIFIED_SUBNET,
  effectiveNetworkType,
  isIPFamily,
  isNetworkType,
  parseGoBool,
  parseIPFamily,
  parseNetworkType,
  type IPInstance,
  type NetworkType,
  type Subnet,
} from '../api/index.ts';
import { podLabelValue } from '../net/index.ts';
import { PodSelectionError } from './errors.ts';
import type {
  NamespaceLike,
  ObjectMetaLike,
  PodLike,
  PodNetworkSelection,
  SelectionDefaults,
  SelectionSource,
  SelectionView,
} from './types.ts';

/** A value read from an object, with where it was read (for messages), e.g. `pod annotation <key>`. */
export interface Sourced {
  value: string;
  where: string;
}

/** The four user inputs of one object (pod or namespace); absent or empty ⇒ undefined. */
export interface SpecifiedConfig {
  network?: Sourced;
  subnet?: Sourced;
  networkType?: Sourced;
  ipFamily?: Sourced;
}

/** `pod ns/name` or `namespace ns`, used as the subject of messages. */
function subjectOf(kind: 'pod' | 'namespace', meta: ObjectMetaLike | undefined, namespace: string): string {
  return kind === 'pod' ? `pod ${namespace}/${meta?.name ?? ''}` : `namespace ${meta?.name ?? namespace}`;
}

function pick(
  meta: ObjectMetaLike | undefined,
  subject: string,
  annotationKey: string,
  labelKey: string | undefined,
): Sourced | undefined {
  const a = meta?.annotations?.[annotationKey];
  if (a !== undefined && a !== '') return { value: a, where: `${subject} annotation ${annotationKey}` };
  if (labelKey === undefined) return undefined;
  const l = meta?.labels?.[labelKey];
  if (l !== undefined && l !== '') return { value: l, where: `${subject} label ${labelKey}` };
  return undefined;
}

/**
 * Reads specified-network, specified-subnet and network-type (annotation beats label) and
 * ip-family (annotation only) from a pod or namespace (SPEC §3.1).
 * @param namespace the pod's namespace (for the message subject).
 */
export function readSpecifiedConfig(
  kind: 'pod' | 'namespace',
  meta: ObjectMetaLike | undefined,
  namespace: string,
): SpecifiedConfig {
  const subject = subjectOf(kind, meta, namespace);
  const out: SpecifiedConfig = {};
  const network = pick(meta, subject, ANNOTATION_SPECIFIED_NETWORK, LABEL_SPECIFIED_NETWORK);
  const subnet = pick(meta, subject, ANNOTATION_SPECIFIED_SUBNET, LABEL_SPECIFIED_SUBNET);
  const networkType = pick(meta, subject, ANNOTATION_NETWORK_TYPE, LABEL_NETWORK_TYPE);
  const ipFamily = pick(meta, subject, ANNOTATION_IP_FAMILY, undefined);
  if (network) out.network = network;
  if (subnet) out.subnet = subnet;
  if (networkType) out.networkType = networkType;
  if (ipFamily) out.ipFamily = ipFamily;
  return out;
}

/** True when none of the four inputs is set ("decided" = any one set, SPEC §4.4 step 2). */
export function isEmptyConfig(c: SpecifiedConfig): boolean {
  return !c.network && !c.subnet && !c.networkType && !c.ipFamily;
}

/** Resolved specified subnets: the network they imply and the Subnet objects, in the order given. */
export interface ResolvedSubnets {
  network: string;
  subnets: Subnet[];
}

/**
 * Checks a specified-subnet value (`"<subnet>"` or `"<v4subnet>/<v6subnet>"`): at most two
 * non-empty names; each exists; with two names the first is IPv4 and the second IPv6; both in the
 * same network (SPEC §3.1, §4.4 step 2).
 * @throws PodSelectionError (`subnet-count`, `subnet-not-found`, `subnet-order`, `subnet-network-mismatch`).
 */
export function resolveSpecifiedSubnets(spec: Sourced, view: SelectionView): ResolvedSubnets {
  const names = spec.value.split('/');
  const head = `${spec.where} ${JSON.stringify(spec.value)}`;
  if (names.length > 2) {
    throw new PodSelectionError(
      'subnet-count',
      `${head} names ${names.length} subnets; at most two are allowed: "<subnet>" or "<v4subnet>/<v6subnet>"`,
    );
  }
  if (names.some((n) => n === '')) {
    throw new PodSelectionError(
      'subnet-count',
      `${head} has an empty subnet name; use "<subnet>" or "<v4subnet>/<v6subnet>"`,
    );
  }
  const subnets: Subnet[] = [];
  for (const name of names) {
    const s = view.getSubnet(name);
    if (!s) throw new PodSelectionError('subnet-not-found', `${head}: subnet ${name} not found`);
    subnets.push(s);
  }
  const [first, second] = subnets;
  if (first === undefined) throw new PodSelectionError('subnet-count', `${head} names no subnet`);
  if (second !== undefined) {
    if (first.spec.range.version !== IPVersion.IPv4) {
      throw new PodSelectionError(
        'subnet-order',
        `${head}: the first subnet ${names[0]} is IPv${first.spec.range.version}; ` +
          'with two names the first must be the IPv4 subnet and the second the IPv6 subnet ("<v4subnet>/<v6subnet>")',
      );
    }
    if (second.spec.range.version !== IPVersion.IPv6) {
      throw new PodSelectionError(
        'subnet-order',
        `${head}: the second subnet ${names[1]} is IPv${second.spec.range.version}; ` +
          'with two names the first must be the IPv4 subnet and the second the IPv6 subnet ("<v4subnet>/<v6subnet>")',
      );
    }
    if (first.spec.network !== second.spec.network) {
      throw new PodSelectionError(
        'subnet-network-mismatch',
        `${head}: subnet ${names[0]} is in network ${first.spec.network} but subnet ${names[1]} is in network ` +
          `${second.spec.network}; both subnets must be in the same network`,
      );
    }
  }
  return { network: first.spec.network, subnets };
}

/**
 * The network named by specified-network and/or implied by specified-subnet, with the subnet
 * names; checks that the two agree (SPEC §4.4 step 2, §5.4 step 1).
 * @throws PodSelectionError from {@link resolveSpecifiedSubnets}, or `network-subnet-conflict`.
 */
export function resolveSpecifiedNetwork(
  config: SpecifiedConfig,
  view: SelectionView,
): { network: string; subnets: string[] } {
  let network = config.network?.value ?? '';
  let subnets: string[] = [];
  if (config.subnet) {
    const resolved = resolveSpecifiedSubnets(config.subnet, view);
    subnets = config.subnet.value.split('/');
    if (network === '') network = resolved.network;
    else if (network !== resolved.network) {
      throw new PodSelectionError(
        'network-subnet-conflict',
        `${config.network?.where ?? 'specified-network'} ${JSON.stringify(network)} conflicts with ` +
          `${config.subnet.where} ${JSON.stringify(config.subnet.value)}: subnet ${subnets[0] ?? ''} belongs to ` +
          `network ${resolved.network}`,
      );
    }
  }
  return { network, subnets };
}

/** True when the pod's controller owner is of one of `kinds` (`--stateful-workload-kinds`). */
export function isStatefulPod(pod: PodLike, kinds: readonly string[]): boolean {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
  return owner?.kind !== undefined && kinds.includes(owner.kind);
}

/** ip-retain of a pod: the annotation parsed as a Go bool, else `defaultRetain` (SPEC §3.1). */
export function podIPRetain(pod: PodLike, defaultRetain: boolean): boolean {
  const text = pod.metadata?.annotations?.[ANNOTATION_IP_RETAIN];
  return (text === undefined ? undefined : parseGoBool(text)) ?? defaultRetain;
}

/** Non-terminating IPInstances labelled with the pod's name in its namespace (SPEC §4.4 step 1). */
export function podIPInstances(view: SelectionView, namespace: string, podName: string): IPInstance[] {
  if (podName === '') return [];
  return view
    .listIPInstances({ namespace, labels: { [LABEL_POD]: podLabelValue(podName) } })
    .filter((ip) => ip.metadata.deletionTimestamp === undefined || ip.metadata.deletionTimestamp === null);
}

/** Retained addresses of a stateful pod: their network and the family they form. */
export interface RetainedIPs {
  network: string;
  ipFamily: IPFamily;
  instances: IPInstance[];
}

/**
 * Step 1 of SPEC §4.4: for a stateful pod with ip-retain, its existing non-terminating
 * IPInstances: none ⇒ undefined; one ⇒ its family; two ⇒ one IPv4 + one IPv6 ⇒ DualStack.
 * @throws PodSelectionError `retained-ips` for more than two, two of one family, or two networks.
 */
export function findRetainedIPs(
  pod: PodLike,
  namespace: string,
  view: SelectionView,
  defaults: SelectionDefaults,
): RetainedIPs | undefined {
  if (!isStatefulPod(pod, defaults.statefulWorkloadKinds) || !podIPRetain(pod, defaults.ipRetain)) return undefined;
  const name = pod.metadata?.name ?? '';
  const instances = podIPInstances(view, namespace, name);
  if (instances.length === 0) return undefined;
  const names = instances.map((i) => i.metadata.name ?? '').join(', ');
  const subject = `pod ${namespace}/${name}`;
  if (instances.length > 2) {
    throw new PodSelectionError(
      'retained-ips',
      `${subject} holds ${instances.length} retained IPInstances (${names}); at most one IPv4 and one IPv6 are allowed`,
      `${namespace}/${name}`,
    );
  }
  const [a, b] = instances;
  if (a === undefined) return undefined;
  if (b === undefined) {
    const ipFamily = a.spec.address.version === IPVersion.IPv6 ? IPFamily.IPv6Only : IPFamily.IPv4Only;
    return { network: a.spec.network, ipFamily, instances };
  }
  if (a.spec.address.version === b.spec.address.version) {
    throw new PodSelectionError(
      'retained-ips',
      `${subject} holds two retained IPv${a.spec.address.version} IPInstances (${names}); ` +
        'two retained addresses must be one IPv4 and one IPv6',
      `${namespace}/${name}`,
    );
  }
  if (a.spec.network !== b.spec.network) {
    throw new PodSelectionError(
      'retained-ips',
      `${subject} holds retained IPInstances in two networks (${a.spec.network}, ${b.spec.network}); ` +
        'a pod uses one network',
      `${namespace}/${name}`,
    );
  }
  return { network: a.spec.network, ipFamily: IPFamily.DualStack, instances };
}

/** Parses a network-type input; invalid spellings raise `invalid-network-type` naming where it came from. */
export function resolveNetworkType(input: Sourced | undefined, defaults: SelectionDefaults): NetworkType {
  const value = input ? parseNetworkType(input.value) : defaults.networkType;
  if (isNetworkType(value)) return value;
  const where = input ? input.where : `environment ${ENV_DEFAULT_NETWORK_TYPE}`;
  throw new PodSelectionError(
    'invalid-network-type',
    `${where} ${JSON.stringify(input?.value ?? value)} is not a network type: use Underlay, Overlay or GlobalBGP`,
  );
}

/** Parses an ip-family input; invalid spellings raise `invalid-ip-family` naming where it came from. */
export function resolveIPFamily(input: Sourced | undefined, defaults: SelectionDefaults): IPFamily {
  const value = input ? parseIPFamily(input.value) : defaults.ipFamily;
  if (isIPFamily(value)) return value;
  const where = input ? input.where : `environment ${ENV_DEFAULT_IP_FAMILY}`;
  throw new PodSelectionError(
    'invalid-ip-family',
    `${where} ${JSON.stringify(input?.value ?? value)} is not an IP family: use IPv4 (IPv4Only), IPv6 (IPv6Only) ` +
      'or DualStack',
  );
}

/**
 * Chooses the network, subnets, network type and IP family of a pod (SPEC §4.4):
 * 1. retained IPInstances of a stateful pod with ip-retain decide network and family;
 * 2. else the pod's own inputs (annotation beats label; ip-family annotation only), if any is set;
 * 3. else the namespace's inputs (no per-field merge between pod and namespace);
 * 4. type and family default to `defaults`; 5. a known network must exist; an unspecified type is
 *    inherited from it, a specified one must equal it; its nodeSelector is returned;
 * 6. invalid type or family ⇒ error.
 *
 * @param namespace the pod's namespace name (admission `request.namespace`, which is reliable even
 *   when `pod.metadata.namespace` is empty on CREATE).
 * @param namespaceObj the Namespace object, or undefined when it cannot be read (treated as empty).
 * @throws PodSelectionError (see {@link PodSelectionErrorCode} for the cases).
 */
export function selectPodNetwork(
  pod: PodLike,
  namespace: string,
  namespaceObj: NamespaceLike | undefined,
  view: SelectionView,
  defaults: SelectionDefaults,
): PodNetworkSelection {
  let source: SelectionSource = 'defaults';
  let network = '';
  let subnets: string[] = [];
  let config: SpecifiedConfig = {};
  let retainedFamily: IPFamily | undefined;

  const retained = findRetainedIPs(pod, namespace, view, defaults);
  if (retained) {
    source = 'retained-ips';
    network = retained.network;
    retainedFamily = retained.ipFamily;
  } else {
    const fromPod = readSpecifiedConfig('pod', pod.metadata, namespace);
    if (!isEmptyConfig(fromPod)) {
      source = 'pod';
      config = fromPod;
    } else {
      const fromNamespace = readSpecifiedConfig('namespace', namespaceObj?.metadata, namespace);
      if (!isEmptyConfig(fromNamespace)) {
        source = 'namespace';
        config = fromNamespace;
      }
    }
    ({ network, subnets } = resolveSpecifiedNetwork(config, view));
  }

  let networkType = resolveNetworkType(config.networkType, defaults);
  const ipFamily = retainedFamily ?? resolveIPFamily(config.ipFamily, defaults);
  const result: PodNetworkSelection = { network, subnets, networkType, ipFamily, retainedIPExist: !!retained, source };
  if (network !== '') {
    const obj = view.getNetwork(network);
    if (!obj) {
      const podName = `${namespace}/${pod.metadata?.name ?? ''}`;
      const message = retained
        ? `pod ${podName} holds retained IPInstances of network ${network}, which does not exist`
        : config.network
          ? `${config.network.where} ${JSON.stringify(config.network.value)}: specified network ${network} not found`
          : `${config.subnet?.where ?? 'specified-subnet'} ${JSON.stringify(config.subnet?.value ?? '')}: ` +
            `network ${network} of subnet ${subnets[0] ?? ''} not found`;
      throw new PodSelectionError('network-not-found', message, podName);
    }
    const actual = effectiveNetworkType(obj);
    if (!config.networkType) networkType = actual;
    else if (networkType !== actual) {
      throw new PodSelectionError(
        'network-type-mismatch',
        `${config.networkType.where} ${JSON.stringify(config.networkType.value)} mismatches network ${network} of ` +
          `type ${actual} (specified network type mismatch)`,
      );
    }
    result.networkType = networkType;
    result.networkNodeSelector = { ...(obj.spec.nodeSelector ?? {}) };
  }
  return result;
}
