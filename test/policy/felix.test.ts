/**
 * Kubernetes NetworkPolicy enforced by stock Calico Felix (root + netns (real)), the first slice of issue #14: a test
 * cluster of two nodes (real kube-apiserver, manager, a `hybridnet daemon` per node namespace), the Calico CRDs and
 * `ClusterInformation default {datastoreReady: true}`, and one stock `calico-felix` v3.31.0 (tools/felix: its one
 * patch only keeps the CGO_ENABLED=0 build from panicking) running INSIDE each node's network namespace in the
 * policy-only role of SPEC §9: interface prefix `hybr` (the daemon's host veths), route sync off, the daemon's iptables
 * backend. Nothing runs in or changes the machine's own network namespace.
 *
 * Every verdict is real traffic: a TCP connection from inside a client pod's namespace to a server pod, which answers
 * with its name. Servers (namespace `netpol`, node2): `web` (overlay) and `db` (underlay). Clients (namespace
 * `default`): `fe` (overlay, node1, role=frontend), `plain` (overlay, node1, no label), `ul-fe` (underlay, node1,
 * role=frontend), `local` (overlay, node2 — the servers' node — role=frontend).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ANNOTATION_IP_FAMILY, ANNOTATION_NETWORK_TYPE } from '../../src/api/index.ts';
import type { KubeClient } from '../../src/kube/index.ts';
import { hostVethName } from '../../src/net/index.ts';
import { eventually, installCrds, type KubeFixture } from '../fixture/kube.ts';
import { addPod, overlayAndUnderlay } from '../datapath/cluster-fixture.ts';
import { inNs, ipOf, must, REPO, sh, type Harness, type TestNode, type TestPod } from '../datapath/harness.ts';
import { useTestCluster } from '../datapath/use-cluster.ts';

/** `${HYBRIDNET_CACHE:-/var/cache/hybridnet}/felix-v3.31.0`, from the build script itself (one place for the pin). */
const FELIX_DIR = execFileSync('bash', [path.join(REPO, 'tools/felix/build.sh'), '--print-dir'], {
  encoding: 'utf8',
}).trim();
const FELIX_BIN = path.join(FELIX_DIR, 'bin/calico-felix');
if (!existsSync(FELIX_BIN))
  throw new Error(
    `calico-felix is missing at ${FELIX_BIN}: scripts/setup.sh builds it (bash tools/felix/build.sh) before the tests`,
  );

const SERVER_NS = 'netpol';
const PORT = 8080;
const NETPOL_PATH = `/apis/networking.k8s.io/v1/namespaces/${SERVER_NS}/networkpolicies`;

let c: KubeClient;
let h: Harness;
let kube: KubeFixture;
const pods = new Map<string, TestPod>();
const felixes = new Map<string, ChildProcess>();
let iptablesBackend = '';

const SERVERS = ['web', 'db'];
const CLIENTS = ['fe', 'plain', 'ul-fe', 'local'];

function pod(name: string): TestPod {
  const p = pods.get(name);
  if (!p) throw new Error(`no pod ${name}`);
  return p;
}

/** The policy-only environment of SPEC §9 (tools/felix/README.md) for felix on `node`. */
function felixEnv(node: TestNode): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    // the daemon's kubeconfig: its 127.0.0.1:<port> is the node namespace's socat bridge to the API server
    KUBECONFIG: h.kubeconfig,
    FELIX_DATASTORETYPE: 'kubernetes',
    FELIX_FELIXHOSTNAME: node.name,
    FELIX_INTERFACEPREFIX: 'hybr',
    FELIX_ROUTESYNCDISABLED: 'true',
    FELIX_IPV6SUPPORT: 'false',
    FELIX_BPFENABLED: 'false',
    FELIX_XDPENABLED: 'false',
    FELIX_IPIPENABLED: 'false',
    FELIX_VXLANENABLED: 'false',
    FELIX_WIREGUARDENABLED: 'false',
    FELIX_DEFAULTENDPOINTTOHOSTACTION: 'ACCEPT',
    FELIX_IPTABLESMANGLEALLOWACTION: 'RETURN',
    FELIX_IPTABLESBACKEND: iptablesBackend,
    FELIX_HEALTHENABLED: 'true',
    FELIX_USAGEREPORTINGENABLED: 'false',
    FELIX_LOGSEVERITYSCREEN: 'info',
    FELIX_LOGFILEPATH: 'none',
    FELIX_LOGSEVERITYSYS: 'none',
    // endpoint status files under the test dir, not /var/run/calico of the machine
    FELIX_ENDPOINTSTATUSPATHPREFIX: path.join(node.dir, 'felix-status'),
    USE_POD_CIDR: 'true',
  };
}

/**
 * Starts felix inside `node`'s network namespace (output appended to `<node dir>/felix.log`) and waits until its
 * health endpoint says ready. `ip netns exec` execs, and so does `sh -c 'exec …'`: the child's PID is felix's. Felix
 * writes /var/lib/calico/mtu whatever its configuration: a tmpfs on /var/lib in the private mount namespace `ip netns
 * exec` makes keeps it off the machine's disk.
 * @returns milliseconds until ready.
 */
async function startFelix(node: TestNode): Promise<number> {
  const t0 = Date.now();
  const log = path.join(node.dir, 'felix.log');
  mkdirSync(path.join(node.dir, 'felix-status'), { recursive: true });
  const child = h.spawn(
    'ip',
    ['netns', 'exec', node.ns, 'sh', '-c', 'mount -t tmpfs hn-felix /var/lib && exec "$0"', FELIX_BIN],
    log,
    felixEnv(node),
  );
  felixes.set(node.name, child);
  await eventually(
    `felix on ${node.name} ready (see ${log})`,
    async () => {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`felix on ${node.name} exited (${child.exitCode ?? child.signalCode}): see ${log}`);
      const r = await sh('ip', ['netns', 'exec', node.ns, 'curl', '-sf', '-m2', 'http://localhost:9099/readiness']);
      return r.code === 0;
    },
    90_000,
    500,
  );
  // the PID this file kills is felix's own
  expect(readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim()).toBe('calico-felix');
  return Date.now() - t0;
}

/** SIGKILL of the felix this file started on `node`, by its PID; waits for it to be gone. */
async function killFelix(node: string): Promise<void> {
  const child = felixes.get(node);
  felixes.delete(node);
  if (child) await h.kill(child, 'SIGKILL');
}

/** The `cali-` lines of `iptables-save` inside `ns`. */
async function caliRules(ns: string): Promise<string[]> {
  return (await inNs(ns, 'iptables-save')).split('\n').filter((l) => l.includes('cali-'));
}

/** The IPv4 routes of every table in `node`'s namespace. */
async function routes(node: TestNode): Promise<string> {
  return must('ip', ['-n', node.ns, '-4', 'route', 'show', 'table', 'all']);
}

/** One TCP connection from `from`'s namespace to `to`:8080; true when `to` answered with its name. */
async function reaches(from: TestPod, to: TestPod): Promise<boolean> {
  const r = await sh('ip', ['netns', 'exec', from.ns, 'nc', '-w1', '-N', ipOf(to, 4), String(PORT)], {
    timeoutMs: 5000,
  });
  return r.stdout.trim() === to.name;
}

type Table = Record<string, boolean>;

/** Every client → every server, concurrently. */
async function probeTable(): Promise<Table> {
  const cells = CLIENTS.flatMap((cl) => SERVERS.map((sv) => [cl, sv] as const));
  const got = await Promise.all(cells.map(([cl, sv]) => reaches(pod(cl), pod(sv))));
  return Object.fromEntries(cells.map(([cl, sv], i) => [`${cl} → ${sv}`, got[i] ?? false]));
}

/** The expected table: `allowed(client)` for both servers. */
function expected(allowed: (client: string) => boolean): Table {
  return Object.fromEntries(CLIENTS.flatMap((cl) => SERVERS.map((sv) => [`${cl} → ${sv}`, allowed(cl)])));
}

function show(t: Table): string {
  return Object.entries(t)
    .map(([k, v]) => `  ${k}: ${v ? 'allowed' : 'denied'}`)
    .join('\n');
}

/**
 * Probes until the table equals `want` (up to `timeoutMs`); returns the milliseconds it took. On timeout, fails
 * naming the step and showing both tables.
 */
async function untilTable(step: string, want: Table, timeoutMs = 30_000): Promise<number> {
  const t0 = Date.now();
  let got: Table = {};
  for (;;) {
    got = await probeTable();
    if (JSON.stringify(got) === JSON.stringify(want)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect.fail(`${step}: not as expected after ${timeoutMs} ms\nexpected:\n${show(want)}\ngot:\n${show(got)}`);
}

const allAllowed = expected(() => true);
const allDenied = expected(() => false);
const frontendOnly = expected((cl) => cl !== 'plain');

async function createPolicy(name: string, spec: object): Promise<number> {
  await c.create(NETPOL_PATH, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name }, spec });
  return Date.now();
}

useTestCluster(
  {
    nodes: [1, 2],
    ...overlayAndUnderlay({ label: 'hybridnet-test/underlay', overlay4: '10.210.0.0/16', end4: 200 }),
    managerArgs: ['--identity=felix-manager', '--metrics-port=0', '--leader-elect-lease-duration=4'],
    waitNetwork: 'underlay',
    waitNodeInfos: true,
    // first in the teardown, also after a failed start: felix by the PIDs this file started
    beforeStop: async () => {
      for (const n of [...felixes.keys()]) await killFelix(n);
    },
  },
  async (t) => {
    ({ c, h, kube } = t);
    // the backend of the `iptables` the daemon runs (Debian's alternatives: nft or legacy)
    iptablesBackend = /nf_tables/.test(await must('iptables', ['--version'])) ? 'nft' : 'legacy';
    const crds = await installCrds(kube.kubeConfig, path.join(FELIX_DIR, 'crds'));
    expect(crds).toBeGreaterThanOrEqual(8);
    await c.create('/apis/crd.projectcalico.org/v1/clusterinformations', {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'ClusterInformation',
      metadata: { name: 'default' },
      spec: { datastoreReady: true },
    });
    await c.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SERVER_NS } });
    await c.create(`/api/v1/namespaces/${SERVER_NS}/serviceaccounts`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default' },
    });
    const [n1, n2] = [h.node('node1'), h.node('node2')];
    const specs: [TestNode, string, 'Overlay' | 'Underlay', string, Record<string, string>][] = [
      [n2, 'web', 'Overlay', SERVER_NS, { app: 'web' }],
      [n2, 'db', 'Underlay', SERVER_NS, { app: 'db' }],
      [n1, 'fe', 'Overlay', 'default', { role: 'frontend' }],
      [n1, 'plain', 'Overlay', 'default', {}],
      [n1, 'ul-fe', 'Underlay', 'default', { role: 'frontend' }],
      [n2, 'local', 'Overlay', 'default', { role: 'frontend' }],
    ];
    for (const [node, name, type, namespace, labels] of specs) {
      const r = await addPod(t, node, name, {
        namespace,
        labels,
        annotations: { [ANNOTATION_NETWORK_TYPE]: type, [ANNOTATION_IP_FAMILY]: 'IPv4' },
      });
      if (r.code !== 0) throw new Error(`ADD ${namespace}/${name} on ${node.name}: ${r.out}`);
      pods.set(name, r.pod);
    }
    for (const name of SERVERS) {
      const p = pod(name);
      const js = `require('net').createServer((c)=>c.end(${JSON.stringify(name)}+'\\n')).listen(${PORT})`;
      h.spawn('ip', ['netns', 'exec', p.ns, process.execPath, '-e', js], path.join(h.dir, `server-${name}.log`));
    }
    // the servers listen and every path works before felix is there
    await untilTable('without felix', allAllowed);
  },
);

describe('NetworkPolicy through stock Calico Felix v3.31.0 (root + netns (real))', () => {
  it('felix starts inside each node namespace and becomes ready; no policy: every client reaches every server', async () => {
    const routesBefore = await routes(h.node('node2'));
    for (const n of [h.node('node1'), h.node('node2')]) {
      const ms = await startFelix(n);
      console.log(`[felix] ${n.name}: ready in ${ms} ms (iptables backend ${iptablesBackend})`);
    }
    // felix programs the servers' host veths (its workload endpoints, named like the daemon's) on their node only
    const chains = SERVERS.map((name) => `cali-tw-${hostVethName(SERVER_NS, name)}`);
    await eventually('felix chains of the servers’ host veths in node2', async () => {
      const rules = (await caliRules(h.node('node2').ns)).join('\n');
      return chains.every((ch) => rules.includes(ch));
    });
    const node1Rules = (await caliRules(h.node('node1').ns)).join('\n');
    for (const ch of chains) expect(node1Rules).not.toContain(ch);
    // and leaves the daemon's routes alone (FELIX_ROUTESYNCDISABLED)
    expect(await routes(h.node('node2'))).toBe(routesBefore);
    await untilTable('felix running, no policy', allAllowed);
  });

  it('a default-deny ingress policy in the servers’ namespace denies every client', async () => {
    const t0 = await createPolicy('default-deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
    const ms = await untilTable('default-deny-ingress', allDenied);
    console.log(`[felix] default-deny-ingress enforced ${Date.now() - t0} ms after create (table polled ${ms} ms)`);
  });

  it('an allow rule by pod label: the labelled clients (overlay, underlay, same node) reach the servers, the unlabelled one does not', async () => {
    const t0 = await createPolicy('allow-frontend', {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'frontend' } } }],
          ports: [{ protocol: 'TCP', port: PORT }],
        },
      ],
    });
    await untilTable('allow-frontend', frontendOnly);
    console.log(`[felix] allow-frontend enforced ${Date.now() - t0} ms after create`);
  });

  it('felix killed (-9) on the servers’ node: its chains remain and keep enforcing; restarted, it converges; policies deleted: allowed again', async () => {
    const n2 = h.node('node2');
    const before = await caliRules(n2.ns);
    await killFelix('node2');
    const after = await caliRules(n2.ns);
    expect(after.length, 'cali- rules in node2 after kill -9').toBe(before.length);
    for (const name of SERVERS) expect(after.join('\n')).toContain(`cali-tw-${hostVethName(SERVER_NS, name)}`);
    // still enforced without felix, now and a few seconds later (the daemon refreshes its own chains meanwhile)
    await untilTable('felix killed', frontendOnly, 5000);
    await new Promise((r) => setTimeout(r, 6000));
    await untilTable('felix killed, 6 s later', frontendOnly, 5000);

    const ms = await startFelix(n2);
    console.log(`[felix] node2 restarted: ready in ${ms} ms`);
    await untilTable('after the restart', frontendOnly);

    const t0 = Date.now();
    for (const name of ['allow-frontend', 'default-deny-ingress']) await c.delete(`${NETPOL_PATH}/${name}`);
    await untilTable('policies deleted', allAllowed);
    console.log(`[felix] policies deleted: every client allowed again ${Date.now() - t0} ms after the delete`);
  });
});
