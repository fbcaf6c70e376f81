/**
 * CNI ADD (SPEC §7.3): the pod and its IPInstances, then — under the pod's container and pod locks — the attachment
 * record, the veth pair and pod namespace, the node-table step (through {@link NodeTables}), the checks, and the
 * CNI result. A failed ADD removes what it created (veth pair, record, announced BGP path) before it answers.
 */
import { existsSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { effectiveNetworkMode, type IPInstance, type Network } from '../../api/index.ts';
import { objectKey } from '../../kube/index.ts';
import { hostVethName } from '../../net/index.ts';
import { podNamespaceSetup, writeSysctls } from '../apply/exec.ts';
import { CniRequestError } from '../config.ts';
import { HOST_VETH_MAC } from '../constants.ts';
import { familyOf, forwardInterface, podMtu } from '../plan/network.ts';
import { planPodAdd } from '../plan/pod.ts';
import type { NodeFacts } from '../plan/types.ts';
import type { PodRequest } from '../server.ts';
import { announcePod, checkFromHost, startVlanChecks } from './add-checks.ts';
import type { Attachment } from './attachments.ts';
import { containerKey, podKey, type PodContext } from './context.ts';
import {
  localInstances,
  patchCalicoPodIPs,
  podFamily,
  readPod,
  updateIPInstanceStatus,
  waitInstances,
} from './pod-api.ts';

/**
 * Pod ADD (SPEC §7.3). The container lock covers the whole ADD (also the wait for the IPInstances): a DEL of the
 * same container waits for it instead of succeeding before the ADD wires the pod.
 * @returns the daemon's answer (addresses, host / container interface, MTU) that the plugin turns into the CNI result.
 * @throws CniRequestError with the CNI error code (3 pod gone, 4 netns missing, 11 try again, 100 datapath failed).
 */
export function addPod(ctx: PodContext, req: PodRequest): Promise<unknown> {
  return ctx.locks.run([containerKey(req.containerID)], () => addLocked(ctx, req));
}

async function addLocked(ctx: PodContext, req: PodRequest): Promise<unknown> {
  const who = `${req.podNamespace}/${req.podName}`;
  const t0 = performance.now();
  const ms = (): number => Math.round(performance.now() - t0);
  const phases: Record<string, number> = {};
  if (!req.netns || !existsSync(req.netns))
    throw new CniRequestError(400, 4, `pod ${who}: netns ${JSON.stringify(req.netns)} does not exist`);
  const cached = ctx.cluster.pods.get(`${req.podNamespace}/${req.podName}`);
  let pod = req.podUID && cached && cached.metadata?.uid === req.podUID ? cached : await readPod(ctx, req, who);
  let family = await podFamily(ctx, pod);
  if (pod === cached && localInstances(ctx, req, pod).length < (family === 'DualStack' ? 2 : 1)) {
    // no IPInstance yet: the pod may also be gone with the watch lagging; ask the API server, as without the cache,
    // so that a deleted pod gets its quick "not found" instead of the whole IPInstance wait
    pod = await readPod(ctx, req, who);
    family = await podFamily(ctx, pod);
  }
  const expect = family === 'DualStack' ? 2 : 1;
  const instances = (await waitInstances(ctx, req, pod, expect)).sort((a, b) =>
    a.spec.address.version.localeCompare(b.spec.address.version),
  );
  phases.waitedMs = ms();
  const macs = new Set(instances.map((i) => i.spec.address.mac.toLowerCase()));
  if (macs.size !== 1) throw new CniRequestError(500, 100, `pod ${who}: IPInstances have different MACs`);
  const versions = instances.map((i) => i.spec.address.version);
  if (new Set(versions).size !== versions.length)
    throw new CniRequestError(500, 100, `pod ${who}: more than one IPInstance of one family`);
  const networkName = instances[0]?.spec.network ?? '';
  const network = ctx.cluster.networks.get(networkName);
  if (!network) throw new CniRequestError(500, 100, `pod ${who}: network ${networkName} not found`);
  const mac = [...macs][0] ?? '';
  const hostVeth = hostVethName(req.podNamespace, req.podName);
  // SPEC §7.3 step 3 (before the datapath): runs while the datapath is set up, awaited before the reply
  const calico = patchCalicoPodIPs(ctx, req, instances); // never rejects
  const [result] = await Promise.all([
    ctx.locks.run([podKey(hostVeth)], () =>
      addDatapath(ctx, { req, pod, instances, network, mac, hostVeth, phases, ms }),
    ),
    calico,
  ]);
  ctx.logger.info(
    { pod: who, containerID: req.containerID, network: networkName, ...phases, totalMs: ms() },
    'pod added',
  );
  return result;
}

/** One ADD after its pod and IPInstances are known. */
interface AddJob {
  req: PodRequest;
  pod: V1Pod;
  /** Sorted by IP version (IPv4 first). */
  instances: IPInstance[];
  network: Network;
  mac: string;
  hostVeth: string;
  /** Milliseconds since the ADD began at the end of each phase (logged). */
  phases: Record<string, number>;
  ms: () => number;
}

/** The forward interface of the pod's network, from the cached facts or, when they lack it, the kernel again. */
async function forwardOf(
  ctx: PodContext,
  who: string,
  network: Network,
  netID: number | null | undefined,
): Promise<{ facts: NodeFacts; fwd: string }> {
  let facts = await ctx.node.podFacts();
  let fwd = forwardInterface(network, netID, ctx.cluster.state(), facts);
  if (!fwd || !facts.links.some((l) => l.name === fwd)) {
    // the cached facts may predate the forward interface: read the kernel again before giving up
    facts = await ctx.node.podFacts(true);
    fwd = forwardInterface(network, netID, ctx.cluster.state(), facts);
  }
  if (!fwd || !facts.links.some((l) => l.name === fwd))
    throw new CniRequestError(
      500,
      11,
      `pod ${who}: forward interface ${fwd ?? '(none)'} of network ${network.metadata?.name ?? ''} does not exist yet, waiting for daemon to create it`,
    );
  return { facts, fwd };
}

/** ADD steps 5–11 under the pod's container / pod locks: veth pair, pod namespace, node wiring, checks, status. */
async function addDatapath(ctx: PodContext, job: AddJob): Promise<unknown> {
  const { req, pod, instances, network, mac, hostVeth, phases, ms } = job;
  const who = `${req.podNamespace}/${req.podName}`;
  // the IPInstances may have been released while this ADD waited for its locks: never wire a released address
  for (const ins of instances) {
    const now = ctx.cluster.ipInstances.get(objectKey(ins));
    if (!now || now.metadata?.deletionTimestamp || now.metadata?.uid !== ins.metadata?.uid)
      throw new CniRequestError(
        400,
        11,
        `pod ${who}: IPInstance ${ins.metadata?.namespace}/${ins.metadata?.name} (${ins.spec.address.ip}) was released while the ADD waited; the runtime retries the sandbox`,
      );
  }
  const { facts, fwd } = await forwardOf(ctx, who, network, instances[0]?.spec.address.netID);
  const mtu = podMtu(network, facts);
  // a previous sandbox of the same pod (or a retried ADD) owns the veth name: remove it first
  if (existsSync(`/sys/class/net/${hostVeth}`) || facts.links.some((l) => l.name === hostVeth)) {
    await ctx.runner('ip', ['link', 'del', hostVeth]).catch(() => undefined);
    for (const a of await ctx.store.list()) if (a.hostVeth === hostVeth) await ctx.store.remove(a.containerID);
  }
  const addresses = instances.map((i) => {
    const [ip, len] = i.spec.address.ip.split('/');
    return { family: familyOf(i.spec.address.version), ip: ip ?? '', prefixLength: Number(len) };
  });
  const plan = planPodAdd({
    hostVeth,
    ifName: req.ifName,
    netns: req.netns,
    mac,
    mtu,
    addresses,
    localDirectTable: ctx.config.localDirectTable,
  });
  phases.preparedMs = ms();
  const attachment: Attachment = {
    containerID: req.containerID,
    ifName: req.ifName,
    netns: req.netns,
    hostVeth,
    podNamespace: req.podNamespace,
    podName: req.podName,
    podUID: pod.metadata?.uid ?? '',
    networkName: req.networkName,
    ips: instances.map((i) => i.spec.address.ip),
    createdAt: new Date().toISOString(),
  };
  // recorded before anything is created: a daemon killed from here on leaves a record that DEL and the start-up GC
  // find, never an unrecorded veth
  await ctx.store.put(attachment);
  phases.recordedMs = ms();
  // SPEC §7.3 step 11, started now so that the API round trip overlaps the wiring: when a later step fails, ADD
  // fails and the runtime's retry (a new sandbox) writes the status again
  const status = updateIPInstanceStatus(ctx, req, pod, instances); // never rejects
  const mode = effectiveNetworkMode(network);
  const vlanChecks = startVlanChecks(ctx, who, mode, fwd, instances);
  try {
    await ctx.node.wirePod(instances, network, facts, fwd, [...plan.createVeth, ...plan.hostBatch]);
    phases.nodeWiredMs = ms();
    // before the pod end goes up (host end carrier): IPv6 DAD of the host end is off, proxy ARP answers
    await writeSysctls(plan.hostSysctls);
    await Promise.all([
      podNamespaceSetup(ctx.runner, req.netns, plan.podSysctls, plan.podBatch),
      ctx.node.addLocalPodIPs(instances),
    ]);
    phases.podWiredMs = ms();
    await ctx.node.wireSubnets(instances, facts);
    await ctx.bgp.ready(network, instances, facts);
    const refused = await vlanChecks;
    if (refused.length > 0) throw new CniRequestError(500, 100, `pod ${who}: ${refused.join('; ')}`);
    // a pod that does not answer the node fails the ADD like a wiring error: nothing of it stays behind
    phases.datapathMs = ms();
    await announcePod(ctx, who, mode, fwd, addresses);
    await Promise.resolve(
      ctx.config.checkPodConnectivityFromHost ? checkFromHost(ctx, who, addresses, facts) : undefined,
    ).finally(() => {
      phases.checkedMs = ms();
    });
  } catch (err) {
    await status;
    // a BGP pod may have been announced already (ADD readiness announces before it checks the peers)
    await ctx.bgp.withdraw(instances.map((i) => i.spec.address.ip));
    await ctx.runner('ip', ['link', 'del', hostVeth]).catch(() => undefined);
    await ctx.runner('nsenter', [`--net=${req.netns}`, '--', 'ip', 'link', 'del', req.ifName]).catch(() => undefined);
    await ctx.store.remove(req.containerID);
    if (err instanceof CniRequestError) throw err;
    throw new CniRequestError(
      500,
      100,
      `pod ${who}: datapath setup failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  await status;
  phases.statusMs = ms();
  return {
    address: instances.map((i) => ({
      ip: i.spec.address.ip,
      mac: i.spec.address.mac,
      gateway: i.spec.address.gateway ?? '',
      protocol: i.spec.address.version,
    })),
    host_interface: hostVeth,
    host_mac: HOST_VETH_MAC,
    container_interface: req.ifName,
    mtu,
    error: '',
  };
}
