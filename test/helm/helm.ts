/**
 * Helpers of the chart tests: run the fixture's `helm` (tools/kube: v3.22) on deploy/helm/hybridnet and parse what
 * it renders. Renders for Kubernetes v1.34.12 (the fixture's version; helm's built-in default is older than the
 * chart's kubeVersion).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { kubeBinDir } from '../fixture/kube.ts';

const execFileP = promisify(execFile);

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = path.join(REPO, 'deploy/helm/hybridnet');
export const KUBE_VERSION = '1.34.12';

/** A rendered object (loosely typed: the tests read fields by path). */
export interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

/** Runs helm with `args`; resolves stdout and stderr; rejects with helm's stderr. */
export async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(path.join(kubeBinDir(), 'helm'), args, { maxBuffer: 32 << 20, cwd: REPO });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')}: ${err.stderr ?? err.message}`);
  }
}

/** Writes `values` to a temp values file and returns its path. */
export function valuesFile(values: object | string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hn-helm-'));
  const file = path.join(dir, 'values.yaml');
  writeFileSync(file, typeof values === 'string' ? values : stringify(values));
  return file;
}

/** Options of {@link render}. */
export interface RenderOptions {
  values?: object | string;
  namespace?: string;
  includeCrds?: boolean;
  /** Extra helm flags (e.g. `--set`). */
  args?: string[];
}

/** `helm template` of the chart; resolves the parsed objects in order (hooks included). */
export async function render(o: RenderOptions = {}): Promise<Rendered[]> {
  const args = ['template', 'hybridnet', CHART, '--namespace', o.namespace ?? 'kube-system'];
  args.push('--kube-version', KUBE_VERSION);
  if (o.values !== undefined) args.push('--values', valuesFile(o.values));
  if (o.includeCrds) args.push('--include-crds');
  args.push(...(o.args ?? []));
  const { stdout } = await helm(args);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Rendered | null)
    .filter((d): d is Rendered => d !== null);
}

/** The one object of that kind and name; throws naming what exists when missing. */
export function find(objs: Rendered[], kind: string, name: string): Rendered {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o)
    throw new Error(`${kind} ${name} not rendered; have ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

/** A values file in the original chart's keys (alibaba/hybridnet chart 0.6.9), as an existing user would have it. */
export const ORIGINAL_EXAMPLE_VALUES = `
images:
  hybridnet:
    image: example.org/hybridnet/hybridnet
    tag: v0.1.0
    imagePullPolicy: Always
  registryURL: registry.example.org
init:
  cidr: 10.200.0.0/16
  ipVersion: "4"
  vxlanID: 7
manager:
  replicas: 2
  resources:
    requests:
      cpu: 100m
      memory: 256Mi
  controllerConcurrency: "Pod=4,IPAM=1,IPInstance=2"
  kubeClientQPS: 300
  kubeClientBurst: 600
  metricsPort: 9899
  nodeSelector:
    node-role.kubernetes.io/master: ""
webhook:
  additionalPodMatchExpressions:
    - key: app
      operator: NotIn
      values: ["kube-proxy", "node-local-dns"]
  replicas: 2
  resources: {}
  nodeSelector: {}
daemon:
  enableFelixPolicy: false
  cleanFelixRulesWhilePolicyDisabled: true
  preferVxlanInterfaces: "eth1,eth0"
  preferVlanInterfaces: "bond0"
  preferBGPInterfaces: "eth2"
  enableVlanARPEnhancement: true
  vtepAddressCIDRs: "0.0.0.0/0,::/0"
  neededCommunityCNIPlugins: "loopback,bandwidth"
  cniConfName: "06-hybridnet.conflist"
  checkPodConnectivityFromHost: false
  updateIPInstanceStatus: true
  resources: {}
  felix:
    resources: {}
  livenessProbe:
    httpGet:
      path: /live
      port: 11021
      scheme: HTTP
    initialDelaySeconds: 30
    periodSeconds: 20
    successThreshold: 1
    timeoutSeconds: 5
    failureThreshold: 5
defaultIPRetain: false
defaultNetworkType: Underlay
multiCluster: false
defaultIPFamily: DualStack
vmIPRetain: false
`;
