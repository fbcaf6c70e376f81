/**
 * Node set-up: on every node namespace, the CNI plugin + conflist installed as the daemon set's `install-cni` init
 * container does (SPEC §1 table, §6.1) but into a per-node directory under the state dir, the `hybridnet daemon`
 * (inside the node namespace, reaching the API server over the LAN) and the kubelet stand-in.
 */
import { mkdir } from 'node:fs/promises';
import { installCni as installCniFiles } from '../cni/install.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cniPluginBundle, hybridnetArgv, REFERENCE_PLUGIN_DIR, repoRoot } from './binaries.ts';
import { COMPONENT_ENV, type NodeIdentity } from './controlplane.ts';
import { run, startDetached, type Started } from './exec.ts';
import type { NodePlan, Topology } from './topology.ts';

/** Community plugins copied next to hybridnet (chart `NEEDED_COMMUNITY_CNI_PLUGINS`: loopback,bandwidth). */
export const COMMUNITY_PLUGINS = ['loopback', 'bandwidth'];
/** Conflist file name (chart default `CNI_CONF_NAME`). */
export const CONFLIST_NAME = '06-hybridnet.conflist';

/** Per-node file locations. */
export function nodePaths(n: NodePlan): {
  bin: string;
  netd: string;
  socket: string;
  daemonState: string;
  pods: string;
} {
  return {
    bin: path.join(n.dir, 'bin'),
    netd: path.join(n.dir, 'net.d'),
    socket: path.join(n.dir, 'hybridnet.sock'),
    daemonState: path.join(n.dir, 'daemon-state'),
    pods: path.join(n.dir, 'pods'),
  };
}

/** Builds the CNI plugin bundle into `<dir>/cni/hybridnet` (esbuild via tools/build-cni.ts). */
export async function buildCniPlugin(dir: string): Promise<string> {
  const out = path.join(dir, 'cni', 'hybridnet');
  const tool = path.join(repoRoot(), 'tools', 'build-cni.ts');
  if (existsSync(tool)) {
    await run([process.execPath, '--import', 'tsx', tool, out], { timeoutMs: 120_000 });
    return out;
  }
  if (existsSync(cniPluginBundle())) return cniPluginBundle();
  throw new Error('the hybridnet CNI plugin is missing: neither tools/build-cni.ts nor dist/cni/hybridnet exists');
}

/**
 * Installs plugin binaries and the conflist for one node with `hybridnet install-cni`'s own code (the daemon set's
 * init container), into the node dir instead of /opt/cni/bin and /etc/cni/net.d.
 */
export async function installCni(n: NodePlan, plugin: string): Promise<void> {
  const p = nodePaths(n);
  await Promise.all([p.bin, p.netd, p.pods, p.daemonState].map((d) => mkdir(d, { recursive: true })));
  installCniFiles({
    binDir: p.bin,
    confDir: p.netd,
    socket: p.socket,
    plugin,
    communityDir: REFERENCE_PLUGIN_DIR,
    plugins: COMMUNITY_PLUGINS.join(','),
    confName: CONFLIST_NAME,
    cniVersion: '0.3.1',
  });
}

/** Starts `hybridnet daemon` inside the node namespace. */
export async function startDaemon(t: Topology, n: NodePlan, id: NodeIdentity): Promise<Started> {
  const p = nodePaths(n);
  return startDetached(
    t.dir,
    `daemon-${n.name}`,
    [
      ...hybridnetArgv(),
      'daemon',
      `--kubeconfig=${id.daemonKubeconfig}`,
      `--node-name=${n.name}`,
      `--bind-socket=${p.socket}`,
      `--state-dir=${p.daemonState}`,
      '--prefer-vlan-interfaces=eth0',
      '--prefer-vxlan-interfaces=eth0',
    ],
    { netns: n.netns, env: { ...process.env, ...COMPONENT_ENV, KUBE_NODE_NAME: n.name } },
  );
}

/** Starts the kubelet stand-in of one node inside the node namespace. */
export async function startStandin(t: Topology, n: NodePlan, id: NodeIdentity): Promise<Started> {
  return startDetached(
    t.dir,
    `kubelet-standin-${n.name}`,
    [
      ...hybridnetArgv(),
      'sandbox',
      'kubelet-standin',
      `--node=${n.name}`,
      `--node-ip=${n.ipv4},${n.ipv6}`,
      `--labels=${Object.entries(n.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
      `--kubeconfig=${id.kubeletKubeconfig}`,
      `--node-dir=${n.dir}`,
      `--prefix=${t.prefix}`,
    ],
    { netns: n.netns },
  );
}

/** Starts the "outside" host's responder in the gw namespace (answers on every gw address, port 8080). */
export async function startOutsideResponder(t: Topology): Promise<Started> {
  const { RESPONDER_ARGV } = await import('./kubelet-standin.ts');
  return startDetached(t.dir, 'outside-responder', [...RESPONDER_ARGV], {
    netns: t.gw.netns,
    env: { ...process.env, POD_NAME: `outside(${t.dir})` },
  });
}
