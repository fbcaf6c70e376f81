/**
 * The webhook registered in a real kube-apiserver (test/fixture/kube.ts): the server runs in this
 * process on 127.0.0.1 with certificates from `hybridnet webhook gen-certs`; the configurations
 * come from `buildWebhookConfigurations` with a URL clientConfig. Objects are written with
 * @kubernetes/client-node and with kubectl, and the test sees the denials a user would see.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Pod,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_HANDLED_BY_WEBHOOK,
  LABEL_POD,
  type IPInstance,
  type NetworkSpec,
  type SubnetSpec,
} from '../../src/api/index.ts';
import { startWebhookApp, type WebhookApp } from '../../src/webhook/app.ts';
import { buildWebhookConfigurations } from '../../src/webhook/configurations.ts';
import { DEFAULT_IPINSTANCE_ADMIN_GROUPS, DEFAULT_IPINSTANCE_WRITERS } from '../../src/webhook/rules/index.ts';
import { TEST_DEFAULTS, ipInstance, network, subnet } from '../../src/webhook/testdata.ts';
import { eventually, refusalOf, useKube } from '../fixture/kube.ts';
import { freePort } from '../fixture/kube-process.ts';

const execFileP = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const G = { group: 'networking.alibaba.com', version: 'v1' };
const MANAGER = 'system:serviceaccount:kube-system:hybridnet-manager';
const SOMEONE = 'system:serviceaccount:default:someone';
const NS = 'apps';

describe('webhook registered in kube-apiserver (real)', () => {
  const kube = useKube({ controllerManager: true });
  let certDir: string;
  let caPem: string;
  let app: WebhookApp | undefined;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  let manager: ChildProcess | undefined;

  const createNetwork = (name: string, spec: NetworkSpec) =>
    custom.createClusterCustomObject({ ...G, plural: 'networks', body: network(name, spec) });
  const createSubnet = (name: string, net: string, range: SubnetSpec['range'], extra: Partial<SubnetSpec> = {}) =>
    custom.createClusterCustomObject({ ...G, plural: 'subnets', body: subnet(name, net, range, extra) });
  /** kubectl create, resolving the refusal text (stderr) or '' when created. */
  const kubectlCreate = async (obj: object, extra: string[] = []): Promise<string> => {
    try {
      await kube().kubectl(['create', '-f', '-', ...extra], { input: JSON.stringify(obj) });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };

  beforeAll(async () => {
    const kc = kube().kubeConfig;
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    // Certificates through the real command, as a developer would make them.
    certDir = await mkdtemp(path.join(tmpdir(), 'hn-webhook-certs-'));
    await execFileP(path.join(REPO, 'bin/hybridnet.mjs'), [
      'webhook',
      'gen-certs',
      '--dir',
      certDir,
      '--ip-addresses',
      '127.0.0.1',
      '--dns-names',
      'localhost',
    ]);
    caPem = await readFile(path.join(certDir, 'ca.crt'), 'utf8');
    app = await startWebhookApp({
      kubeConfig: kc,
      host: '127.0.0.1',
      port: 0,
      certFile: path.join(certDir, 'tls.crt'),
      keyFile: path.join(certDir, 'tls.key'),
      config: {
        defaults: TEST_DEFAULTS,
        ipInstancePolicy: { allowedUsers: DEFAULT_IPINSTANCE_WRITERS, adminGroups: DEFAULT_IPINSTANCE_ADMIN_GROUPS },
      },
      logger: pino({ level: process.env.HN_WEBHOOK_LOG ?? 'silent' }),
    });
    await app.synced;
    const { validating, mutating } = buildWebhookConfigurations({
      caBundle: caPem,
      target: { url: `https://127.0.0.1:${app.server.port}` },
    });
    const reg = kc.makeApiClient(AdmissionregistrationV1Api);
    await reg.createValidatingWebhookConfiguration({ body: validating });
    await reg.createMutatingWebhookConfiguration({ body: mutating });
    await kube().createNamespace(NS);
    // The API server loads webhook configurations asynchronously: wait until a bad object is refused.
    await eventually('the validating webhook to be active', async () => {
      const r = await refusalOf(
        custom.createClusterCustomObject({
          ...G,
          plural: 'networks',
          body: network('probe', { type: 'Overlay', netID: 0 }),
          dryRun: 'All',
        }),
      ).catch(() => undefined);
      return r?.message.includes('is not a valid VXLAN VNI') === true;
    });
  });

  afterAll(async () => {
    manager?.kill('SIGKILL');
    await app?.stop();
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  it('accepts VLAN netID 4094 and refuses 4095 (D10), through client-node and kubectl', async () => {
    await createNetwork('vlan', { type: 'Underlay', mode: 'VLAN', netID: 4094, nodeSelector: { rack: 'a' } });
    const r = await refusalOf(
      createNetwork('vlan-bad', { type: 'Underlay', mode: 'VLAN', netID: 4095, nodeSelector: { rack: 'x' } }),
    );
    expect(r.code).toBe(403);
    expect(r.message).toBe(
      'admission webhook "hybridnet-v1.validating.hybridnet" denied the request: spec.netID 4095 is not a valid VLAN id: must be 0–4094',
    );
    const out = await kubectlCreate(
      network('vlan-bad2', { type: 'Underlay', mode: 'VLAN', netID: 4095, nodeSelector: { rack: 'y' } }),
    );
    expect(out).toContain(
      'admission webhook "hybridnet-v1.validating.hybridnet" denied the request: spec.netID 4095 is not a valid VLAN id: must be 0–4094',
    );
  });

  it('refuses a subnet whose start is after its end, and /32 and /128 subnets', async () => {
    await createNetwork('overlay', { type: 'Overlay', netID: 4 });
    const out = await kubectlCreate(
      subnet('backwards', 'overlay', { version: '4', cidr: '10.9.0.0/16', start: '10.9.0.9', end: '10.9.0.5' }),
    );
    expect(out).toContain(
      'admission webhook "hybridnet-v1.validating.hybridnet" denied the request: spec.range.end 10.9.0.5 is before spec.range.start 10.9.0.9',
    );
    const v4 = await refusalOf(createSubnet('host32', 'overlay', { version: '4', cidr: '10.9.0.1/32' }));
    expect(v4.message).toContain(
      'spec.range.cidr 10.9.0.1/32 is too small to allocate from: a subnet needs at least 4 addresses (prefix /30 or shorter for IPv4)',
    );
    const v6 = await kubectlCreate(subnet('host128', 'overlay', { version: '6', cidr: 'fd00:9::1/128' }));
    expect(v6).toContain(
      'spec.range.cidr fd00:9::1/128 is too small to allocate from: a subnet needs at least 4 addresses (prefix /126 or shorter for IPv6)',
    );
  });

  it('refuses two overlapping subnets in different networks', async () => {
    await createSubnet('ov-a', 'overlay', { version: '4', cidr: '172.20.0.0/16' });
    const r = await refusalOf(
      createSubnet('vlan-a', 'vlan', { version: '4', cidr: '172.20.5.0/24', gateway: '172.20.5.1' }),
    );
    expect(r.message).toBe(
      'admission webhook "hybridnet-v1.validating.hybridnet" denied the request: spec.range.cidr 172.20.5.0/24 overlaps CIDR 172.20.0.0/16 of existing subnet ov-a (network overlay): different but overlapping CIDRs are not supported',
    );
  });

  it('accepts a DualStack pod with specified-subnet "<v4>/<v6>", mutates it, and refuses the names swapped', async () => {
    await createSubnet('vlan-v4', 'vlan', { version: '4', cidr: '10.0.0.0/24', gateway: '10.0.0.1' });
    await createSubnet('vlan-v6', 'vlan', { version: '6', cidr: 'fd00:a::/64', gateway: 'fd00:a::1' });
    const podOf = (name: string, subnets: string): V1Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: NS,
        annotations: {
          'networking.alibaba.com/specified-subnet': subnets,
          'networking.alibaba.com/ip-family': 'DualStack',
        },
      },
      spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    });
    const created = await core.createNamespacedPod({ namespace: NS, body: podOf('dual', 'vlan-v4/vlan-v6') });
    expect(created.metadata?.annotations).toEqual({
      'networking.alibaba.com/specified-subnet': 'vlan-v4/vlan-v6',
      'networking.alibaba.com/specified-network': 'vlan',
      'networking.alibaba.com/network-type': 'Underlay',
      'networking.alibaba.com/ip-family': 'DualStack',
      'networking.alibaba.com/handled-by-webhook': 'true',
    });
    expect(created.spec?.nodeSelector).toEqual({
      rack: 'a',
      'networking.alibaba.com/dualstack-address-quota': 'nonempty',
    });
    const out = await kubectlCreate(podOf('swapped', 'vlan-v6/vlan-v4'));
    expect(out).toMatch(/admission webhook "core-v1\.(mutating|validating)\.hybridnet" denied the request: /);
    expect(out).toContain(
      `pod ${NS}/swapped annotation networking.alibaba.com/specified-subnet "vlan-v6/vlan-v4": the first subnet vlan-v6 is IPv6; with two names the first must be the IPv4 subnet and the second the IPv6 subnet ("<v4subnet>/<v6subnet>")`,
    );
  });

  it('admits the pods of a 2-replica StatefulSet with ip-pool "10.0.0.10,10.0.0.11" (D2)', async () => {
    const apps = kube().kubeConfig.makeApiClient(AppsV1Api);
    await apps.createNamespacedStatefulSet({
      namespace: NS,
      body: {
        metadata: { name: 'web' },
        spec: {
          serviceName: 'web',
          replicas: 2,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: {
              labels: { app: 'web' },
              annotations: {
                'networking.alibaba.com/specified-network': 'vlan',
                'networking.alibaba.com/ip-pool': '10.0.0.10,10.0.0.11',
              },
            },
            spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
          },
        },
      },
    });
    const pods = await eventually('both StatefulSet pods', async () => {
      const list = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' });
      return list.items.length === 2 ? list.items : undefined;
    });
    for (const p of pods) {
      expect(p.metadata?.annotations?.['networking.alibaba.com/handled-by-webhook']).toBe('true');
      expect(p.metadata?.annotations?.['networking.alibaba.com/ip-pool']).toBe('10.0.0.10,10.0.0.11');
      expect(p.spec?.nodeSelector).toEqual({ rack: 'a', 'networking.alibaba.com/ipv4-address-quota': 'nonempty' });
    }
    // The same pool with an address outside the network is refused for a pod created by hand.
    const bad = await kubectlCreate({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'pool-2',
        namespace: NS,
        annotations: {
          'networking.alibaba.com/specified-network': 'vlan',
          'networking.alibaba.com/ip-pool': '10.0.0.10,10.200.0.11',
        },
      },
      spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    });
    expect(bad).toContain(
      `pod ${NS}/pool-2 annotation networking.alibaba.com/ip-pool "10.0.0.10,10.200.0.11": entry 2 "10.200.0.11": 10.200.0.11 is not in any of the subnets of network vlan`,
    );
  });

  it('skips pods labelled webhook.hybridnet.io/ignore=true (objectSelector)', async () => {
    const pod = await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name: 'ignored',
          labels: { 'webhook.hybridnet.io/ignore': 'true' },
          annotations: { 'networking.alibaba.com/specified-network': 'no-such-network' },
        },
        spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
      },
    });
    expect(pod.metadata?.annotations).toEqual({ 'networking.alibaba.com/specified-network': 'no-such-network' });
    expect(pod.spec?.nodeSelector).toBeUndefined();
  });

  it('refuses a user who is not a hybridnet service account editing an IPInstance, even with RBAC allowing it', async () => {
    const kc = kube().kubeConfig;
    // The manager's identity (impersonated by the admin) may create it.
    // RBAC lets `someone` (and the manager) write IPInstances, so only the webhook stands in the way.
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: 'ipinstance-writer' },
        rules: [
          {
            apiGroups: [G.group],
            resources: ['ipinstances'],
            verbs: ['get', 'list', 'update', 'patch', 'create', 'delete'],
          },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'someone-ipinstance-writer' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ipinstance-writer' },
        subjects: [
          { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: SOMEONE },
          { kind: 'ServiceAccount', namespace: 'kube-system', name: 'hybridnet-manager' },
        ],
      },
    });
    // The manager's identity (impersonated by the admin) may create one.
    const ip = ipInstance(NS, '10.0.0.20', { network: 'vlan', subnet: 'vlan-v4', podName: 'x-0', nodeName: 'n1' });
    await eventually('RBAC to allow the manager', async () => {
      await kube().kubectl(['create', '-f', '-', `--as=${MANAGER}`], { input: JSON.stringify(ip) });
      return true;
    });
    const asSomeone = new KubeConfig();
    asSomeone.loadFromString(kc.exportConfig());
    const user = asSomeone.getCurrentUser();
    if (!user) throw new Error('no current user');
    asSomeone.users = asSomeone.users.map((u) => (u.name === user.name ? { ...u, impersonateUser: SOMEONE } : u));
    const theirs = asSomeone.makeApiClient(CustomObjectsApi);
    const current = (await theirs.getNamespacedCustomObject({
      ...G,
      namespace: NS,
      plural: 'ipinstances',
      name: '10-0-0-20',
    })) as IPInstance;
    const forged = { ...current, spec: { ...current.spec, binding: { ...current.spec.binding, nodeName: 'n2' } } };
    const r = await refusalOf(
      theirs.replaceNamespacedCustomObject({
        ...G,
        namespace: NS,
        plural: 'ipinstances',
        name: '10-0-0-20',
        body: forged,
      }),
    );
    expect(r.message).toMatch(
      /^admission webhook "ipinstance-v1\.validating\.hybridnet" denied the request: user system:serviceaccount:default:someone may not update IPInstance apps\/10-0-0-20: IPInstances record IPAM allocations and are written only by /,
    );
    const del = await kube()
      .kubectl(['delete', 'ipinstance', '-n', NS, '10-0-0-20', `--as=${SOMEONE}`])
      .then(() => '')
      .catch((e: Error) => e.message);
    expect(del).toContain(`user ${SOMEONE} may not delete IPInstance ${NS}/10-0-0-20`);
    // Users may read them.
    const read = await kube().kubectl(['get', 'ipinstances', '-n', NS, `--as=${SOMEONE}`, '-o', 'name']);
    expect(read).toContain('ipinstance.networking.alibaba.com/10-0-0-20');
  });

  it('refuses deleting a subnet in use and a network with subnets', async () => {
    await eventually('the cache to hold the IPInstance', () =>
      Promise.resolve(app?.view.listIPInstances({ namespace: NS }).some((i) => i.metadata.name === '10-0-0-20')),
    );
    const s = await refusalOf(custom.deleteClusterCustomObject({ ...G, plural: 'subnets', name: 'vlan-v4' }));
    expect(s.message).toContain(
      `subnet vlan-v4 still has using ips: ${NS}/10-0-0-20 (1 IPInstance); they are released when their pods or StatefulSets are deleted`,
    );
    const n = await kube()
      .kubectl(['delete', 'network', 'vlan'])
      .then(() => '')
      .catch((e: Error) => e.message);
    expect(n).toContain('network vlan still has child subnets vlan-v4, vlan-v6: delete them first');
  });

  it('counts denials by rule on /metrics', async () => {
    const res = await fetchText(`https://127.0.0.1:${app?.server.port ?? 0}/metrics`, caPem);
    expect(res).toMatch(/hybridnet_webhook_denials_total\{kind="Subnet",rule="subnet\.range\.order"\} [1-9]/);
    expect(res).toMatch(/hybridnet_webhook_denials_total\{kind="Network",rule="network\.net-id\.range"\} [1-9]/);
  });

  it('runs as the `hybridnet webhook` command with DEFAULT_NETWORK_TYPE from the environment', async () => {
    const [port, probePort] = await Promise.all([freePort(), freePort()]);
    const child = spawn(
      path.join(REPO, 'bin/hybridnet.mjs'),
      [
        'webhook',
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--kubeconfig=${kube().kubeconfigPath}`,
        `--tls-cert-file=${path.join(certDir, 'tls.crt')}`,
        `--tls-private-key-file=${path.join(certDir, 'tls.key')}`,
        `--health-probe-addr=127.0.0.1:${probePort}`,
        '--log-level=warn',
      ],
      { env: { ...process.env, DEFAULT_NETWORK_TYPE: 'overlay', DEFAULT_IP_FAMILY: 'ipv6' }, stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await eventually(
        'the webhook command to be ready',
        async () => (await fetch(`http://127.0.0.1:${probePort}/readyz`).catch(() => undefined))?.status === 200,
        60_000,
      );
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'cli-1',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          namespace: NS,
          operation: 'CREATE',
          userInfo: { username: 'alice' },
          object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain', namespace: NS }, spec: {} },
        },
      };
      const body = await postJson(`https://127.0.0.1:${port}/mutate`, caPem, review);
      const response = (JSON.parse(body) as { response: { uid: string; patch: string } }).response;
      expect(response.uid).toBe('cli-1');
      expect(JSON.parse(Buffer.from(response.patch, 'base64').toString())).toContainEqual({
        op: 'add',
        path: '/metadata/annotations',
        value: {
          'networking.alibaba.com/network-type': 'Overlay',
          'networking.alibaba.com/ip-family': 'IPv6Only',
          'networking.alibaba.com/handled-by-webhook': 'true',
        },
      });
    } finally {
      child.kill('SIGTERM');
    }
    // SIGTERM stops informers and listeners; the process leaves on its own with status 0.
    expect(await exited).toBe(0);
  });

  it('with the webhook process stopped, pods are still created (fail-open) and still get addresses from the manager', async () => {
    // Network and Subnet writes fail closed without the webhook: create them (and the Node) while it still runs.
    const labels = { 'hn-test/fail-open': 'yes' };
    await core.createNode({ body: { metadata: { name: 'fail-open-node', labels } } });
    await createNetwork('fail-open', { type: 'Underlay', mode: 'VLAN', netID: 77, nodeSelector: labels });
    await createSubnet('fail-open-v4', 'fail-open', { version: '4', cidr: '192.168.77.0/24', gateway: '192.168.77.1' });
    await app?.stop();
    app = undefined;
    // The manager refuses to start next to the hand-made IPInstance above (no binding.referredObject.kind).
    await kube().kubectl(['delete', 'ipinstance', '-n', NS, '10-0-0-20', '--ignore-not-found', '--wait']);
    const mgr = spawn(
      path.join(REPO, 'bin/hybridnet.mjs'),
      [
        'manager',
        `--kubeconfig=${kube().kubeconfigPath}`,
        '--identity=webhook-test',
        '--metrics-port=0',
        '--log-level=warn',
      ],
      { env: { ...process.env, NAMESPACE: 'kube-system' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    manager = mgr;
    let logs = '';
    const keep = (b: Buffer) => (logs = (logs + b.toString()).slice(-4000));
    mgr.stdout?.on('data', keep);
    mgr.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => mgr.once('exit', (code) => resolve(code)));
    try {
      const pod = await core.createNamespacedPod({
        namespace: NS,
        body: {
          metadata: { name: 'fail-open-pod' },
          spec: { nodeName: 'fail-open-node', containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
        },
      });
      // Admitted as written: the mutating webhook did not run (failurePolicy Ignore).
      expect(pod.metadata?.annotations?.[ANNOTATION_HANDLED_BY_WEBHOOK]).toBeUndefined();
      expect(pod.spec?.nodeSelector).toBeUndefined();
      // The manager selects the network itself (the Node's labels match fail-open) and allocates.
      const allocated = eventually(
        'the manager to allocate an IPInstance for the pod',
        async () => {
          const list = (await custom.listNamespacedCustomObject({
            ...G,
            namespace: NS,
            plural: 'ipinstances',
            labelSelector: `${LABEL_POD}=fail-open-pod`,
          })) as { items: IPInstance[] };
          return list.items.find((i) => i.spec.binding?.podUID === pod.metadata?.uid);
        },
        120_000,
        500,
      );
      const died = exited.then((code) => Promise.reject(new Error(`manager exited with status ${code}`)));
      const ip = await Promise.race([allocated, died]).catch((e: Error) => {
        throw new Error(`${e.message}\nmanager output:\n${logs}`);
      });
      expect(ip.spec).toMatchObject({ network: 'fail-open', subnet: 'fail-open-v4' });
      expect(ip.spec.address.ip).toMatch(/^192\.168\.77\.\d+\/24$/);
      expect(ip.spec.binding?.nodeName).toBe('fail-open-node');
    } finally {
      mgr.kill('SIGTERM');
      const timer = setTimeout(() => mgr.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      manager = undefined;
    }
  }, 180_000);

  it('fails open for pods and closed for networks when the webhook process is stopped', async () => {
    await app?.stop();
    app = undefined;
    const pod = await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'while-down', annotations: { 'networking.alibaba.com/specified-subnet': 'vlan-v6/vlan-v4' } },
        spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
      },
    });
    expect(pod.metadata?.name).toBe('while-down');
    expect(pod.metadata?.annotations?.['networking.alibaba.com/handled-by-webhook']).toBeUndefined();
    const r = await refusalOf(createNetwork('while-down', { type: 'Overlay', netID: 9 }));
    expect(r.message).toContain('failed calling webhook "hybridnet-v1.validating.hybridnet"');
  });
});

function postJson(url: string, ca: string, body: unknown): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = https.request(
      url,
      { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function fetchText(url: string, ca: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      })
      .on('error', reject);
  });
}
