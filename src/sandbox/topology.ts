/**
 * The sandbox's address plan (pure): namespace names, node names, LAN addresses, the underlay gateway and the
 * "outside" host. Everything here lives inside network namespaces the sandbox creates; the root namespace is never
 * configured (DESIGN.md "Sandbox topology").
 *
 *   <prefix>cp    control plane, LAN 192.168.56.2   / fd00:56::2
 *   <prefix>sw    the switch: bridge br0, one veth port per namespace below
 *   <prefix>gw    LAN 192.168.56.1 / fd00:56::1 (nodes' default gateway), underlay gateway 192.168.100.1,
 *                 "outside" host 203.0.113.10 / 2001:db8:ff::10 (addresses on its lo)
 *   <prefix>node-N  LAN 192.168.56.(10+N) / fd00:56::(10+N), eth0
 *   <prefix>pod-<sandbox id>  one per pod sandbox, created by the kubelet stand-in
 */
import path from 'node:path';
import { LABEL_TOPOLOGY_ZONE } from '../api/constants.ts';

/** Default prefix of every namespace the sandbox creates. */
export const DEFAULT_PREFIX = 'hns-';
/** Default state directory. */
export const DEFAULT_DIR = '/var/lib/hybridnet-sandbox';
/** Default node count. */
export const DEFAULT_NODES = 3;
/** Default loopback port of the API server proxy in the root namespace. */
export const DEFAULT_API_PORT = 16443;
/** kube-apiserver port inside the cp namespace. */
export const APISERVER_PORT = 6443;
/** Webhook HTTPS port inside the cp namespace. */
export const WEBHOOK_PORT = 9898;
/** Port of the pod / outside-host responder. */
export const RESPONDER_PORT = 8080;
/**
 * Node label the demo's underlay Network selects (a well-known Kubernetes label, set at registration by the kubelet
 * stand-in): nodes in zone {@link UNDERLAY_ZONE} are attached to the underlay network.
 */
export const ZONE_LABEL = LABEL_TOPOLOGY_ZONE;
/** Zone value of the nodes on the underlay L2 segment. */
export const UNDERLAY_ZONE = 'underlay-a';
/** Zone value of the other nodes (overlay only). */
export const OVERLAY_ZONE = 'overlay-only';

/** One node of the sandbox. */
export interface NodePlan {
  /** Kubernetes Node name, e.g. `node-1`. */
  name: string;
  /** Network namespace name. */
  netns: string;
  /** veth port name in the switch namespace (≤ 15 bytes). */
  port: string;
  ipv4: string;
  ipv6: string;
  /** Node labels set at registration. */
  labels: Record<string, string>;
  /** Per-node directory under the state dir (CNI bin + conf, daemon socket, pod state). */
  dir: string;
}

/** The whole plan. */
export interface Topology {
  prefix: string;
  dir: string;
  apiPort: number;
  lan: { v4Cidr: string; v6Cidr: string; v4Prefix: number; v6Prefix: number };
  cp: { netns: string; port: string; ipv4: string; ipv6: string };
  sw: { netns: string; bridge: string };
  gw: {
    netns: string;
    port: string;
    ipv4: string;
    ipv6: string;
    underlayGatewayV4: string;
    underlayCidrV4: string;
    outsideV4: string;
    outsideV6: string;
  };
  nodes: NodePlan[];
}

/** Options of {@link planTopology}. */
export interface TopologyOptions {
  prefix?: string;
  dir?: string;
  nodes?: number;
  apiPort?: number;
  /** How many nodes (the first ones) sit on the underlay segment; default all but the last (min 1). */
  underlayNodes?: number;
}

/** Raised for an option that cannot make a topology. */
export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopologyError';
  }
}

/**
 * Computes the plan. @throws TopologyError when the prefix is not `[a-z0-9-]{1,8}` or the node count is not 1–50.
 */
export function planTopology(opts: TopologyOptions = {}): Topology {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  if (!/^[a-z0-9-]{1,8}$/.test(prefix)) {
    throw new TopologyError(`--prefix ${JSON.stringify(prefix)}: use 1–8 characters of a-z, 0-9 and '-'`);
  }
  const n = opts.nodes ?? DEFAULT_NODES;
  if (!Number.isInteger(n) || n < 1 || n > 50) throw new TopologyError(`--nodes ${n}: use 1 to 50 nodes`);
  const dir = path.resolve(opts.dir ?? DEFAULT_DIR);
  const underlay = opts.underlayNodes ?? Math.max(1, n - 1);
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= n; i++) {
    const name = `node-${i}`;
    nodes.push({
      name,
      netns: `${prefix}${name}`,
      port: `p-${name}`,
      ipv4: `192.168.56.${10 + i}`,
      ipv6: `fd00:56::${10 + i}`,
      labels: { [ZONE_LABEL]: i <= underlay ? UNDERLAY_ZONE : OVERLAY_ZONE },
      dir: path.join(dir, 'nodes', name),
    });
  }
  return {
    prefix,
    dir,
    apiPort: opts.apiPort ?? DEFAULT_API_PORT,
    lan: { v4Cidr: '192.168.56.0/24', v6Cidr: 'fd00:56::/64', v4Prefix: 24, v6Prefix: 64 },
    cp: { netns: `${prefix}cp`, port: 'p-cp', ipv4: '192.168.56.2', ipv6: 'fd00:56::2' },
    sw: { netns: `${prefix}sw`, bridge: 'br0' },
    gw: {
      netns: `${prefix}gw`,
      port: 'p-gw',
      ipv4: '192.168.56.1',
      ipv6: 'fd00:56::1',
      underlayGatewayV4: '192.168.100.1',
      underlayCidrV4: '192.168.100.0/24',
      outsideV4: '203.0.113.10',
      outsideV6: '2001:db8:ff::10',
    },
    nodes,
  };
}

/** Name of the network namespace of a pod sandbox (≤ 255 bytes, carries the prefix so `down` finds it). */
export function podNetnsName(prefix: string, sandboxId: string): string {
  return `${prefix}pod-${sandboxId.slice(0, 16)}`;
}

/** True if `name` is a namespace this sandbox (with `prefix`) may have created. */
export function isOurNetns(prefix: string, name: string): boolean {
  return name.startsWith(prefix);
}
