import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConflist, installCni } from './install.ts';

describe('install-cni (SPEC §1, §6.1)', () => {
  it('builds the shipped conflist', () => {
    expect(buildConflist('/run/cni/hybridnet.sock', ['loopback', 'bandwidth'])).toEqual({
      name: 'hybridnet',
      cniVersion: '0.3.1',
      plugins: [
        { type: 'hybridnet', server_socket: '/run/cni/hybridnet.sock' },
        { type: 'bandwidth', capabilities: { bandwidth: true } },
      ],
    });
  });

  it('copies the plugin and community plugins, replaces old *-hybridnet.conflist files', () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'hn-install-'));
    try {
      const bin = path.join(d, 'bin');
      const conf = path.join(d, 'net.d');
      for (const f of ['hybridnet', 'loopback']) {
        writeFileSync(path.join(d, f), '#!/bin/sh\n');
      }
      installCni({
        binDir: bin,
        confDir: conf,
        socket: '/run/x.sock',
        plugin: path.join(d, 'hybridnet'),
        communityDir: d,
        plugins: 'loopback',
        confName: '06-hybridnet.conflist',
        cniVersion: '0.3.1',
      });
      writeFileSync(path.join(conf, '00-hybridnet.conflist'), '{}');
      installCni({
        binDir: bin,
        confDir: conf,
        socket: '/run/x.sock',
        plugin: path.join(d, 'hybridnet'),
        communityDir: d,
        plugins: 'loopback',
        confName: '06-hybridnet.conflist',
        cniVersion: '0.3.1',
      });
      expect(readdirSync(bin).sort()).toEqual(['hybridnet', 'loopback']);
      expect(statSync(path.join(bin, 'hybridnet')).mode & 0o777).toBe(0o755);
      expect(readdirSync(conf)).toEqual(['06-hybridnet.conflist']);
      expect(JSON.parse(readFileSync(path.join(conf, '06-hybridnet.conflist'), 'utf8'))).toMatchObject({
        plugins: [{ type: 'hybridnet', server_socket: '/run/x.sock' }],
      });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
