/**
 * The Helm chart rendered by the real `helm` (v3.22): default values, dual stack, the original chart's example
 * values; `helm lint`; CRDs equal deploy/crds; webhook configurations equal what src/webhook/configurations.ts builds;
 * values the implementation does not support fail the render with a message naming the key.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildWebhookConfigurations } from '../../src/webhook/configurations.ts';
import { CHART, find, helm, ORIGINAL_EXAMPLE_VALUES, REPO, render, valuesFile, type Rendered } from './helm.ts';

interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext?: Record<string, unknown>;
  livenessProbe?: { httpGet?: { path: string; port: number } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  priorityClassName?: string;
  serviceAccountName: string;
  tolerations?: { operator?: string; effect?: string }[];
  nodeSelector?: Record<string, string>;
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string } }[];
  affinity?: { podAntiAffinity?: unknown };
}
const podSpec = (o: Rendered): PodSpec => (o.spec as { template: { spec: PodSpec } }).template.spec;
const envOf = (c: Container): Record<string, string> =>
  Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? `fieldRef:${e.valueFrom?.fieldRef?.fieldPath}`]));
const webhooksOf = (o: Rendered): { name: string; failurePolicy: string; [k: string]: unknown }[] =>
  o.webhooks as { name: string; failurePolicy: string }[];

describe('helm chart (helm v3.22 real)', () => {
  it('helm lint passes without warnings for default, dual-stack and the original example values', async () => {
    for (const extra of [
      [],
      ['--set', 'defaultIPFamily=DualStack,init.cidrV6=fd00:100:64::/64'],
      ['--values', valuesFile(ORIGINAL_EXAMPLE_VALUES)],
    ]) {
      const { stdout } = await helm(['lint', CHART, '--strict', '--kube-version', '1.34.12', ...extra]);
      expect(stdout).toContain('0 chart(s) failed');
      expect(stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('renders every component with defaults: DaemonSet, two Deployments, Service, webhook configs, RBAC', async () => {
    const objs = await render();
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole/hybridnet-daemon',
        'ClusterRole/hybridnet-init',
        'ClusterRole/hybridnet-manager',
        'ClusterRole/hybridnet-webhook',
        'ClusterRoleBinding/hybridnet-daemon',
        'ClusterRoleBinding/hybridnet-init',
        'ClusterRoleBinding/hybridnet-manager',
        'ClusterRoleBinding/hybridnet-webhook',
        'DaemonSet/hybridnet-daemon',
        'Deployment/hybridnet-manager',
        'Deployment/hybridnet-webhook',
        'Job/hybridnet-init',
        'MutatingWebhookConfiguration/hybridnet-mutating-webhook',
        'Role/hybridnet-manager',
        'RoleBinding/hybridnet-manager',
        'Secret/hybridnet-webhook-cert',
        'Service/hybridnet-webhook',
        'ServiceAccount/hybridnet-daemon',
        'ServiceAccount/hybridnet-init',
        'ServiceAccount/hybridnet-manager',
        'ServiceAccount/hybridnet-webhook',
        'ValidatingWebhookConfiguration/hybridnet-validating-webhook',
      ].sort(),
    );

    const ds = podSpec(find(objs, 'DaemonSet', 'hybridnet-daemon'));
    expect(ds).toMatchObject({ hostNetwork: true, hostPID: true, priorityClassName: 'system-node-critical' });
    expect(ds.serviceAccountName).toBe('hybridnet-daemon');
    expect(ds.tolerations).toEqual([{ operator: 'Exists' }]);
    const daemon = ds.containers.find((c) => c.name === 'cni-daemon')!;
    expect(daemon.args?.[0]).toBe('daemon');
    expect(daemon.args).toContain('--bind-socket=/run/cni/hybridnet.sock');
    expect(daemon.securityContext).toMatchObject({ privileged: true, runAsUser: 0 });
    expect(envOf(daemon)).toEqual({
      DEFAULT_IP_FAMILY: 'IPv4',
      KUBE_NODE_NAME: 'fieldRef:spec.nodeName',
      NODE_IP: 'fieldRef:status.podIP',
    });
    expect(daemon.livenessProbe?.httpGet).toMatchObject({ path: '/live', port: 11021 });
    expect(Object.fromEntries((daemon.volumeMounts ?? []).map((m) => [m.mountPath, m.name]))).toMatchObject({
      '/run/cni': 'host-run-cni',
      '/var/lib/hybridnet': 'host-state',
      '/lib/modules': 'host-modules',
      '/run/xtables.lock': 'xtables-lock',
      '/var/run/netns': 'host-netns-dir',
    });
    const install = ds.initContainers?.find((c) => c.name === 'install-cni');
    expect(install?.command).toEqual(['/opt/hybridnet/image/install-cni.sh']);
    expect(install?.args).toContain('--plugins=loopback,bandwidth');
    expect(install?.args).toContain('--socket=/run/cni/hybridnet.sock');
    expect(ds.initContainers?.map((c) => c.name)).toEqual(['install-cni', 'uninstall-policy']);

    const mgrObj = find(objs, 'Deployment', 'hybridnet-manager');
    expect((mgrObj.spec as { replicas: number }).replicas).toBe(3);
    const mgr = podSpec(mgrObj);
    expect(mgr.serviceAccountName).toBe('hybridnet-manager');
    expect(mgr.hostNetwork).toBe(true);
    expect(mgr.nodeSelector).toEqual({ 'node-role.kubernetes.io/control-plane': '' });
    expect(mgr.affinity?.podAntiAffinity).toBeDefined();
    const m = mgr.containers[0]!;
    expect(m.args).toEqual([
      'manager',
      '--default-ip-retain=true',
      '--controller-concurrency=Pod=1,IPAM=1,IPInstance=1',
      '--metrics-port=9899',
    ]);
    expect(envOf(m)).toEqual({
      NAMESPACE: 'fieldRef:metadata.namespace',
      DEFAULT_NETWORK_TYPE: 'Overlay',
      DEFAULT_IP_FAMILY: 'IPv4',
    });
    expect(m.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false });

    const wh = podSpec(find(objs, 'Deployment', 'hybridnet-webhook'));
    expect(wh.serviceAccountName).toBe('hybridnet-webhook');
    const w = wh.containers[0]!;
    expect(w.args?.[0]).toBe('webhook');
    expect(w.args).toContain(
      '--ipinstance-writers=system:serviceaccount:kube-system:hybridnet-manager,system:serviceaccount:kube-system:hybridnet-daemon,' +
        'system:serviceaccount:kube-system:generic-garbage-collector,system:serviceaccount:kube-system:namespace-controller,system:kube-controller-manager',
    );
    expect(w.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(envOf(w)).toEqual({ DEFAULT_NETWORK_TYPE: 'Overlay', DEFAULT_IP_FAMILY: 'IPv4' });
    const svc = find(objs, 'Service', 'hybridnet-webhook').spec as { ports: { port: number; targetPort: string }[] };
    expect(svc.ports).toEqual([{ name: 'webhook', port: 443, protocol: 'TCP', targetPort: 'webhook-port' }]);
  });

  it('webhook configurations equal buildWebhookConfigurations() for the Service, with a generated CA that signed the serving cert', async () => {
    const objs = await render();
    const secret = find(objs, 'Secret', 'hybridnet-webhook-cert') as Rendered & { data: Record<string, string> };
    const caPem = Buffer.from(secret.data['ca.crt']!, 'base64').toString();
    const certPem = Buffer.from(secret.data['tls.crt']!, 'base64').toString();
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(certPem);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subjectAltName).toContain('DNS:hybridnet-webhook.kube-system.svc');

    const { validating, mutating } = buildWebhookConfigurations({
      caBundle: caPem,
      target: { service: { namespace: 'kube-system', name: 'hybridnet-webhook', port: 443 } },
    });
    const v = find(objs, 'ValidatingWebhookConfiguration', 'hybridnet-validating-webhook');
    const mu = find(objs, 'MutatingWebhookConfiguration', 'hybridnet-mutating-webhook');
    expect(webhooksOf(v)).toEqual(validating.webhooks);
    expect(webhooksOf(mu)).toEqual(mutating.webhooks);
    const policies = Object.fromEntries(webhooksOf(v).map((w) => [w.name, w.failurePolicy]));
    expect(policies).toEqual({
      'hybridnet-v1.validating.hybridnet': 'Fail',
      'ipinstance-v1.validating.hybridnet': 'Ignore',
      'core-v1.validating.hybridnet': 'Ignore',
    });
  });

  it('the original chart example values render with their meaning (registry, replicas, selectors, interfaces, defaults)', async () => {
    const objs = await render({ values: ORIGINAL_EXAMPLE_VALUES });
    const mgrObj = find(objs, 'Deployment', 'hybridnet-manager');
    expect((mgrObj.spec as { replicas: number }).replicas).toBe(2);
    const mgr = podSpec(mgrObj);
    expect(mgr.containers[0]!.image).toBe('registry.example.org/example.org/hybridnet/hybridnet:v0.1.0');
    expect(mgr.nodeSelector).toEqual({ 'node-role.kubernetes.io/master': '' });
    expect(mgr.containers[0]!.args).toContain('--controller-concurrency=Pod=4,IPAM=1,IPInstance=2');
    expect(mgr.containers[0]!.args).toContain('--default-ip-retain=false');
    expect(envOf(mgr.containers[0]!)).toMatchObject({
      DEFAULT_NETWORK_TYPE: 'Underlay',
      DEFAULT_IP_FAMILY: 'DualStack',
    });
    const daemon = podSpec(find(objs, 'DaemonSet', 'hybridnet-daemon')).containers[0]!;
    expect(daemon.args).toEqual(
      expect.arrayContaining([
        '--prefer-vxlan-interfaces=eth1,eth0',
        '--prefer-vlan-interfaces=bond0',
        '--prefer-bgp-interfaces=eth2',
        '--bgp-grpc-server-addr=127.0.0.1:50051',
        '--check-pod-connectivity-from-host=false',
        '--enable-vlan-arp-enhancement=true',
      ]),
    );
    const pod = webhooksOf(find(objs, 'MutatingWebhookConfiguration', 'hybridnet-mutating-webhook'))[0]!;
    expect(pod.objectSelector).toEqual({
      matchExpressions: [
        { key: 'webhook.hybridnet.io/ignore', operator: 'NotIn', values: ['TRUE', 'true'] },
        { key: 'app', operator: 'NotIn', values: ['kube-proxy', 'node-local-dns'] },
      ],
    });
    const job = podSpec(find(objs, 'Job', 'hybridnet-init')).containers[0]!;
    const initObjects = JSON.parse(envOf(job).HN_INIT_OBJECTS!) as { kind: string; spec: unknown }[];
    expect(initObjects).toEqual([
      {
        apiVersion: 'networking.alibaba.com/v1',
        kind: 'Network',
        metadata: { name: 'init' },
        spec: { netID: 7, type: 'Overlay' },
      },
      {
        apiVersion: 'networking.alibaba.com/v1',
        kind: 'Subnet',
        metadata: { name: 'init' },
        spec: { network: 'init', config: { autoNatOutgoing: true }, range: { cidr: '10.200.0.0/16', version: '4' } },
      },
    ]);
  });

  it('dual stack: DEFAULT_IP_FAMILY=DualStack everywhere and an IPv6 init subnet in the same Network', async () => {
    const objs = await render({ values: { defaultIPFamily: 'DualStack', init: { cidrV6: 'fd00:100:64::/64' } } });
    for (const [kind, name] of [
      ['Deployment', 'hybridnet-manager'],
      ['Deployment', 'hybridnet-webhook'],
      ['DaemonSet', 'hybridnet-daemon'],
    ] as const) {
      const c = podSpec(find(objs, kind, name)).containers[0]!;
      expect(envOf(c).DEFAULT_IP_FAMILY).toBe('DualStack');
    }
    const job = podSpec(find(objs, 'Job', 'hybridnet-init')).containers[0]!;
    const subnets = (JSON.parse(envOf(job).HN_INIT_OBJECTS!) as { kind: string; spec: { range?: unknown } }[]).filter(
      (o) => o.kind === 'Subnet',
    );
    expect(subnets.map((s) => s.spec.range)).toEqual([
      { cidr: '100.64.0.0/16', version: '4' },
      { cidr: 'fd00:100:64::/64', version: '6' },
    ]);
    const annotations = find(objs, 'Job', 'hybridnet-init').metadata.annotations;
    expect(annotations?.['helm.sh/hook']).toBe('post-install');
  });

  it('cert-manager: Issuer + Certificate, CA injected by annotation, no Secret and no caBundle from Helm', async () => {
    const objs = await render({ values: { certManager: { enabled: true } } });
    expect(objs.some((o) => o.kind === 'Secret')).toBe(false);
    find(objs, 'Issuer', 'hybridnet-webhook-selfsigned');
    const cert = find(objs, 'Certificate', 'hybridnet-webhook-cert').spec as { dnsNames: string[]; secretName: string };
    expect(cert.secretName).toBe('hybridnet-webhook-cert');
    expect(cert.dnsNames).toContain('hybridnet-webhook.kube-system.svc');
    for (const o of [
      find(objs, 'ValidatingWebhookConfiguration', 'hybridnet-validating-webhook'),
      find(objs, 'MutatingWebhookConfiguration', 'hybridnet-mutating-webhook'),
    ]) {
      expect(o.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe('kube-system/hybridnet-webhook-cert');
      for (const w of webhooksOf(o)) expect((w.clientConfig as { caBundle?: string }).caBundle).toBeUndefined();
    }
  });

  it('CRDs come from deploy/crds (the chart links them, helm ships them)', async () => {
    const objs = await render({ includeCrds: true });
    const crds = objs.filter((o) => o.kind === 'CustomResourceDefinition');
    const dir = path.join(REPO, 'deploy/crds');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(
      files.map((f) => (parse(readFileSync(path.join(dir, f), 'utf8')) as Rendered).metadata.name).sort(),
    );
    for (const f of files) {
      const want = parse(readFileSync(path.join(dir, f), 'utf8')) as Rendered;
      expect(find(crds, 'CustomResourceDefinition', want.metadata.name)).toEqual(want);
    }
    // `helm package` follows the link: the archive carries the files themselves.
    const out = mkdtempSync(path.join(tmpdir(), 'hn-pkg-'));
    await helm(['package', CHART, '--destination', out]);
    const archive = readdirSync(out).find((f) => f.endsWith('.tgz'))!;
    const { stdout } = await promisify(execFile)('tar', ['tzf', path.join(out, archive)]);
    expect(
      stdout
        .split('\n')
        .filter((l) => l.startsWith('hybridnet/crds/'))
        .sort(),
    ).toEqual(files.map((f) => `hybridnet/crds/${f}`).sort());
  });

  it('every flag the chart passes exists in the command it runs (daemon, install-cni, manager, webhook)', async () => {
    const objs = await render({ values: ORIGINAL_EXAMPLE_VALUES });
    const ds = podSpec(find(objs, 'DaemonSet', 'hybridnet-daemon'));
    const runs: [string, string[]][] = [
      ['daemon', ds.containers[0]!.args!.slice(1)],
      ['install-cni', ds.initContainers![0]!.args!],
      ['manager', podSpec(find(objs, 'Deployment', 'hybridnet-manager')).containers[0]!.args!.slice(1)],
      ['webhook', podSpec(find(objs, 'Deployment', 'hybridnet-webhook')).containers[0]!.args!.slice(1)],
    ];
    for (const [cmd, args] of runs) {
      const { stdout } = await promisify(execFile)(process.execPath, [
        path.join(REPO, 'bin/hybridnet.mjs'),
        cmd,
        '--help',
      ]);
      const known = new Set([...stdout.matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1]));
      const unknown = args.map((a) => a.split('=')[0]!).filter((f) => !known.has(f));
      expect(unknown, `flags of 'hybridnet ${cmd}' the chart passes but the command lacks`).toEqual([]);
    }
  });

  it('passes daemon.enableVlanARPEnhancement=false to the daemon (SPEC §7.6)', async () => {
    const objs = await render({ values: { daemon: { enableVlanARPEnhancement: false } } });
    const daemon = podSpec(find(objs, 'DaemonSet', 'hybridnet-daemon')).containers[0]!;
    expect(daemon.args).toContain('--enable-vlan-arp-enhancement=false');
    expect(daemon.args).not.toContain('--enable-vlan-arp-enhancement=true');
  });

  it.each([
    [{ daemon: { enableFelixPolicy: true } }, 'daemon.enableFelixPolicy=true'],
    [
      { daemon: { enableVlanARPEnhancement: 'sometimes' } },
      'daemon.enableVlanARPEnhancement="sometimes": must be true or false',
    ],
    [{ typha: { replicas: 3, serverPort: 5473 } }, 'typha: Calico Typha is not supported'],
    [{ multiCluster: true }, 'multiCluster=true'],
    [{ vmIPRetain: true }, 'vmIPRetain=true'],
    [{ daemon: { vtepAddressCIDRs: '10.0.0.0/8' } }, 'daemon.vtepAddressCIDRs="10.0.0.0/8"'],
    [{ init: { ipVersion: '5' } }, 'init.ipVersion="5"'],
    [{ defaultIPFamily: 'IPv5' }, 'defaultIPFamily="IPv5"'],
  ])('refuses unsupported values %j with a message naming the key', async (values, message) => {
    await expect(render({ values })).rejects.toThrow(message);
  });
});
