/**
 * Object builders for the webhook and selection unit tests: minimal valid Network, Subnet,
 * IPInstance, Pod and Namespace objects with overridable parts, and a filled {@link ClusterStore}.
 * Not used by production code.
 */
import {
  LABEL_NETWORK,
  LABEL_NODE,
  LABEL_POD,
  LABEL_SUBNET,
  NETWORKING_API_VERSION,
  type IPInstance,
  type Network,
  type NetworkSpec,
  type Subnet,
  type SubnetSpec,
} from '../api/index.ts';
import { ipInstanceName, parseIP, podLabelValue } from '../net/index.ts';
import type { NamespaceLike, PodLike, SelectionDefaults } from '../selection/index.ts';
import { ClusterStore, type NodeLike } from './view.ts';

/** Defaults as the chart ships them, except the network type which tests pick. */
export const TEST_DEFAULTS: SelectionDefaults = {
  networkType: 'Underlay',
  ipFamily: 'IPv4Only',
  statefulWorkloadKinds: ['StatefulSet'],
  ipRetain: true,
};

/** A Network named `name` with `spec` (status optional). */
export function network(name: string, spec: NetworkSpec, status?: Network['status']): Network {
  const n: Network = { apiVersion: NETWORKING_API_VERSION, kind: 'Network', metadata: { name }, spec };
  if (status) n.status = status;
  return n;
}

/** A Subnet named `name` in `networkName` with range `range` and optional extra spec fields. */
export function subnet(
  name: string,
  networkName: string,
  range: SubnetSpec['range'],
  extra: Partial<Omit<SubnetSpec, 'network' | 'range'>> = {},
): Subnet {
  return {
    apiVersion: NETWORKING_API_VERSION,
    kind: 'Subnet',
    metadata: { name },
    spec: { network: networkName, range, ...extra },
  };
}

/** An IPInstance for `ip` (e.g. `10.0.0.5`) of pod `podName` in `namespace`, labelled as the manager does. */
export function ipInstance(
  namespace: string,
  ip: string,
  opts: { network: string; subnet: string; podName: string; nodeName?: string; prefix?: number; terminating?: boolean },
): IPInstance {
  const addr = parseIP(ip);
  const labels: Record<string, string> = {
    [LABEL_NETWORK]: opts.network,
    [LABEL_SUBNET]: opts.subnet,
    [LABEL_POD]: podLabelValue(opts.podName),
  };
  if (opts.nodeName) labels[LABEL_NODE] = opts.nodeName;
  const obj: IPInstance = {
    apiVersion: NETWORKING_API_VERSION,
    kind: 'IPInstance',
    metadata: { name: ipInstanceName(addr), namespace, labels },
    spec: {
      network: opts.network,
      subnet: opts.subnet,
      address: {
        version: addr.family === 4 ? '4' : '6',
        ip: `${ip}/${opts.prefix ?? (addr.family === 4 ? 24 : 64)}`,
        mac: '02:12:34:00:00:01',
        netID: null,
      },
      binding: { podName: opts.podName, nodeName: opts.nodeName ?? '' },
    },
  };
  if (opts.terminating) obj.metadata.deletionTimestamp = new Date('2026-01-01T00:00:00Z');
  return obj;
}

/** A Pod with the given metadata parts; `owner` makes it controlled by e.g. a StatefulSet. */
export function pod(
  namespace: string,
  name: string,
  opts: {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    owner?: { kind: string; name: string };
    hostNetwork?: boolean;
    nodeSelector?: Record<string, string>;
  } = {},
): PodLike & { apiVersion: string; kind: string } {
  const p: PodLike & { apiVersion: string; kind: string } = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: {},
  };
  const meta = p.metadata ?? {};
  if (opts.annotations) meta.annotations = opts.annotations;
  if (opts.labels) meta.labels = opts.labels;
  if (opts.owner) {
    meta.ownerReferences = [
      { apiVersion: 'apps/v1', kind: opts.owner.kind, name: opts.owner.name, uid: 'uid-owner', controller: true },
    ];
  }
  if (opts.hostNetwork) (p.spec ??= {}).hostNetwork = true;
  if (opts.nodeSelector) (p.spec ??= {}).nodeSelector = opts.nodeSelector;
  return p;
}

/** A Namespace with optional annotations and labels. */
export function namespace(
  name: string,
  opts: { annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): NamespaceLike {
  return { metadata: { name, ...opts } };
}

/** A Node with labels. */
export function node(name: string, labels: Record<string, string> = {}): NodeLike {
  return { metadata: { name, labels } };
}

/** A store holding the given objects. */
export function storeOf(objs: {
  networks?: Network[];
  subnets?: Subnet[];
  ipinstances?: IPInstance[];
  namespaces?: NamespaceLike[];
  nodes?: NodeLike[];
}): ClusterStore {
  const s = new ClusterStore();
  s.replace('networks', objs.networks ?? []);
  s.replace('subnets', objs.subnets ?? []);
  s.replace('ipinstances', objs.ipinstances ?? []);
  s.replace('namespaces', objs.namespaces ?? []);
  s.replace('nodes', objs.nodes ?? []);
  return s;
}
