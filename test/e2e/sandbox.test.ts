/**
 * End to end: the real `hybridnet sandbox up`, `demo`, `status`, `env`, `down` commands as child processes, as root,
 * with real network namespaces, a real control plane, the hybridnet daemon + CNI plugin and the kubelet stand-in.
 * Proves the root namespace is unchanged after `down`, and that pod churn leaks nothing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execIn } from '../../src/sandbox/exec.ts';
import { planTopology } from '../../src/sandbox/topology.ts';
import {
  freePort,
  kubectl,
  netnsWithPrefix,
  processesNaming,
  REPO,
  rootSnapshot,
  sandboxCli,
  type CommandResult,
} from './helpers.ts';

const isRoot = process.getuid?.() === 0;
// Random prefixes: two copies of this suite (say a CI checkout and a developer) may run at the same time.
const rnd = (): string => randomBytes(2).toString('hex');
const PREFIX = `he${rnd()}-`;
const CRASH_PREFIX = `hc${rnd()}-`;
const REFUSE_PREFIX = `hr${rnd()}-`;

function explain(r: CommandResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

describe.skipIf(!isRoot)('hybridnet sandbox: root + netns (real)', () => {
  let dir = '';
  let flags: string[] = [];
  let before: Record<string, string> = {};

  beforeAll(async () => {
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'hne-')), 'state');
    before = await rootSnapshot();
    flags = ['--dir', dir, '--prefix', PREFIX, '--api-port', String(await freePort())];
  });

  afterAll(async () => {
    // Safety net when a test failed half-way; the last test asserts a clean `down` on its own.
    if (flags.length > 0) await sandboxCli(['down', ...flags], 120_000);
    if (dir) rmSync(path.dirname(dir), { recursive: true, force: true });
  }, 180_000);

  it('up builds the cluster; kubectl in the root namespace reaches it through the loopback proxy', async () => {
    const r = await sandboxCli(['up', ...flags]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain(`export KUBECONFIG=${dir}/kubeconfig`);
    expect(r.stderr).toMatch(/\[sandbox \+\d+\.\ds\] nodes: node-1, node-2, node-3 registered and Ready/);
    const nodes = await kubectl(dir, [
      'get',
      'nodes',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}',
    ]);
    expect(nodes.trim().split(' ').sort()).toEqual(['node-1=True', 'node-2=True', 'node-3=True']);
    const leases = await kubectl(dir, ['get', 'leases', '-n', 'kube-node-lease', '-o', 'name']);
    expect(leases.trim().split('\n').sort()).toEqual([
      'lease.coordination.k8s.io/node-1',
      'lease.coordination.k8s.io/node-2',
      'lease.coordination.k8s.io/node-3',
    ]);
    expect(await netnsWithPrefix(PREFIX)).toEqual(
      expect.arrayContaining([`${PREFIX}cp`, `${PREFIX}sw`, `${PREFIX}gw`, `${PREFIX}node-1`, `${PREFIX}node-3`]),
    );
  }, 600_000);

  it('the root namespace has only a loopback listener; nodes reach the API server over the LAN', async () => {
    const after = await rootSnapshot();
    for (const k of ['link', 'addr', 'route4', 'route6', 'rule4', 'rule6', 'iptables', 'ip6tables']) {
      expect(after[k], k).toEqual(before[k]);
    }
    const t = planTopology({ prefix: PREFIX, dir });
    const code = await execIn(t.nodes[0]?.netns ?? '', [
      'curl',
      '-sk',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `https://${t.cp.ipv4}:6443/readyz`,
    ]);
    expect(code).toMatch(/^(200|401|403)$/);
  });

  it('up again is harmless; status and env describe the sandbox', async () => {
    const again = await sandboxCli(['up', ...flags]);
    expect(again.code, explain(again)).toBe(0);
    expect(again.stderr).toContain('already up');
    const st = await sandboxCli(['status', ...flags]);
    expect(st.code, explain(st)).toBe(0);
    expect(st.stdout).toMatch(/running {2}kube-apiserver/);
    expect(st.stdout).toMatch(/node node-2: Ready=True/);
    const env = await sandboxCli(['env', ...flags]);
    expect(env.stdout).toContain(`export KUBECONFIG=${dir}/kubeconfig`);
  }, 120_000);

  it('demo: overlay, underlay and DualStack pods reach each other, the gateway and the outside host; StatefulSet keeps its IP', async () => {
    const r = await sandboxCli(['demo', ...flags]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('demo: every check passed');
    const rows = r.stdout.split('\n').filter((l) => /^(db-\d|dual|web-\S+)\s+node-\d/.test(l));
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row).toMatch(/pods 5\/5, gw ok, outside ok/);
    expect(rows.filter((l) => l.includes(' underlay '))).toHaveLength(3);
    // Underlay pods only on the nodes the underlay Network selects.
    for (const l of rows.filter((x) => x.includes(' underlay '))) expect(l).toMatch(/node-[12]/);
    expect(r.stdout).toMatch(/dual\s+node-\d\s+overlay\s+10\.200\.0\.\d+,fd00:200::/);
    expect(r.stdout).toMatch(/overlay → underlay keeps its source address: (\d+)\/\1 connections/);
    expect(r.stdout).toMatch(/db-1 recreated: (\S+) on node-\d → \1 on node-\d: same address/);
  }, 600_000);

  it('pod churn: 100 pods created and deleted in waves leave no IPInstance, veth, route or namespace behind', async () => {
    const t = planTopology({ prefix: PREFIX, dir });
    await kubectl(dir, ['create', 'namespace', 'churn']);
    await waitFor('churn default ServiceAccount', 60_000, async () => {
      await kubectl(dir, ['get', 'serviceaccount', 'default', '-n', 'churn']);
      return true;
    });
    const podNetnsBefore = (await netnsWithPrefix(`${PREFIX}pod-`)).length;
    const vethsBefore = await vethCount(t.nodes.map((n) => n.netns));
    for (let wave = 0; wave < 4; wave++) {
      const pods = Array.from({ length: 25 }, (_, i) => podYaml(`churn-${wave}-${i}`)).join('---\n');
      await kubectlApply(dir, pods);
      await waitFor(`wave ${wave}: 25 pods Running`, 240_000, async () => {
        const out = await kubectl(dir, ['get', 'pods', '-n', 'churn', '-o', 'jsonpath={.items[*].status.phase}']);
        return out.split(' ').filter((p) => p === 'Running').length === 25;
      });
      await kubectl(dir, ['delete', 'pods', '-n', 'churn', '--all', '--wait=true', '--timeout=240s']);
    }
    await waitFor('churn IPInstances released', 60_000, async () => {
      const out = await kubectl(dir, ['get', 'ipinstances', '-n', 'churn', '-o', 'name']);
      return out.trim() === '';
    });
    expect((await netnsWithPrefix(`${PREFIX}pod-`)).length).toBe(podNetnsBefore);
    expect(await vethCount(t.nodes.map((n) => n.netns))).toBe(vethsBefore);
    for (const n of t.nodes) {
      const routes = await execIn(n.netns, ['ip', 'route', 'show', 'table', '39999']);
      const churnPodRoutes = routes.split('\n').filter((l) => l.trim() !== '').length;
      // Only the demo's pods on this node keep local routes.
      const local = (
        await kubectl(dir, ['get', 'pods', '-A', '--field-selector', `spec.nodeName=${n.name}`, '-o', 'name'])
      )
        .trim()
        .split('\n')
        .filter((x) => x !== '').length;
      expect(churnPodRoutes, `${n.name} table 39999:\n${routes}`).toBe(local);
    }
  }, 900_000);

  it('down removes every process, namespace and file; the root namespace is unchanged', async () => {
    const r = await sandboxCli(['down', ...flags], 120_000);
    expect(r.code, explain(r)).toBe(0);
    expect(await netnsWithPrefix(PREFIX)).toEqual([]);
    expect(processesNaming(dir)).toEqual([]);
    const after = await rootSnapshot();
    expect(after).toEqual(before);
    const again = await sandboxCli(['down', ...flags], 120_000);
    expect(again.code, explain(again)).toBe(0);
  }, 180_000);
});

describe.skipIf(!isRoot)('hybridnet sandbox: down after a crash of up, root + netns (real)', () => {
  it('an up killed half-way is fully removed by down', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'hnc-')), 'state');
    const flags = ['--dir', dir, '--prefix', CRASH_PREFIX, '--api-port', String(await freePort())];
    const before = await rootSnapshot();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'hybridnet.mjs'), 'sandbox', 'up', ...flags], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    await waitFor('up to reach the control plane', 120_000, () =>
      Promise.resolve(err.includes('kube-apiserver ready')),
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await netnsWithPrefix(CRASH_PREFIX)).length).toBeGreaterThan(0);
    expect(processesNaming(dir).length).toBeGreaterThan(0);
    const r = await sandboxCli(['down', ...flags], 120_000);
    expect(r.code, explain(r)).toBe(0);
    expect(await netnsWithPrefix(CRASH_PREFIX)).toEqual([]);
    expect(processesNaming(dir)).toEqual([]);
    expect(await rootSnapshot()).toEqual(before);
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }, 300_000);
});

function podYaml(name: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: churn}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: sandbox/responder, command: [sleep, infinity]}]
`;
}

async function kubectlApply(dir: string, yaml: string): Promise<void> {
  const { execFile } = await import('node:child_process');
  const { kubeBinDir } = await import('../../src/sandbox/binaries.ts');
  await new Promise<void>((resolve, reject) => {
    const c = execFile(
      path.join(kubeBinDir(), 'kubectl'),
      ['apply', '-f', '-'],
      { env: { ...process.env, KUBECONFIG: path.join(dir, 'kubeconfig') } },
      (e, _o, stderr) => (e ? reject(new Error(stderr || e.message)) : resolve()),
    );
    c.stdin?.end(yaml);
  });
}

async function vethCount(namespaces: string[]): Promise<number> {
  let n = 0;
  for (const ns of namespaces) {
    const out = await execIn(ns, ['ip', '-o', 'link', 'show', 'type', 'veth']);
    n += out.split('\n').filter((l) => /\bhybr[0-9a-f]+/.test(l)).length;
  }
  return n;
}

async function waitFor(what: string, timeoutMs: number, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe.skipIf(!isRoot)('hybridnet sandbox: refuses to run without root, root + netns (real)', () => {
  it('up as an unprivileged user exits 1 with a clear message and creates nothing', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'hnr-')), 'state');
    const { execFile } = await import('node:child_process');
    const r = await new Promise<CommandResult>((resolve) => {
      execFile(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          path.join(REPO, 'bin', 'hybridnet.mjs'),
        ].concat(['sandbox', 'up', '--dir', dir, '--prefix', REFUSE_PREFIX]),
        { env: { ...process.env, HOME: os.tmpdir() }, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain('hybridnet sandbox up needs root');
    expect(await netnsWithPrefix(REFUSE_PREFIX)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }, 180_000);
});
