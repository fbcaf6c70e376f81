/**
 * One bring-up of a test cluster for the datapath, BGP, break tests and the CNI bench (root + netns (real)): a real
 * kube-apiserver + etcd ({@link startKube}), the {@link Harness} topology (switch, outside host, node namespaces), the
 * Node objects, Networks and Subnets, a real `hybridnet manager` process and a real `hybridnet daemon` per node — and
 * the matching teardown. What differs between the files is an option of {@link startTestCluster}; {@link addPod} and
 * {@link preparePod} are the pod side (Pod object, pod namespace, CNI ADD like a kubelet-driven runtime).
 *
 * No vitest import here: bench/cni uses it outside a test runner. Callers assert on what the helpers return.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { V1Pod } from '@kubernetes/client-node';
import { IPInstanceResource, NodeInfoResource, type IPInstance } from '../../src/api/index.ts';
import { resourcePath, type KubeClient } from '../../src/kube/index.ts';
import { buildCni } from '../../tools/build-cni.ts';
import { eventually, startKube, type KubeFixture } from '../fixture/kube.ts';
import {
  clientOf,
  createNode,
  createPod,
  killChild,
  overlayNetwork,
  paths,
  spawnManager,
  subnet,
  underlayNetwork,
} from '../manager/helpers.ts';
import { cniEnv, Harness, publishNodeAddresses, type TestNode, type TestPod } from './harness.ts';

/** What differs between the test clusters; every field is optional except the manager's arguments. */
export interface TestClusterOptions {
  /** Build the CNI plugin (`tools/build-cni.ts`) first; default true. */
  buildCni?: boolean;
  /** Node indexes (1..9) to add as `node<i>`; default `[1]`. */
  nodes?: number[];
  /** Labels of every Node object (besides `kubernetes.io/hostname`); default none. */
  nodeLabels?: Record<string, string>;
  /** Write each node's addresses into its Node's status like a kubelet ({@link publishNodeAddresses}); default true. */
  publishAddresses?: boolean;
  /** Runs after the switch and outside host are up, before any node is added (switch addresses, a ToR speaker). */
  beforeNodes?: (h: Harness) => Promise<void>;
  /** Network objects to create (before the subnets), in order. */
  networks?: object[];
  /** Subnet objects to create, in order. */
  subnets?: object[];
  /** Arguments of `hybridnet manager` after `--kubeconfig` (e.g. `--identity=…`); its log is `<h.dir>/manager.log`. */
  managerArgs: string[];
  /** Extra environment of the manager process. */
  managerEnv?: NodeJS.ProcessEnv;
  /** Wait (up to 60 s) until the manager has put every node into this Network's `status.nodeList`. */
  waitNetwork?: string;
  /** How the daemons start: all at once, one after another, or not at all (the test starts them); default parallel. */
  daemons?: 'parallel' | 'sequential' | 'none';
  /** Extra daemon flags ({@link Harness.startDaemon}). */
  daemonFlags?: string[];
  /** Wait until there is one NodeInfo per node (after the daemons started); default false. */
  waitNodeInfos?: boolean;
  /**
   * Runs first in the teardown, also after a failed start (the harness directory still exists): for processes the
   * harness does not own (a daemonized BIRD, containerd's tasks). An error here is logged and the teardown goes on.
   */
  beforeStop?: () => Promise<void>;
}

/** A running test cluster; {@link TestCluster.stop} tears it down. */
export interface TestCluster {
  kube: KubeFixture;
  c: KubeClient;
  h: Harness;
  /** The nodes in the order of {@link TestClusterOptions.nodes}. */
  nodes: TestNode[];
  manager: ChildProcess;
  /**
   * Runs {@link TestClusterOptions.beforeStop}, kills the manager (SIGKILL), stops the daemons and removes every
   * namespace ({@link Harness.cleanup}), closes the client and stops kube. A second call does nothing.
   */
  stop(): Promise<void>;
}

/**
 * Brings a test cluster up: buildCni → kube-apiserver → client → harness → the default ServiceAccount (no
 * controller-manager: the admission plugin wants it) → switch → [beforeNodes] → Node object + node namespace (+
 * addresses) per node → Networks → Subnets → manager → [wait for the network's nodeList] → daemons → [NodeInfos].
 * @throws Error of the step that failed, after tearing down what had been started.
 */
export async function startTestCluster(o: TestClusterOptions): Promise<TestCluster> {
  let kube: KubeFixture | undefined;
  let c: KubeClient | undefined;
  let h: Harness | undefined;
  let manager: ChildProcess | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await o.beforeStop?.().catch((e: unknown) => console.error('test cluster: beforeStop failed:', e));
    if (manager) await killChild(manager, 'SIGKILL');
    await h?.cleanup();
    c?.close();
    await kube?.stop();
  };
  try {
    if (o.buildCni ?? true) await buildCni();
    kube = await startKube();
    const client = (c = await clientOf(kube));
    const harness = (h = new Harness(Number(new URL(kube.server).port), kube.kubeconfigPath));
    await client.create('/api/v1/namespaces/default/serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default' },
    });
    await harness.up();
    await o.beforeNodes?.(harness);
    const nodes: TestNode[] = [];
    for (const i of o.nodes ?? [1]) {
      await createNode(client, `node${i}`, o.nodeLabels ?? {});
      const n = await harness.addNode(i);
      if (o.publishAddresses ?? true) await publishNodeAddresses(client, n);
      nodes.push(n);
    }
    for (const nw of o.networks ?? []) await client.create(paths.network(), nw);
    for (const sn of o.subnets ?? []) await client.create(paths.subnet(), sn);
    manager = spawnManager(kube, o.managerArgs, path.join(harness.dir, 'manager.log'), o.managerEnv);
    const network = o.waitNetwork;
    if (network)
      await eventually(
        `manager put all ${nodes.length} nodes into network ${network}`,
        async () => {
          const nw = await client.get<{ status?: { nodeList?: string[] } }>(paths.network(network));
          return (nw.status?.nodeList ?? []).length === nodes.length;
        },
        60_000,
      );
    const flags = o.daemonFlags ?? [];
    if ((o.daemons ?? 'parallel') === 'parallel') await Promise.all(nodes.map((n) => harness.startDaemon(n, flags)));
    else if (o.daemons === 'sequential') for (const n of nodes) await harness.startDaemon(n, flags);
    if (o.waitNodeInfos)
      await eventually(`${nodes.length} NodeInfos`, async () => {
        const l = await client.get<{ items: unknown[] }>(resourcePath(NodeInfoResource));
        return l.items.length === nodes.length;
      });
    return { kube, c: client, h: harness, nodes, manager, stop };
  } catch (err) {
    await stop().catch((e: unknown) => console.error('test cluster teardown after a failed start failed:', e));
    throw err;
  }
}

/**
 * Subnets of Network `network` in the switch's own segment (192.168.56.0/24 and fd00:56::/64, gateway the switch's
 * br0 192.168.56.1 / fd00:56::1; pools from .100 / ::100 so that the node addresses .1N / ::1N stay out):
 * `<name>-v4` up to 192.168.56.`end4` and, unless `v6` is false, `<name>-v6` up to fd00:56::1ff.
 */
export function switchSubnets(network: string, o: { name?: string; end4: number; v6?: boolean }): object[] {
  const name = o.name ?? network;
  return [
    subnet(`${name}-v4`, network, '4', '192.168.56.0/24', {
      gateway: '192.168.56.1',
      start: '192.168.56.100',
      end: `192.168.56.${o.end4}`,
    }),
    ...((o.v6 ?? true)
      ? [
          subnet(`${name}-v6`, network, '6', 'fd00:56::/64', {
            gateway: 'fd00:56::1',
            start: 'fd00:56::100',
            end: 'fd00:56::1ff',
          }),
        ]
      : []),
  ];
}

/**
 * The networks of most datapath test clusters: Overlay `overlay` (VNI 4) with subnet `overlay-v4` = `overlay4` (and
 * `overlay-v6` = `overlay6` when given) on every node, and Underlay `underlay` (VLAN, netID 0) on the nodes labelled
 * `label: "true"` — every node, through `nodeLabels` — with the switch subnets ({@link switchSubnets}) up to
 * 192.168.56.`end4`, IPv6 too when `overlay6` is given. Spread into {@link TestClusterOptions}.
 */
export function overlayAndUnderlay(o: {
  label: string;
  overlay4: string;
  overlay6?: string;
  end4: number;
}): Required<Pick<TestClusterOptions, 'nodeLabels' | 'networks' | 'subnets'>> {
  return {
    nodeLabels: { [o.label]: 'true' },
    networks: [overlayNetwork('overlay', 4), underlayNetwork('underlay', { [o.label]: 'true' })],
    subnets: [
      subnet('overlay-v4', 'overlay', '4', o.overlay4),
      ...(o.overlay6 ? [subnet('overlay-v6', 'overlay', '6', o.overlay6)] : []),
      ...switchSubnets('underlay', { end4: o.end4, v6: o.overlay6 !== undefined }),
    ],
  };
}

/** What a pod helper needs of the cluster. */
export type PodCluster = Pick<TestCluster, 'c' | 'h'>;

/** Options of {@link preparePod} / {@link addPod}. */
export interface PodOptions {
  /** Pod annotations (network type, IP family, subnet…). */
  annotations: Record<string, string>;
  /** Pod labels (what a NetworkPolicy selects); default none. */
  labels?: Record<string, string>;
  /** Kubernetes namespace of the Pod; default `default`. */
  namespace?: string;
  /** false: the Pod is created unscheduled (no `spec.nodeName`); default true. */
  scheduled?: boolean;
  /** CNI_IFNAME; default `eth0`. */
  ifName?: string;
}

/** A pod sandbox: the Pod object's UID and the kubelet-style CNI environment (with K8S_POD_UID) besides the pod. */
export interface PreparedPod extends TestPod {
  uid: string;
  env: Record<string, string>;
}

function sandbox(h: Harness, node: TestNode, obj: V1Pod, name: string, ns: string, o: PodOptions): PreparedPod {
  const namespace = o.namespace ?? 'default';
  const p = {
    name,
    namespace,
    ns,
    netns: `/var/run/netns/${ns}`,
    node,
    containerID: `ctr${randomBytes(6).toString('hex')}`,
    ips: [],
    result: undefined,
    uid: obj.metadata?.uid ?? '',
  };
  return { ...p, env: cniEnv(p, o.ifName) };
}

/** Creates the Pod object on `node` (unless unscheduled) and its pod namespace `<prefix>p-<name>`; no CNI call. */
export async function preparePod(t: PodCluster, node: TestNode, name: string, o: PodOptions): Promise<PreparedPod> {
  const obj = await createPod(t.c, o.namespace ?? 'default', name, {
    ...((o.scheduled ?? true) ? { nodeName: node.name } : {}),
    annotations: o.annotations,
    labels: o.labels,
  });
  return sandbox(t.h, node, obj, name, await t.h.netns(`${t.h.prefix}p-${name}`), o);
}

/** What {@link addPod} returns: the CNI ADD's exit code, output and result, and the pod (ips set on success). */
export interface AddedPod {
  code: number;
  /** stdout + stderr of the plugin. */
  out: string;
  json: unknown;
  pod: PreparedPod;
  /** Plain IPs of the pod's IPInstances when {@link AddPodOptions.waitInstances} was given, else []. */
  instanceIPs: string[];
  /** Milliseconds of the CNI ADD call alone. */
  addMs: number;
}

/** Options of {@link addPod}. */
export interface AddPodOptions extends PodOptions {
  /** Wait until the Pod has at least this many IPInstances (bound by `spec.binding.podName`) before the ADD. */
  waitInstances?: number;
  /** Runs after the IPInstances are there, before the pod namespace and the ADD (gets their plain IPs). */
  beforeAdd?: (ips: string[]) => Promise<void>;
}

/**
 * Creates the Pod object on `node`, [waits for its IPInstances, runs `beforeAdd`], creates the pod namespace and runs
 * CNI ADD of the plugin binary on `node` with a kubelet-style environment (K8S_POD_NAMESPACE/NAME/UID). Never throws
 * on a failed ADD: look at `code`. On success `pod.ips` are the CIDR addresses of the result and `pod.result` its JSON.
 */
export async function addPod(t: PodCluster, node: TestNode, name: string, o: AddPodOptions): Promise<AddedPod> {
  const namespace = o.namespace ?? 'default';
  const obj = await createPod(t.c, namespace, name, {
    nodeName: node.name,
    annotations: o.annotations,
    labels: o.labels,
  });
  let instanceIPs: string[] = [];
  const want = o.waitInstances;
  if (want !== undefined)
    await eventually(`IPInstances of ${name}`, async () => {
      const l = await t.c.get<{ items: IPInstance[] }>(resourcePath(IPInstanceResource, namespace));
      instanceIPs = l.items
        .filter((i) => i.spec.binding?.podName === name)
        .map((i) => i.spec.address.ip.split('/')[0] ?? '');
      return instanceIPs.length >= want;
    });
  await o.beforeAdd?.(instanceIPs);
  const pod = sandbox(t.h, node, obj, name, await t.h.netns(`${t.h.prefix}p-${name}`), o);
  const t0 = Date.now();
  const r = await t.h.cni('ADD', pod.env, t.h.netconf(node));
  const addMs = Date.now() - t0;
  if (r.code === 0) {
    pod.ips = (r.json as { ips: { address: string }[] }).ips.map((i) => i.address);
    pod.result = r.json;
  }
  return { code: r.code, out: r.stdout + r.stderr, json: r.json, pod, instanceIPs, addMs };
}
