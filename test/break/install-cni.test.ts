/**
 * `hybridnet install-cni` (src/cli/install-cni.ts) re-run while a runtime keeps executing the installed plugins and
 * reading the conflist (an init container restarted, a DaemonSet update): no run of the plugins may fail with ETXTBSY
 * or find a missing or half-written file, install-cni itself must not fail with ETXTBSY, and the conf dir must never
 * be without the hybridnet conflist. The installed "plugins" are copies of a real ELF (`sleep`): the kernel reports
 * ETXTBSY only for executables, not for scripts.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCni } from '../../src/cni/install.ts';
import { sh } from '../datapath/harness.ts';

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hn-install-break-'));
  const sleep = (await sh('bash', ['-c', 'command -v sleep'])).stdout.trim();
  for (const f of ['hybridnet', 'loopback']) copyFileSync(sleep, path.join(dir, f));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('install-cni while the runtime runs the plugins', () => {
  it('replaces hybridnet, loopback and the conflist without ETXTBSY or a missing file', async () => {
    const flags = {
      binDir: path.join(dir, 'bin'),
      confDir: path.join(dir, 'net.d'),
      socket: '/run/x.sock',
      plugin: path.join(dir, 'hybridnet'),
      communityDir: dir,
      plugins: 'loopback',
      confName: '06-hybridnet.conflist',
      cniVersion: '0.3.1',
    };
    installCni(flags);
    // what a runtime does for every sandbox: exec the plugins, read the conflist
    const loop = spawn(
      'bash',
      [
        '-c',
        `while :; do "$1/loopback" 0; "$1/hybridnet" 0; [ -s "$2/06-hybridnet.conflist" ] || echo "conflist missing"; done`,
        'runtime',
        flags.binDir,
        flags.confDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let seen = '';
    loop.stdout.on('data', (c: Buffer) => (seen += c.toString()));
    loop.stderr.on('data', (c: Buffer) => (seen += c.toString()));
    const errors: string[] = [];
    try {
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 200; i++) {
        try {
          installCni(flags);
        } catch (err) {
          errors.push(String(err));
        }
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      loop.kill();
      await new Promise((r) => loop.once('close', r));
    }
    expect(errors.slice(0, 3)).toEqual([]);
    expect(seen.replace(/.*Terminated.*\n?/g, '')).toBe('');
    expect(readdirSync(flags.binDir).sort()).toEqual(['hybridnet', 'loopback']);
    expect(readdirSync(flags.confDir)).toEqual(['06-hybridnet.conflist']);
  });
});
