/**
 * The sandbox control plane, all real processes inside the cp namespace: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, `hybridnet webhook` (registered with generated certificates) and
 * `hybridnet manager`; CRDs from deploy/crds. Plus the loopback proxy that lets the person in the root namespace
 * reach the API server: `socat` listening on 127.0.0.1:<apiPort> in the root namespace → unix socket in the state
 * dir → `socat` in the cp namespace → 127.0.0.1:6443 there. No address, route or link is added to the root namespace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  ApiException,
  KubeConfig,
  loadAllYaml,
  type V1CustomResourceDefinition,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { writeDevCertificates } from '../webhook/certs.ts';
import { buildWebhookConfigurations } from '../webhook/configurations.ts';
import { hybridnetArgv, kubeBinDir, repoRoot } from './binaries.ts';
import { alive, execIn, run, sleep, startDetached, tailOf, type Started } from './exec.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { Pki, type CertFiles } from './pki.ts';
import type { Progress } from './progress.ts';
import { APISERVER_PORT, WEBHOOK_PORT, type Topology } from './topology.ts';

/** A component that failed to start or become healthy; names its log file and shows its tail. */
export class ComponentError extends Error {
  constructor(
    readonly component: string,
    reason: string,
    readonly logFile: string,
  ) {
    super(`${component}: ${reason}\n  log: ${logFile}\n--- last lines ---\n${tailOf(logFile, 25)}`);
    this.name = 'ComponentError';
  }
}

/** Environment of the hybridnet components (chart defaults: overlay by default, IPv4). */
export const COMPONENT_ENV = { DEFAULT_NETWORK_TYPE: 'Overlay', DEFAULT_IP_FAMILY: 'IPv4', NAMESPACE: 'kube-system' };

/** Paths of the sandbox's files. */
export function paths(dir: string): {
  pki: string;
  kubeconfigs: string;
  adminKubeconfig: string;
  run: string;
  apiSocket: string;
  etcd: string;
  webhookCerts: string;
  setupLog: string;
  state: string;
} {
  return {
    pki: path.join(dir, 'pki'),
    kubeconfigs: path.join(dir, 'kubeconfigs'),
    adminKubeconfig: path.join(dir, 'kubeconfig'),
    run: path.join(dir, 'run'),
    apiSocket: path.join(dir, 'run', 'apiserver.sock'),
    etcd: path.join(dir, 'etcd'),
    webhookCerts: path.join(dir, 'webhook-certs'),
    setupLog: path.join(dir, 'logs', 'kube-setup.log'),
    state: path.join(dir, 'sandbox.json'),
  };
}

/** The URL of the API server as seen from node namespaces (over the LAN). */
export function lanServer(t: Topology): string {
  return `https://${t.cp.ipv4}:${APISERVER_PORT}`;
}

/** A node's identities: daemon and kubelet stand-in kubeconfigs. */
export interface NodeIdentity {
  daemonKubeconfig: string;
  kubeletKubeconfig: string;
}

/** Issues a client certificate and writes a kubeconfig for it. */
async function identity(
  pki: Pki,
  t: Topology,
  name: string,
  cn: string,
  groups: string[],
  server: string,
): Promise<string> {
  const cert: CertFiles = await pki.issue({ name, cn, groups, usage: 'client', days: 365 });
  return writeKubeconfig(path.join(paths(t.dir).kubeconfigs, `${name}.kubeconfig`), server, pki.ca.certPem, cn, cert);
}

/** GET `url` from inside `netns` with curl; resolves the HTTP status (0 if unreachable). */
async function statusIn(netns: string, url: string, kubeconfigCert?: { cert: string; key: string }): Promise<number> {
  const args = ['curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2'];
  if (kubeconfigCert) args.push('--cert', kubeconfigCert.cert, '--key', kubeconfigCert.key);
  try {
    return Number((await execIn(netns, [...args, url], { timeoutMs: 5000 })).trim());
  } catch (e) {
    const out = (e as { stderr?: string }).stderr ?? '';
    return Number(/^\d{3}$/.exec(out.trim())?.[0] ?? 0);
  }
}

/** Polls until `check` is true; throws a ComponentError if the process died or the time ran out. */
async function waitFor(c: Started, what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive(c.pid)) throw new ComponentError(c.name, `exited while waiting for ${what}`, c.logFile);
    if (await check()) return;
    if (Date.now() > deadline) throw new ComponentError(c.name, `${what} not reached after ${timeoutMs} ms`, c.logFile);
    await sleep(300);
  }
}

/** True if 127.0.0.1:`port` in the root namespace accepts connections. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Result of {@link startControlPlane}. */
export interface ControlPlane {
  kubeConfig: KubeConfig;
  adminKubeconfig: string;
  nodes: Map<string, NodeIdentity>;
  caPem: string;
}

/**
 * Starts the whole control plane in the cp namespace (which must exist) and the loopback proxy, installs the CRDs
 * and registers the webhook. @throws ComponentError naming the component and its log file.
 */
export async function startControlPlane(t: Topology, progress: Progress): Promise<ControlPlane> {
  const p = paths(t.dir);
  await Promise.all([p.pki, p.kubeconfigs, p.run, p.etcd].map((d) => mkdir(d, { recursive: true })));
  const bin = kubeBinDir();
  const cp = t.cp.netns;

  if (await portInUse(t.apiPort)) {
    throw new Error(
      `127.0.0.1:${t.apiPort} is already in use in the root namespace; choose another with --api-port (nothing was changed)`,
    );
  }

  progress.step('control plane: certificates');
  const pki = await Pki.create(p.pki, 365);
  const local = `https://127.0.0.1:${APISERVER_PORT}`;
  const lan = lanServer(t);
  const [apiCert, admin, sa] = await Promise.all([
    pki.issue({
      name: 'apiserver',
      cn: 'kube-apiserver',
      ips: ['127.0.0.1', t.cp.ipv4, t.cp.ipv6, '10.96.0.1'],
      dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      usage: 'server',
      days: 365,
    }),
    pki.issue({ name: 'admin', cn: 'hybridnet-sandbox-admin', groups: ['system:masters'], usage: 'client', days: 365 }),
    pki.serviceAccountKeys(),
  ]);
  const adminKubeconfig = await writeKubeconfig(
    p.adminKubeconfig,
    `https://127.0.0.1:${t.apiPort}`,
    pki.ca.certPem,
    'hybridnet-sandbox-admin',
    admin,
  );
  const [kcmKc, schedKc, managerKc, webhookKc] = await Promise.all([
    identity(pki, t, 'kube-controller-manager', 'system:kube-controller-manager', [], local),
    identity(pki, t, 'kube-scheduler', 'system:kube-scheduler', [], local),
    identity(pki, t, 'manager', 'system:serviceaccount:kube-system:hybridnet-manager', ['system:masters'], local),
    identity(pki, t, 'webhook', 'hybridnet-webhook', ['system:masters'], local),
  ]);
  const nodes = new Map<string, NodeIdentity>();
  for (const n of t.nodes) {
    nodes.set(n.name, {
      daemonKubeconfig: await identity(
        pki,
        t,
        `daemon-${n.name}`,
        'system:serviceaccount:kube-system:hybridnet-daemon',
        ['system:masters'],
        lan,
      ),
      kubeletKubeconfig: await identity(pki, t, `kubelet-${n.name}`, `system:node:${n.name}`, ['system:nodes'], lan),
    });
  }
  progress.done('control plane: certificates (CA, apiserver serving cert for 127.0.0.1 and the cp LAN address)');

  progress.step('control plane: etcd');
  const etcd = await startDetached(
    t.dir,
    'etcd',
    [
      process.env.HN_ETCD ?? path.join(bin, 'etcd'),
      '--name=sandbox',
      `--data-dir=${p.etcd}`,
      '--listen-client-urls=http://127.0.0.1:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=sandbox=http://127.0.0.1:2380',
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    { netns: cp },
  );
  await waitFor(etcd, 'http://127.0.0.1:2379/health', 30_000, async () => {
    return (await statusIn(cp, 'http://127.0.0.1:2379/health')) === 200;
  });
  progress.done('control plane: etcd ready');

  progress.step('control plane: kube-apiserver + loopback proxy');
  const apiserver = await startDetached(
    t.dir,
    'kube-apiserver',
    [
      path.join(bin, 'kube-apiserver'),
      ...kubeApiserverArgs({
        etcdServers: 'http://127.0.0.1:2379',
        bindAddress: '0.0.0.0',
        advertiseAddress: t.cp.ipv4,
        securePort: APISERVER_PORT,
        certDir: path.join(t.dir, 'apiserver'),
        servingCert: apiCert,
        clientCAFile: pki.ca.certFile,
        serviceAccount: sa,
      }),
    ],
    { netns: cp },
  );
  // Loopback proxy: cp side first (unix socket → apiserver), then the root side (127.0.0.1:apiPort → socket).
  await startDetached(
    t.dir,
    'proxy-cp',
    ['socat', `UNIX-LISTEN:${p.apiSocket},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${APISERVER_PORT}`],
    { netns: cp },
  );
  const proxyRoot = await startDetached(t.dir, 'proxy-root', [
    'socat',
    `TCP-LISTEN:${t.apiPort},bind=127.0.0.1,reuseaddr,fork`,
    `UNIX-CONNECT:${p.apiSocket}`,
  ]);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(adminKubeconfig);
  const tls = { cert: admin.certFile, key: admin.keyFile };
  await waitFor(
    apiserver,
    `${local}/readyz`,
    120_000,
    async () => (await statusIn(cp, `${local}/readyz`, tls)) === 200,
  );
  await waitFor(proxyRoot, `https://127.0.0.1:${t.apiPort}/readyz through the loopback proxy`, 20_000, async () => {
    try {
      const out = await run([
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--max-time',
        '2',
        '--cacert',
        pki.ca.certFile,
        '--cert',
        admin.certFile,
        '--key',
        admin.keyFile,
        `https://127.0.0.1:${t.apiPort}/readyz`,
      ]);
      return out.trim() === '200';
    } catch {
      return false;
    }
  });
  progress.done(`control plane: kube-apiserver ready, reachable at https://127.0.0.1:${t.apiPort}`);

  progress.step('control plane: CRDs');
  const crds = await installCrds(kubeConfig, path.join(repoRoot(), 'deploy/crds'));
  progress.done(`control plane: ${crds} CRDs established`);

  progress.step('control plane: kube-controller-manager, kube-scheduler, hybridnet webhook + manager');
  const kcm = await startDetached(
    t.dir,
    'kube-controller-manager',
    [
      path.join(bin, 'kube-controller-manager'),
      `--kubeconfig=${kcmKc}`,
      `--authentication-kubeconfig=${kcmKc}`,
      `--authorization-kubeconfig=${kcmKc}`,
      '--bind-address=127.0.0.1',
      `--cert-dir=${path.join(t.dir, 'kcm')}`,
      '--controllers=*',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${sa.keyFile}`,
      `--root-ca-file=${pki.ca.certFile}`,
      `--cluster-signing-cert-file=${pki.ca.certFile}`,
      `--cluster-signing-key-file=${pki.ca.keyFile}`,
      '--leader-elect=false',
    ],
    { netns: cp },
  );
  const sched = await startDetached(
    t.dir,
    'kube-scheduler',
    [
      path.join(bin, 'kube-scheduler'),
      `--kubeconfig=${schedKc}`,
      `--authentication-kubeconfig=${schedKc}`,
      `--authorization-kubeconfig=${schedKc}`,
      '--bind-address=127.0.0.1',
      '--leader-elect=false',
    ],
    { netns: cp },
  );
  const certs = await writeDevCertificates(p.webhookCerts, {
    dnsNames: ['hybridnet-webhook.kube-system.svc'],
    ipAddresses: [t.cp.ipv4, '127.0.0.1'],
  });
  const env = { ...process.env, ...COMPONENT_ENV };
  const webhook = await startDetached(
    t.dir,
    'webhook',
    [
      ...hybridnetArgv(),
      'webhook',
      `--port=${WEBHOOK_PORT}`,
      '--bind-address=0.0.0.0',
      `--tls-cert-file=${certs.certFile}`,
      `--tls-private-key-file=${certs.keyFile}`,
      `--kubeconfig=${webhookKc}`,
      '--health-probe-addr=127.0.0.1:9897',
    ],
    { netns: cp, env },
  );
  const manager = await startDetached(
    t.dir,
    'manager',
    [...hybridnetArgv(), 'manager', `--kubeconfig=${managerKc}`, '--metrics-port=9899'],
    { netns: cp, env },
  );
  await Promise.all([
    waitFor(kcm, 'https://127.0.0.1:10257/healthz', 180_000, async () => {
      return (await statusIn(cp, 'https://127.0.0.1:10257/healthz')) === 200;
    }),
    waitFor(sched, 'https://127.0.0.1:10259/healthz', 180_000, async () => {
      return (await statusIn(cp, 'https://127.0.0.1:10259/healthz')) === 200;
    }),
    waitFor(webhook, `https://${t.cp.ipv4}:${WEBHOOK_PORT} accepting TLS`, 180_000, async () => {
      return (await statusIn(cp, `https://${t.cp.ipv4}:${WEBHOOK_PORT}/validate`)) > 0;
    }),
    waitFor(manager, 'http://127.0.0.1:9899/healthz', 180_000, async () => {
      return (await statusIn(cp, 'http://127.0.0.1:9899/healthz')) === 200;
    }),
  ]);
  await registerWebhook(kubeConfig, certs.caCert, `https://${t.cp.ipv4}:${WEBHOOK_PORT}`);
  progress.done('control plane: controllers, scheduler, webhook (registered) and manager healthy');
  return { kubeConfig, adminKubeconfig, nodes, caPem: pki.ca.certPem };
}

/** Creates or replaces the hybridnet webhook configurations pointing at `url`. */
async function registerWebhook(kc: KubeConfig, caPem: string, url: string): Promise<void> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const { validating, mutating } = buildWebhookConfigurations({ caBundle: caPem, target: { url } });
  const v = validating as unknown as V1ValidatingWebhookConfiguration;
  const m = mutating as unknown as V1MutatingWebhookConfiguration;
  await ignoreConflict(api.createValidatingWebhookConfiguration({ body: v }));
  await ignoreConflict(api.createMutatingWebhookConfiguration({ body: m }));
}

/** Where kube-apiserver listens and which keys it uses; see {@link kubeApiserverArgs}. */
export interface KubeApiserverArgsInput {
  /** `--etcd-servers` URL, e.g. `http://127.0.0.1:2379`. */
  etcdServers: string;
  bindAddress: string;
  advertiseAddress: string;
  /** TCP port of the HTTPS endpoint. */
  securePort: number;
  certDir: string;
  /** Serving certificate and key files. */
  servingCert: { certFile: string; keyFile: string };
  /** CA that signs client certificates (admin, components). */
  clientCAFile: string;
  /** Service-account token key pair (public key verifies, private key signs). */
  serviceAccount: { pubFile: string; keyFile: string };
}

/**
 * The kube-apiserver flags shared by the sandbox and the test fixture: client-certificate authentication, RBAC + Node
 * authorization, service-account tokens, and no `kubernetes` Service endpoint reconciler (its Endpoints may not point
 * at a loopback or namespace-private address, and nothing here needs them).
 */
export function kubeApiserverArgs(o: KubeApiserverArgsInput): string[] {
  return [
    `--etcd-servers=${o.etcdServers}`,
    `--bind-address=${o.bindAddress}`,
    `--advertise-address=${o.advertiseAddress}`,
    `--secure-port=${o.securePort}`,
    `--cert-dir=${o.certDir}`,
    `--tls-cert-file=${o.servingCert.certFile}`,
    `--tls-private-key-file=${o.servingCert.keyFile}`,
    `--client-ca-file=${o.clientCAFile}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${o.serviceAccount.pubFile}`,
    `--service-account-signing-key-file=${o.serviceAccount.keyFile}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true',
    '--profiling=false',
    '--endpoint-reconciler-type=none',
  ];
}

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof ApiException && e.code === 409)) throw e;
  }
}

/** Creates every CRD in `dir/*.yaml` (skipping existing ones) and waits until each is Established. */
export async function installCrds(kc: KubeConfig, dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crds: V1CustomResourceDefinition[] = [];
  for (const f of (await readdir(dir)).filter((x) => /\.ya?ml$/.test(x)).sort()) {
    // loadAllYaml keeps enum / x-kubernetes-* schema parts (see tools/kube/README.md).
    for (const obj of loadAllYaml(await readFile(path.join(dir, f), 'utf8')) as (V1CustomResourceDefinition | null)[]) {
      if (obj?.kind === 'CustomResourceDefinition') crds.push(obj);
    }
  }
  await Promise.all(crds.map((body) => ignoreConflict(api.createCustomResourceDefinition({ body }))));
  const deadline = Date.now() + 60_000;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    for (;;) {
      const cur = await api.readCustomResourceDefinition({ name });
      if (cur.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 60 s`);
      await sleep(100);
    }
  }
  return crds.length;
}

/** Reads the admin kubeconfig of a running sandbox. */
export function loadAdminKubeConfig(dir: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(readFileSync(paths(dir).adminKubeconfig, 'utf8'));
  return kc;
}
