/**
 * The CNI plugin run as a real process the way a runtime runs it (env + stdin), against a stand-in daemon on a unix
 * socket: every malformed input gets its own CNI error code and message. Every case runs twice: on the executable
 * compiled by Bun (`dist/cni/hybridnet`, what install-cni installs) and on the esbuild bundle it was compiled from
 * (`hybridnet.cjs`) under Node.js — the plugin has a transport for each runtime.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pluginEnv } from './plugin-kit.ts';
import { buildCni } from '../../tools/build-cni.ts';
import { sh } from '../datapath/harness.ts';

let bin: string;
/** The plugin command of the runtime under test (set by each `describe.each` block). */
let exe: string[] = [];
let dir: string;
let server: http.Server;
let socket: string;
let lastBody: unknown;

const env = pluginEnv;

const conf = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'hybridnet', type: 'hybridnet', server_socket: socket, ...extra });

async function plugin(
  e: Record<string, string>,
  stdin: string,
): Promise<{ code: number; out: Record<string, unknown> }> {
  const r = await sh(exe[0] ?? '', exe.slice(1), { env: e, input: stdin, timeoutMs: 30_000 });
  return { code: r.code, out: r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {} };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hn-cni-'));
  bin = await buildCni(path.join(dir, 'hybridnet'));
  socket = path.join(dir, 'd.sock');
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      lastBody = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
      const b = lastBody as { pod_name?: string } | undefined;
      if (b?.pod_name === 'slow') return; // never answers
      if (b?.pod_name === 'missing') {
        res
          .writeHead(400)
          .end(JSON.stringify({ address: null, host_interface: '', error: 'pod ns1/missing not found', code: 3 }));
        return;
      }
      if (req.url === '/api/v1/del') {
        res.writeHead(204).end();
        return;
      }
      res.writeHead(200).end(
        JSON.stringify({
          address: [{ ip: '10.1.0.5/24', mac: '02:12:34:00:00:09', gateway: '10.1.0.1', protocol: '4' }],
          host_interface: 'hybrabcdef01234',
          container_interface: 'eth0',
          mtu: 1450,
          error: '',
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(socket, () => r()));
});

afterAll(async () => {
  await new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  rmSync(dir, { recursive: true, force: true });
});

describe('CNI plugin build', () => {
  it('is a standalone ELF executable compiled from one small CommonJS bundle', () => {
    expect(readFileSync(bin).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(statSync(bin).mode & 0o777).toBe(0o755);
    const bundle = `${bin}.cjs`;
    expect(readFileSync(bundle, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(bundle).size).toBeLessThan(64 * 1024);
    // nothing half-written is left next to them
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe.each([
  ['compiled by Bun', (): string[] => [bin]],
  ['bundle under Node.js', (): string[] => [process.execPath, `${bin}.cjs`]],
])('CNI plugin %s (real process, stand-in daemon socket)', (_runtime, command) => {
  beforeAll(() => {
    exe = command();
  });

  it('ADD forwards the pod to the daemon and prints the 1.0.0 result', async () => {
    const r = await plugin(env({ CNI_ARGS: 'K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1;K8S_POD_UID=u1' }), conf());
    expect(r.code).toBe(0);
    expect(lastBody).toMatchObject({
      pod_name: 'p1',
      pod_namespace: 'ns1',
      pod_uid: 'u1',
      container_id: 'c1',
      if_name: 'eth0',
    });
    expect(r.out).toMatchObject({
      cniVersion: '1.0.0',
      ips: [{ address: '10.1.0.5/24', gateway: '169.254.1.1', interface: 1 }],
    });
  });

  it.each([
    { name: 'malformed JSON', code: 6, e: env(), stdin: '{"cniVersion":', msg: /not valid JSON/ },
    {
      name: 'unknown cniVersion',
      code: 1,
      e: env(),
      stdin: JSON.stringify({ cniVersion: '7.0.0', name: 'n', server_socket: '/x' }),
      msg: /not supported/,
    },
    {
      name: 'no server_socket',
      code: 7,
      e: env(),
      stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'n' }),
      msg: /server_socket is required/,
    },
    { name: 'no CNI_COMMAND', code: 4, e: env({ CNI_COMMAND: '' }), stdin: 'CONF', msg: /CNI_COMMAND is required/ },
    { name: 'no CNI_NETNS on ADD', code: 4, e: env({ CNI_NETNS: '' }), stdin: 'CONF', msg: /CNI_NETNS is required/ },
    {
      name: 'no K8S_POD_NAME',
      code: 4,
      e: env({ CNI_ARGS: 'K8S_POD_NAMESPACE=a' }),
      stdin: 'CONF',
      msg: /K8S_POD_NAME is required/,
    },
    {
      name: 'unknown CNI_ARGS key',
      code: 4,
      e: env({ CNI_ARGS: 'K8S_POD_NAMESPACE=a;K8S_POD_NAME=b;X=1' }),
      stdin: 'CONF',
      msg: /unknown argument "X"/,
    },
    {
      name: 'bad CNI_IFNAME',
      code: 4,
      e: env({ CNI_IFNAME: 'has space' }),
      stdin: 'CONF',
      msg: /not a valid interface/,
    },
    { name: 'ipam section', code: 2, e: env(), stdin: 'IPAM', msg: /does not use an "ipam" section/ },
  ])('$name → code $code', async ({ code, e, stdin, msg }) => {
    const input = stdin === 'CONF' ? conf() : stdin === 'IPAM' ? conf({ ipam: { type: 'host-local' } }) : stdin;
    const r = await plugin(e, input);
    expect(r.code).toBe(1);
    expect(r.out.code).toBe(code);
    expect(String(r.out.msg)).toMatch(msg);
  });

  it('a missing daemon socket is "try again later" (11) naming the socket', async () => {
    const r = await plugin(env(), conf({ server_socket: path.join(dir, 'none.sock') }));
    expect(r.out).toMatchObject({ code: 11 });
    expect(String(r.out.msg)).toContain('none.sock does not exist');
  });

  it('a daemon that does not answer in time is code 11 with the timeout', async () => {
    const r = await plugin(
      env({ CNI_ARGS: 'K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=slow' }),
      conf({ daemon_timeout_seconds: 1 }),
    );
    expect(r.out).toMatchObject({ code: 11 });
    expect(String(r.out.msg)).toContain('did not answer /api/v1/add within 1s');
  });

  it("passes the daemon's error and code through", async () => {
    const r = await plugin(env({ CNI_ARGS: 'K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=missing' }), conf());
    expect(r.out).toMatchObject({ code: 3, msg: 'request ip return 400: pod ns1/missing not found' });
  });

  it('DEL succeeds with an empty CNI_NETNS; with the daemon down it is queued for the daemon', async () => {
    expect((await plugin(env({ CNI_COMMAND: 'DEL', CNI_NETNS: '' }), conf())).code).toBe(0);
    const down = path.join(dir, 'down', 'hybridnet.sock');
    const r = await plugin(env({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'gone1' }), conf({ server_socket: down }));
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, 'down', 'hybridnet-pending-del', 'gone1'))).toBe(true);
  });

  it('VERSION works without a configuration', async () => {
    const r = await plugin(env({ CNI_COMMAND: 'VERSION' }), '');
    expect(r.out).toMatchObject({ cniVersion: '1.1.0' });
    expect(r.out.supportedVersions).toContain('0.3.1');
  });
});
