/**
 * The image definition, tested without a Docker engine: the entry point scripts pass shellcheck; deploy/image/build.sh
 * produces the program tree the Dockerfile copies and the chart runs (/opt/hybridnet/...), and that tree runs
 * (`hybridnet --help` lists every component; install-cni.sh installs a plugin that answers CNI VERSION through the
 * copied Node.js); every command the daemon executes comes from a Debian package the Dockerfile installs; the
 * entry point picks the iptables backend that holds the host's rules.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, render } from './helm.ts';

const execFileP = promisify(execFile);
const IMAGE = path.join(REPO, 'deploy/image');
const dockerfile = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');

/** Commands the daemon runs → the Debian package that provides them. A new command must be added here and to the image. */
const PACKAGE_OF: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  ipset: 'ipset',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  'iptables-restore': 'iptables',
  ip6tables: 'iptables',
  'ip6tables-save': 'iptables',
  'ip6tables-restore': 'iptables',
  nsenter: 'util-linux',
  ping: 'iputils-ping',
  arping: 'arping',
  na6: 'ipv6toolkit',
  ndisc6: 'ndisc6',
  tc: 'iproute2',
  setpriv: 'util-linux',
  sh: 'dash',
  conntrack: 'conntrack',
  gobgp: 'gobgpd',
  gobgpd: 'gobgpd',
  modprobe: 'kmod',
};

function hasShellcheck(): boolean {
  try {
    execFileSync('shellcheck', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Every `.ts` file under `dir` (tests excluded). */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f));
}

describe('image definition (no Docker engine: scripts, build tree, packages)', () => {
  let out: string;

  beforeAll(async () => {
    out = path.join(mkdtempSync(path.join(tmpdir(), 'hn-image-')), 'opt-hybridnet');
    await execFileP('sh', [path.join(IMAGE, 'build.sh'), out], {
      cwd: REPO,
      env: { ...process.env, SKIP_NPM_CI: '1' },
    });
    // Instead of `npm ci --omit=dev` (registry access), the checkout's node_modules.
    symlinkSync(path.join(REPO, 'node_modules'), path.join(out, 'node_modules'));
  }, 180_000);

  afterAll(() => rmSync(path.dirname(out), { recursive: true, force: true }));

  it.skipIf(!hasShellcheck())(
    'entry point scripts pass shellcheck (skipped when shellcheck is not installed)',
    async () => {
      const scripts = readdirSync(IMAGE).filter((f) => f.endsWith('.sh'));
      expect(scripts.length).toBeGreaterThanOrEqual(4);
      await execFileP('shellcheck', ['-x', ...scripts.map((f) => path.join(IMAGE, f))]);
    },
  );

  it('the Dockerfile copies sources that exist, on node:20-bookworm-slim, and no certificate', () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim AS build$/m);
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim$/m);
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)) {
      const parts = m[1]!.trim().split(/\s+/);
      for (const src of parts.slice(0, -1)) expect(existsSync(path.join(REPO, src)), `COPY ${src}`).toBe(true);
    }
    expect(dockerfile).toContain('COPY --from=build /out /opt/hybridnet');
    expect(dockerfile).not.toMatch(/\.(crt|key|pem)\b/);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
  });

  it('the build tree holds what the chart and the scripts run, and runs every component command', async () => {
    for (const f of [
      'bin/hybridnet.mjs',
      'dist/hybridnet.mjs',
      'dist/cni/hybridnet',
      'image/entrypoint.sh',
      'image/install-cni.sh',
      'image/uninstall-policy.sh',
      'image/init-network.mjs',
      'package.json',
      'package-lock.json',
    ])
      expect(existsSync(path.join(out, f)), f).toBe(true);
    // Every /opt/hybridnet path in the rendered chart exists in the tree.
    const rendered = JSON.stringify(await render());
    const referenced = [...new Set([...rendered.matchAll(/\/opt\/hybridnet\/([\w./-]+)/g)].map((m) => m[1]!))];
    expect(referenced.length).toBeGreaterThan(0);
    for (const f of referenced) expect(existsSync(path.join(out, f)), `/opt/hybridnet/${f}`).toBe(true);

    const { stdout } = await execFileP(path.join(out, 'image/entrypoint.sh'), ['--help'], {
      env: { ...process.env, HYBRIDNET_HOME: out },
    });
    for (const cmd of ['manager', 'webhook', 'daemon', 'install-cni'])
      expect(stdout).toMatch(new RegExp(`^\\s+${cmd} `, 'm'));
  });

  it('install-cni.sh installs the plugin as a standalone executable; it answers CNI VERSION without Node.js', async () => {
    const host = mkdtempSync(path.join(tmpdir(), 'hn-host-'));
    const [bin, conf] = [path.join(host, 'opt/cni/bin'), path.join(host, 'etc/cni/net.d')];
    mkdirSync(conf, { recursive: true });
    writeFileSync(path.join(conf, '05-hybridnet.conflist'), '{}');
    await execFileP(
      path.join(out, 'image/install-cni.sh'),
      [`--bin-dir=${bin}`, `--conf-dir=${conf}`, '--plugins=loopback,bandwidth', '--socket=/run/cni/hybridnet.sock'],
      { env: { ...process.env, HYBRIDNET_HOME: out } },
    );
    expect(readdirSync(bin).sort()).toEqual(['bandwidth', 'hybridnet', 'loopback']);
    expect(readdirSync(conf)).toEqual(['06-hybridnet.conflist']);
    expect(readFileSync(path.join(bin, 'hybridnet')).subarray(0, 4)).toEqual(Buffer.from('\x7fELF', 'latin1'));
    // PATH without node: the plugin needs no runtime on the host. CNI reads stdin: close it.
    const run = execFileP(path.join(bin, 'hybridnet'), [], { env: { PATH: '/nonexistent', CNI_COMMAND: 'VERSION' } });
    run.child.stdin?.end();
    const version = await run;
    expect((JSON.parse(version.stdout) as { supportedVersions: string[] }).supportedVersions).toContain('1.0.0');
    rmSync(host, { recursive: true, force: true });
  });

  it('every command the daemon executes comes from a package the Dockerfile installs', () => {
    const apt = /apt-get install[^\n]*\\\n([^\n]+)/.exec(dockerfile)?.[1] ?? '';
    const installed = new Set(apt.trim().split(/\s+/));
    const used = new Set<string>();
    for (const file of [...sources(path.join(REPO, 'src/daemon')), path.join(REPO, 'src/cli/daemon.ts')]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/runner\(\s*'([\w.-]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/\[\s*'(nsenter)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/'(ip6?tables(?:-save|-restore)?)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/'(sh)', '-c'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(3);
    const unknown = [...used].filter((c) => PACKAGE_OF[c] === undefined);
    expect(unknown, 'commands with no known package: add to PACKAGE_OF and to the image').toEqual([]);
    const missing = [...used].filter((c) => PACKAGE_OF[c] !== 'dash' && !installed.has(PACKAGE_OF[c]!));
    expect(missing, 'commands whose package the Dockerfile does not install').toEqual([]);
    for (const p of ['conntrack', 'gobgpd', 'containernetworking-plugins']) expect(installed.has(p), p).toBe(true);
  });

  it('entrypoint.sh selects the iptables backend that holds the rules (legacy or nft) before starting the daemon', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hn-entry-'));
    const stubs = path.join(dir, 'bin');
    mkdirSync(stubs);
    const stub = (name: string, body: string): void => {
      writeFileSync(path.join(stubs, name), `#!/bin/sh\n${body}\n`);
      chmodSync(path.join(stubs, name), 0o755);
    };
    const fakeHome = path.join(dir, 'home');
    mkdirSync(path.join(fakeHome, 'bin'), { recursive: true });
    writeFileSync(path.join(fakeHome, 'bin/hybridnet.mjs'), 'console.log("ran", process.argv.slice(2).join(" "));\n');
    stub('update-alternatives', `echo "$@" >> ${dir}/alternatives`);
    const run = async (legacyRules: number, nftRules: number, args = ['daemon', '--x']): Promise<string> => {
      const rules = (n: number): string => `echo '*filter'; ${'echo "-A KUBE-X -j ACCEPT"; '.repeat(n)} echo COMMIT`;
      stub('iptables-legacy-save', rules(legacyRules));
      stub('ip6tables-legacy-save', rules(0));
      stub('iptables-nft-save', rules(nftRules));
      stub('ip6tables-nft-save', rules(0));
      writeFileSync(path.join(dir, 'alternatives'), '');
      const { stdout } = await execFileP(path.join(IMAGE, 'entrypoint.sh'), args, {
        env: { PATH: `${stubs}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HYBRIDNET_HOME: fakeHome },
      });
      expect(stdout).toBe(`ran ${args.join(' ')}\n`);
      return readFileSync(path.join(dir, 'alternatives'), 'utf8');
    };
    expect(await run(5, 1)).toBe(
      '--set iptables /usr/sbin/iptables-legacy\n--set ip6tables /usr/sbin/ip6tables-legacy\n',
    );
    expect(await run(0, 3)).toBe('--set iptables /usr/sbin/iptables-nft\n--set ip6tables /usr/sbin/ip6tables-nft\n');
    expect(await run(0, 0)).toContain('iptables-nft');
    expect(await run(9, 0, ['manager'])).toBe(''); // only the daemon touches iptables
  });
});
