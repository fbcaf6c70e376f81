/**
 * Datapath test harness (root + netns): a cluster of network namespaces like /work/shared/harness/topo.sh — a switch
 * namespace with bridge `br0` (the underlay gateway 192.168.56.1 / fd00:56::1), an "outside" host behind it
 * (172.30.0.2 / fd00:30::2) and node namespaces (eth0 = 192.168.56.1N / fd00:56::1N). Each node runs a real
 * `hybridnet daemon` process inside its namespace; the API server of the root namespace's loopback is bridged in
 * with socat through a unix socket (no address or route is added to the root namespace). Pods are namespaces; the
 * CNI plugin binary is executed like a runtime does (env + stdin).
 *
 * Everything the harness creates is named with a per-run prefix (`hn<4 random>-`) and removed by {@link Harness.cleanup}
 * — also from a process `exit` handler, so a crashed test run leaves nothing behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CNI_BIN = path.join(REPO, 'dist/cni/hybridnet');

/** Output of a command. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws (look at `code`). */
export function sh(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => resolve({ code: -1, stdout: '', stderr: e.message }));
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await sh(cmd, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `ip netns exec ns cmd...`, throwing on failure. */
export function inNs(ns: string, cmd: string, ...args: string[]): Promise<string> {
  return must('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** `ip -n ns -batch -`. */
export function ipBatchNs(ns: string, lines: string[]): Promise<string> {
  return must('ip', ['-n', ns, '-batch', '-'], lines.join('\n') + '\n');
}

/** One node of the topology. */
export interface TestNode {
  name: string;
  ns: string;
  index: number;
  ip4: string;
  ip6: string;
  dir: string;
  socket: string;
  daemon?: ChildProcess;
  socat?: ChildProcess;
}

/** A pod created by {@link Harness.addPod}. */
export interface TestPod {
  name: string;
  namespace: string;
  ns: string;
  netns: string;
  node: TestNode;
  containerID: string;
  ips: string[];
  result: unknown;
}

const live = new Set<Harness>();
process.on('exit', () => {
  for (const h of live) h.cleanupSync();
});

/** The topology and its processes. */
export class Harness {
  readonly prefix = `hn${randomBytes(2).toString('hex')}-`;
  readonly dir: string;
  readonly sw: string;
  readonly outside: string;
  readonly nodes = new Map<string, TestNode>();
  private readonly namespaces = new Set<string>();
  private readonly children = new Set<ChildProcess>();
  private apiBridge: ChildProcess | undefined;

  constructor(
    readonly apiPort: number,
    readonly kubeconfig: string,
  ) {
    this.dir = path.join('/tmp', `${this.prefix}dp`);
    this.sw = `${this.prefix}sw`;
    this.outside = `${this.prefix}out`;
    mkdirSync(this.dir, { recursive: true });
    live.add(this);
  }

  /** The node added as `name` (`node1`…). @throws Error when there is none. */
  node(name: string): TestNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Creates a namespace with `lo` up (registered for cleanup). */
  async netns(name: string): Promise<string> {
    this.namespaces.add(name);
    await must('ip', ['netns', 'add', name]);
    await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Deletes a namespace now. */
  async delNetns(name: string): Promise<void> {
    await sh('ip', ['netns', 'del', name]);
    this.namespaces.delete(name);
  }

  /** Spawns a long-running child (registered for cleanup), output to `log`. */
  spawn(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
    const out = createWriteStream(log, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills a child by PID and waits for it. */
  async kill(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  }

  /** Switch (bridge + gateway addresses) and outside host. */
  async up(): Promise<void> {
    await this.netns(this.sw);
    await this.netns(this.outside);
    await ipBatchNs(this.sw, [
      'link add br0 type bridge',
      'link set br0 up',
      'addr add 192.168.56.1/24 dev br0',
      'addr add fd00:56::1/64 dev br0 nodad',
      `link add to-out type veth peer name eth0 netns ${this.outside}`,
      'link set to-out up',
      'addr add 172.30.0.1/24 dev to-out',
      'addr add fd00:30::1/64 dev to-out nodad',
    ]);
    await inNs(this.sw, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    await ipBatchNs(this.outside, [
      'link set eth0 up',
      'addr add 172.30.0.2/24 dev eth0',
      'addr add fd00:30::2/64 dev eth0 nodad',
      'route add default via 172.30.0.1',
    ]);
    await must('ip', ['-n', this.outside, '-6', 'route', 'add', 'default', 'via', 'fd00:30::1']);
    // API bridge, root side: unix socket → kube-apiserver on 127.0.0.1
    this.apiBridge = this.spawn(
      'socat',
      [`UNIX-LISTEN:${this.dir}/api.sock,fork,unlink-early`, `TCP:127.0.0.1:${this.apiPort}`],
      `${this.dir}/socat-root.log`,
    );
  }

  /** Adds node `index` (1..9): namespace, veth to the switch, addresses, routes, API bridge. */
  async addNode(index: number): Promise<TestNode> {
    const name = `node${index}`;
    const ns = await this.netns(`${this.prefix}n${index}`);
    const dir = path.join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    await ipBatchNs(this.sw, [
      `link add sw-n${index} type veth peer name eth0 netns ${ns}`,
      `link set sw-n${index} master br0 up`,
    ]);
    const ip4 = `192.168.56.1${index}`;
    const ip6 = `fd00:56::1${index}`;
    await ipBatchNs(ns, [
      'link set eth0 up',
      `addr add ${ip4}/24 dev eth0`,
      `addr add ${ip6}/64 dev eth0 nodad`,
      'route add default via 192.168.56.1',
    ]);
    await must('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', 'fd00:56::1']);
    const node: TestNode = { name, ns, index, ip4, ip6, dir, socket: path.join(dir, 'hybridnet.sock') };
    node.socat = this.spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'socat',
        `TCP-LISTEN:${this.apiPort},bind=127.0.0.1,fork,reuseaddr`,
        `UNIX-CONNECT:${this.dir}/api.sock`,
      ],
      path.join(dir, 'socat.log'),
    );
    this.nodes.set(name, node);
    return node;
  }

  /** Starts the daemon of `node` inside its namespace and waits for its socket. */
  async startDaemon(node: TestNode, extra: string[] = []): Promise<void> {
    rmSync(node.socket, { force: true });
    node.daemon = this.spawn(
      'ip',
      [
        'netns',
        'exec',
        node.ns,
        process.execPath,
        '--import',
        'tsx',
        path.join(REPO, 'bin/hybridnet.mjs'),
        'daemon',
        `--kubeconfig=${this.kubeconfig}`,
        `--node-name=${node.name}`,
        `--bind-socket=${node.socket}`,
        `--state-dir=${node.dir}/state`,
        '--prefer-vxlan-interfaces=eth0',
        '--prefer-vlan-interfaces=eth0',
        '--health-probe-addr=127.0.0.1:11021',
        '--metrics-addr=127.0.0.1:8091',
        '--iptables-check-duration=5s',
        '--ip-instance-wait-timeout=30s',
        '--log-level=info',
        // the ARP/ND gc thresholds are one table per machine, not per namespace: leave the machine's alone
        '--neigh-gc-thresh1=0',
        '--neigh-gc-thresh2=0',
        '--neigh-gc-thresh3=0',
        ...extra,
      ],
      path.join(node.dir, 'daemon.log'),
      { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await sh('ip', ['netns', 'exec', node.ns, 'curl', '-sf', 'http://127.0.0.1:11021/ready']);
      if (r.code === 0 && existsSync(node.socket)) return;
      if (node.daemon.exitCode !== null) throw new Error(`daemon ${node.name} exited: see ${node.dir}/daemon.log`);
      if (Date.now() > deadline) throw new Error(`daemon ${node.name} not ready in 60s: see ${node.dir}/daemon.log`);
      await new Promise((r2) => setTimeout(r2, 200));
    }
  }

  /** Runs the CNI plugin binary like a runtime (env + stdin). */
  cni(
    command: string,
    env: Record<string, string>,
    config: Record<string, unknown> | string,
  ): Promise<ExecResult & { json: unknown }> {
    const input = typeof config === 'string' ? config : JSON.stringify(config);
    return sh(CNI_BIN, [], {
      input,
      env: { PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_PATH: path.dirname(CNI_BIN), ...env },
      timeoutMs: 60_000,
    }).then((r) => {
      let json: unknown;
      try {
        json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
      } catch {
        json = undefined;
      }
      return { ...r, json };
    });
  }

  /** The network configuration for `node`. */
  netconf(node: TestNode, cniVersion = '1.0.0'): Record<string, unknown> {
    return { cniVersion, name: 'hybridnet', type: 'hybridnet', server_socket: node.socket };
  }

  /** Synchronous cleanup (process exit): kill children, delete namespaces. */
  cleanupSync(): void {
    for (const c of this.children) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const ns of this.namespaces) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    this.namespaces.clear();
    live.delete(this);
  }

  /** Stops daemons (SIGTERM), bridges, deletes every namespace of the run. */
  async cleanup(): Promise<void> {
    for (const n of this.nodes.values()) await this.kill(n.daemon);
    for (const c of [...this.children]) await this.kill(c, 'SIGKILL');
    for (const ns of [...this.namespaces]) await this.delNetns(ns);
    live.delete(this);
    if (!process.env.HN_KEEP_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Writes the node's addresses into its Node's `status.addresses` (InternalIP v4 + v6), as a kubelet would: the daemon
 * publishes only the node-local addresses that are among them (SPEC §7.8 step 2).
 */
export async function publishNodeAddresses(
  client: { mergePatch(path: string, body: unknown): Promise<unknown> },
  node: TestNode,
): Promise<void> {
  await client.mergePatch(`/api/v1/nodes/${node.name}/status`, {
    status: {
      addresses: [
        { type: 'InternalIP', address: node.ip4 },
        { type: 'InternalIP', address: node.ip6 },
        { type: 'Hostname', address: node.name },
      ],
    },
  });
}

/** The plain IPv4 or IPv6 address of a pod made by a test. @throws Error when it has none of that family. */
export function ipOf(p: { name: string; ips: string[] }, family: 4 | 6): string {
  const ip = p.ips.find((x) => (family === 6) === x.includes(':'));
  if (!ip) throw new Error(`pod ${p.name} has no IPv${family}`);
  return ip.split('/')[0] ?? '';
}

/**
 * CNI environment of a kubelet-style call for pod `p` of `p.namespace` (default `default`): CNI_ARGS with
 * K8S_POD_NAMESPACE / K8S_POD_NAME and, when `p.uid` is set, K8S_POD_UID.
 */
export function cniEnv(
  p: { containerID: string; netns: string; name: string; namespace?: string; uid?: string },
  ifName = 'eth0',
): Record<string, string> {
  return {
    CNI_CONTAINERID: p.containerID,
    CNI_NETNS: p.netns,
    CNI_IFNAME: ifName,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace ?? 'default'};K8S_POD_NAME=${p.name}${p.uid ? `;K8S_POD_UID=${p.uid}` : ''}`,
  };
}

/** Pings `ip` from namespace `ns`; true when a reply came. */
export async function ping(ns: string, ip: string, extra: string[] = []): Promise<boolean> {
  const r = await sh('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W2', ...extra, ip]);
  return r.code === 0;
}

/**
 * Opens a TCP connection from `fromNs` to `ip:port` in `toNs` and returns the source address the receiver saw
 * (a one-shot Node.js server in the receiver namespace prints `remoteAddress`).
 */
export async function sourceSeenBy(toNs: string, ip: string, fromNs: string, port = 7000): Promise<string> {
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      toNs,
      process.execPath,
      '-e',
      `const s=require('net').createServer(c=>{process.stdout.write(c.remoteAddress+'\\n');c.end();s.close()});s.listen(${port},${JSON.stringify(ip)},()=>process.stdout.write('L\\n'));setTimeout(()=>process.exit(3),15000).unref()`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  server.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => server.once('exit', () => r()));
  const t0 = Date.now();
  while (!out.includes('L\n') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
  // a SYN lost while the path settles (neighbour resolution, a route just announced) costs nc its whole -w: retry
  for (let i = 0; i < 3 && server.exitCode === null && !/\n.+\n/.test(out); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 300));
    await sh('ip', ['netns', 'exec', fromNs, 'nc', '-w2', '-N', ip, String(port)], { input: 'x', timeoutMs: 5000 });
  }
  await exited;
  return out
    .replace('L\n', '')
    .trim()
    .replace(/^::ffff:/, '');
}
