/**
 * The chart against a real kube-apiserver 1.34 (RBAC on): every rendered object passes `kubectl apply
 * --dry-run=server`; then the chart's ServiceAccounts and Roles are created for real, tokens are minted for them
 * with the TokenRequest API, and `hybridnet webhook`, `hybridnet manager` and the init Job's script run as processes
 * with exactly those identities (the chart's own args and env) through a pod's life: init Network/Subnet created
 * through the fail-closed webhook → pod created → IPInstance allocated by the manager → pod deleted → IPInstance
 * released (by the garbage collector, then the manager drops the finalizer). Any 403 in their logs fails the test naming the verb and the resource.
 *
 * `hybridnet daemon` runs too, with the chart's args/env and the daemon ServiceAccount's token, inside ONE node
 * network namespace the test creates (`hh<4 hex>-node`: an eth0 (veth) with an address and a default route, the API
 * server bridged in with socat like test/datapath/harness.ts; the root namespace is never modified): the pod gets
 * its network through the CNI plugin bundle (ADD, then DEL) executed in that namespace, and the daemon writes the
 * IPInstance status. Every namespace and process the test made is removed in afterAll (and at process exit).
 * cert-manager objects are not dry-run (no cert-manager CRDs in the fixture).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildConflist } from '../../src/cni/install.ts';
import type { KubeClient } from '../../src/kube/index.ts';
import { hostVethName } from '../../src/net/index.ts';
import { buildCni } from '../../tools/build-cni.ts';
import { CNI_BIN, Harness, ipBatchNs, sh } from '../datapath/harness.ts';
import { eventually, useKube } from '../fixture/kube.ts';
import { freePort } from '../fixture/kube-process.ts';
import { clientOf, createNode, createPod, deletePod, listIPInstances, waitBound } from '../manager/helpers.ts';
import { find, ORIGINAL_EXAMPLE_VALUES, REPO, render, type Rendered } from './helm.ts';

interface Container {
  args?: string[];
  env?: { name: string; value?: string }[];
}
const containerOf = (o: Rendered): Container =>
  (o.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;
const plainEnv = (c: Container): Record<string, string> =>
  Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));

const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
const HTTP_VERB: Record<string, string> = {
  GET: 'get',
  WATCH: 'watch',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** 403s in a component log, as "verb resource (path)". */
function forbiddenIn(log: string): string[] {
  const out = new Set<string>();
  for (const m of log.matchAll(/\b(GET|WATCH|POST|PUT|PATCH|DELETE) (\/apis?\/[^\s:"?]+)[^\n]*?\b403\b/g)) {
    const parts = m[2]!.split('/').filter((p) => p !== '');
    const core = parts[0] === 'api';
    const rest = parts.slice(core ? 2 : 3);
    if (rest[0] === 'namespaces' && rest.length > 2) rest.splice(0, 2);
    const resource = rest.length >= 3 ? `${rest[0]}/${rest[2]}` : rest[0];
    const group = core ? 'core' : parts[1];
    let verb = HTTP_VERB[m[1]!] ?? m[1]!;
    if (verb === 'get' && rest.length === 1) verb = 'list';
    out.add(`${verb} ${group}/${resource} (${m[1]} ${m[2]})`);
  }
  for (const m of log.matchAll(/User "([^"]+)" cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?/g)) {
    out.add(`${m[2]} ${m[4] || 'core'}/${m[3]} (as ${m[1]})`);
  }
  return [...out];
}

describe('chart on kube-apiserver 1.34 (real): dry-run, and the components under the chart ServiceAccounts', () => {
  // kube-controller-manager: its garbage collector deletes a released pod's IPInstances (ownerReference to the pod).
  const kube = useKube({ controllerManager: true });
  const children: ChildProcess[] = [];
  const logs: Record<string, string> = {};
  let objs: Rendered[];
  let admin: KubeClient;
  // Network namespaces (node, pod) and the daemon's processes: Harness registers them for cleanup (afterAll, exit).
  const prefix = `hh${randomBytes(2).toString('hex')}-`;
  let net: Harness | undefined;
  let daemon: ChildProcess | undefined;

  beforeAll(async () => {
    objs = await render({ namespace: 'kube-system' });
    admin = await clientOf(kube());
    await buildCni();
  });

  afterAll(async () => {
    if (net) await net.kill(daemon);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve())),
    );
    await net?.cleanup();
    admin?.close();
  });

  it.each([
    ['default values', undefined],
    ['dual stack', { defaultIPFamily: 'DualStack', init: { cidrV6: 'fd00:100:64::/64' } }],
    ["the original chart's example values", ORIGINAL_EXAMPLE_VALUES],
  ])(
    '%s: every rendered object (hooks included, CRDs first) passes kubectl apply --dry-run=server',
    async (_, values) => {
      const withCrds = await render({ namespace: 'kube-system', includeCrds: true, values });
      const crds = withCrds.filter((o) => o.kind === 'CustomResourceDefinition');
      const rest = withCrds.filter((o) => o.kind !== 'CustomResourceDefinition');
      expect(crds.length).toBe(4);
      const file = path.join(kube().dir, 'rendered.yaml');
      for (const batch of [crds, rest]) {
        writeFileSync(file, batch.map((o) => stringify(o)).join('---\n'));
        const out = await kube().kubectl(['apply', '--dry-run=server', '-f', file]);
        expect(out.trim().split('\n')).toHaveLength(batch.length);
        expect(out).toMatch(/\(server dry run\)/);
      }
    },
  );

  it('manager + webhook + init Job script + daemon under their ServiceAccount tokens: pod → IPInstance → CNI ADD/DEL → deleted → released', async () => {
    const k = kube();
    // RBAC and ServiceAccounts exactly as rendered (the init hook's too).
    const rbacFile = path.join(k.dir, 'rbac.yaml');
    writeFileSync(
      rbacFile,
      objs
        .filter((o) => RBAC_KINDS.has(o.kind))
        .map((o) => stringify(o))
        .join('---\n'),
    );
    await k.kubectl(['apply', '-f', rbacFile]);

    const kubeconfigFor = async (sa: string): Promise<{ kubeconfig: string; tokenFile: string }> => {
      const token = (await k.kubectl(['create', 'token', sa, '-n', 'kube-system', '--duration=1h'])).trim();
      const tokenFile = path.join(k.dir, `${sa}.token`);
      writeFileSync(tokenFile, token);
      const kubeconfig = path.join(k.dir, `${sa}.kubeconfig`);
      const ca = Buffer.from(k.caPem).toString('base64');
      writeFileSync(
        kubeconfig,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: k.server, 'certificate-authority-data': ca } }],
          users: [{ name: sa, user: { token } }],
          contexts: [{ name: 'c', context: { cluster: 'c', user: sa } }],
          'current-context': 'c',
        }),
      );
      return { kubeconfig, tokenFile };
    };
    const caFile = path.join(k.dir, 'cluster-ca.crt');
    writeFileSync(caFile, k.caPem);

    const run = (name: string, args: string[], env: Record<string, string>): ChildProcess => {
      const logFile = path.join(k.dir, 'logs', `${name}.log`);
      const out = createWriteStream(logFile);
      const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...env } });
      child.stdout.pipe(out);
      child.stderr.pipe(out);
      children.push(child);
      Object.defineProperty(logs, name, { get: () => readFileSync(logFile, 'utf8'), enumerable: true });
      return child;
    };
    /** Rethrows `e` with the tail of every component log (they are removed with the fixture). */
    const withLogs = async <T>(p: Promise<T>): Promise<T> => {
      try {
        return await p;
      } catch (e) {
        const tails = Object.entries(logs).map(
          ([n, l]) =>
            `--- ${n}.log (tail)\n${l
              .split('\n')
              .slice(-12)
              .map((x) => x.slice(0, 600))
              .join('\n')}`,
        );
        // a 403 is the likeliest cause of a component not doing its part: name the verb and the resource first
        const refused = Object.entries(logs).flatMap(([n, l]) =>
          forbiddenIn(l).map((f) => `${n} refused by RBAC: ${f}`),
        );
        throw new Error(`${[(e as Error).message, ...refused].join('\n')}\n${tails.join('\n')}`);
      }
    };
    const assertNoForbidden = (): void => {
      for (const [name, log] of Object.entries(logs)) {
        expect(forbiddenIn(log), `${name} was refused by RBAC (chart roles too narrow)`).toEqual([]);
      }
    };

    // Webhook: the chart's args, with a local port and a certificate the fixture CA signed.
    const webhook = containerOf(find(objs, 'Deployment', 'hybridnet-webhook'));
    const [port, probePort] = [await freePort(), await freePort()];
    const serving = await k.issueServingCert({ ips: ['127.0.0.1'] });
    const whArgs = (webhook.args ?? []).filter(
      (a) => !/^--(port|tls-cert-file|tls-private-key-file|health-probe-addr)=/.test(a),
    );
    const wh = await kubeconfigFor('hybridnet-webhook');
    run(
      'webhook',
      [
        'bin/hybridnet.mjs',
        ...whArgs,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--tls-cert-file=${serving.certFile}`,
        `--tls-private-key-file=${serving.keyFile}`,
        `--health-probe-addr=127.0.0.1:${probePort}`,
        `--kubeconfig=${wh.kubeconfig}`,
      ],
      plainEnv(webhook),
    );
    await withLogs(
      eventually(
        'webhook ready',
        async () => (await fetch(`http://127.0.0.1:${probePort}/readyz`).catch(() => undefined))?.ok,
        60_000,
        250,
      ),
    );
    // The chart's webhook configurations, pointed at the local server instead of the Service.
    const configs = ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'].map((kind) => {
      const o = structuredClone(
        find(objs, kind, kind.startsWith('V') ? 'hybridnet-validating-webhook' : 'hybridnet-mutating-webhook'),
      );
      for (const w of o.webhooks as {
        clientConfig: { service?: { path: string }; url?: string; caBundle?: string };
      }[]) {
        w.clientConfig = {
          url: `https://127.0.0.1:${port}${w.clientConfig.service!.path}`,
          caBundle: Buffer.from(k.caPem).toString('base64'),
        };
      }
      return o;
    });
    const whFile = path.join(k.dir, 'webhooks.yaml');
    writeFileSync(whFile, configs.map((o) => stringify(o)).join('---\n'));
    await k.kubectl(['apply', '-f', whFile]);

    // Manager: the chart's args and env.
    const manager = containerOf(find(objs, 'Deployment', 'hybridnet-manager'));
    const metricsPort = await freePort();
    const mg = await kubeconfigFor('hybridnet-manager');
    run(
      'manager',
      [
        'bin/hybridnet.mjs',
        ...(manager.args ?? []).filter((a) => !a.startsWith('--metrics-port=')),
        `--metrics-port=${metricsPort}`,
        `--kubeconfig=${mg.kubeconfig}`,
      ],
      { ...plainEnv(manager), NAMESPACE: 'kube-system' },
    );

    // The post-install Job's script, with the init ServiceAccount: creates "init" through the fail-closed webhook.
    const job = containerOf(find(objs, 'Job', 'hybridnet-init'));
    const init = await kubeconfigFor('hybridnet-init');
    const initChild = run('init', ['deploy/image/init-network.mjs'], {
      ...plainEnv(job),
      HN_API_SERVER: k.server,
      HN_TOKEN_FILE: init.tokenFile,
      HN_CA_FILE: caFile,
      HN_INIT_TIMEOUT_SECONDS: '60',
    });
    const initCode = await new Promise<number | null>((r) => initChild.once('exit', r));
    expect(initCode, `init Job script failed:\n${logs.init}`).toBe(0);
    expect(logs.init).toMatch(/Network init: created/);
    expect(logs.init).toMatch(/Subnet init: created/);

    // A pod's life.
    await createNode(admin, 'node-1');

    // Daemon of node-1, in a node namespace of its own: the chart's args (socket and state under the test's
    // directory) and env, the daemon ServiceAccount's token, the API server bridged in with socat.
    net = new Harness(Number(new URL(k.server).port), '');
    const nodeNs = await net.netns(`${prefix}node`);
    await ipBatchNs(nodeNs, [
      // no dummy device on every kernel: a veth pair with both ends in the node namespace
      'link add eth0 type veth peer name eth0-peer',
      'link set eth0-peer up',
      'link set eth0 up',
      'addr add 192.168.56.11/24 dev eth0',
      'route add default via 192.168.56.1',
    ]);
    const apiSock = path.join(net.dir, 'api.sock');
    net.spawn(
      'socat',
      [`UNIX-LISTEN:${apiSock},fork,unlink-early`, `TCP:127.0.0.1:${net.apiPort}`],
      path.join(net.dir, 'socat-root.log'),
    );
    net.spawn(
      'ip',
      [
        'netns',
        'exec',
        nodeNs,
        'socat',
        `TCP-LISTEN:${net.apiPort},bind=127.0.0.1,fork,reuseaddr`,
        `UNIX-CONNECT:${apiSock}`,
      ],
      path.join(net.dir, 'socat-node.log'),
    );
    const daemonSet = containerOf(find(objs, 'DaemonSet', 'hybridnet-daemon'));
    const dm = await kubeconfigFor('hybridnet-daemon');
    const socket = path.join(net.dir, 'hybridnet.sock');
    const daemonLog = path.join(k.dir, 'logs', 'daemon.log');
    daemon = net.spawn(
      'ip',
      [
        'netns',
        'exec',
        nodeNs,
        process.execPath,
        path.join(REPO, 'bin/hybridnet.mjs'),
        ...(daemonSet.args ?? []).filter(
          (a) => !/^--(bind-socket|state-dir|health-probe-addr|metrics-addr|kubeconfig)=/.test(a),
        ),
        `--bind-socket=${socket}`,
        `--state-dir=${path.join(net.dir, 'state')}`,
        '--health-probe-addr=127.0.0.1:11021',
        '--metrics-addr=127.0.0.1:8091',
        `--kubeconfig=${dm.kubeconfig}`,
      ],
      daemonLog,
      {
        ...process.env,
        ...plainEnv(daemonSet),
        KUBE_NODE_NAME: 'node-1',
        NODE_IP: '192.168.56.11',
        NODE_EXTRA_CA_CERTS: '',
      },
    );
    writeFileSync(daemonLog, '', { flag: 'a' });
    Object.defineProperty(logs, 'daemon', { get: () => readFileSync(daemonLog, 'utf8'), enumerable: true });
    await withLogs(
      eventually(
        'daemon ready',
        async () => {
          if (daemon!.exitCode !== null) throw new Error(`daemon exited (${daemon!.exitCode})`);
          const r = await sh('ip', ['netns', 'exec', nodeNs, 'curl', '-sf', 'http://127.0.0.1:11021/ready']);
          return r.code === 0 && existsSync(socket);
        },
        60_000,
        250,
      ),
    );

    await k.createNamespace('demo');
    const pod = await createPod(admin, 'demo', 'web-1', { nodeName: 'node-1' });
    const [instance] = await withLogs(waitBound(admin, 'demo', pod, 1, 90_000));
    expect(instance!.spec.network).toBe('init');
    expect(instance!.spec.subnet).toBe('init');
    expect(instance!.spec.address.ip).toMatch(/^100\.64\./);

    // CNI ADD then DEL like a runtime on node-1: the plugin bundle, in the node namespace, with the shipped
    // conflist's plugin configuration on stdin and the pod's namespace as CNI_NETNS.
    const podNs = await net.netns(`${prefix}p-web-1`);
    const conflist = buildConflist(socket, []) as { cniVersion: string; name: string; plugins: object[] };
    const netconf = JSON.stringify({ cniVersion: conflist.cniVersion, name: conflist.name, ...conflist.plugins[0] });
    const containerID = `ctr${randomBytes(6).toString('hex')}`;
    const cni = (command: string): ReturnType<typeof sh> =>
      sh('ip', ['netns', 'exec', nodeNs, CNI_BIN], {
        input: netconf,
        timeoutMs: 60_000,
        env: {
          PATH: process.env.PATH ?? '',
          CNI_COMMAND: command,
          CNI_CONTAINERID: containerID,
          CNI_NETNS: `/var/run/netns/${podNs}`,
          CNI_IFNAME: 'eth0',
          CNI_PATH: path.dirname(CNI_BIN),
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=${containerID};K8S_POD_UID=${pod.metadata?.uid ?? ''}`,
        },
      });
    const add = await withLogs(cni('ADD'));
    if (add.code !== 0) assertNoForbidden();
    expect(add.code, `CNI ADD: ${add.stdout}${add.stderr}\n${logs.daemon!.slice(-4000)}`).toBe(0);
    const result = JSON.parse(add.stdout) as { ips: { address: string }[] };
    expect(result.ips.map((i) => i.address.split('/')[0])).toEqual([instance!.spec.address.ip.split('/')[0]]);
    await withLogs(
      eventually(
        'IPInstance status written by the daemon',
        async () => {
          const [i] = await listIPInstances(admin, 'demo');
          return i?.status?.sandboxID === containerID && i.status.nodeName === 'node-1';
        },
        30_000,
        250,
      ),
    );
    const del = await cni('DEL');
    expect(del.code, `CNI DEL: ${del.stdout}${del.stderr}`).toBe(0);
    const veth = await sh('ip', ['-n', nodeNs, 'link', 'show', hostVethName('demo', 'web-1')]);
    expect(veth.code, 'host veth left after DEL').not.toBe(0);
    await net.delNetns(podNs);

    await deletePod(admin, 'demo', 'web-1');
    await withLogs(
      eventually(
        'IPInstance of web-1 released',
        async () => (await listIPInstances(admin, 'demo')).length === 0,
        60_000,
        250,
      ),
    );
    // Network/Subnet status written by the manager (status subresources).
    await eventually(
      'Subnet init status counted by the manager',
      async () =>
        (await admin.get<{ status?: { total?: number } }>('/apis/networking.alibaba.com/v1/subnets/init')).status
          ?.total,
      30_000,
      250,
    );
    assertNoForbidden();
    for (const c of children.slice(0, 2)) expect(c.exitCode, 'a component exited early').toBeNull();
    expect(daemon.exitCode, 'the daemon exited early').toBeNull();
  }, 240_000);
});
