/**
 * The bundled CNI plugin (`dist/cni/hybridnet`) as a real process against hostile surroundings (issue #5/#6
 * hardening): stdin that is not JSON or is huge, a socket path that is a regular file, a directory or a dead socket,
 * daemons that answer garbage, a wrong shape, or close in the middle of the answer. Every failure is one CNI error
 * object on stdout (spec codes, no stack trace), nothing on stderr, exit code 1.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCniError, pluginEnv, runPlugin, type PluginOutcome } from '../cni/plugin-kit.ts';
import { buildCni } from '../../tools/build-cni.ts';
import { sh } from '../datapath/harness.ts';

let bin: string;
let dir: string;

const env = pluginEnv;

const conf = (socket: string): string =>
  JSON.stringify({
    cniVersion: '1.1.0',
    name: 'hybridnet',
    type: 'hybridnet',
    server_socket: socket,
    daemon_timeout_seconds: 5,
  });

type Outcome = PluginOutcome;

function plugin(e: Record<string, string>, stdin: string): Promise<Outcome> {
  return runPlugin([bin], e, stdin);
}

/** A stand-in daemon on a unix socket that answers every request with `answer`. */
async function daemon(
  name: string,
  answer: (res: http.ServerResponse) => void,
): Promise<{ socket: string; close(): Promise<void> }> {
  const socket = path.join(dir, name, 'd.sock');
  mkdirSync(path.dirname(socket), { recursive: true });
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(socket, () => r()));
  return {
    socket,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hn-cni-break-'));
  bin = await buildCni(path.join(dir, 'hybridnet'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('CNI plugin binary against hostile input and broken daemons', () => {
  it('answers stdin that is not JSON with code 6', async () => {
    expectCniError(await plugin(env(), 'pod please'), 6, /not valid JSON/);
  });

  it('answers 20 MB of stdin with code 6 and a short message', async () => {
    const o = await plugin(env(), 'a'.repeat(20 * 1024 * 1024));
    expectCniError(o, 6, /not valid JSON/);
    expect(o.out.msg?.length).toBeLessThan(1000);
  });

  it('answers a CNI_IFNAME that is a shell command with code 4', async () => {
    expectCniError(await plugin(env({ CNI_IFNAME: "';reboot;'" }), conf('/nonexistent.sock')), 4, /CNI_IFNAME/);
  });

  it.each([
    ['a regular file', 'file'],
    ['a directory', 'dir'],
    ['a socket nobody listens on', 'dead'],
  ])('answers ADD with code 11 when server_socket is %s, and queues a DEL', async (_what, kind) => {
    const base = path.join(dir, `sock-${kind}`);
    mkdirSync(base, { recursive: true });
    const socket = path.join(base, 'd.sock');
    if (kind === 'file') writeFileSync(socket, 'not a socket');
    if (kind === 'dir') mkdirSync(socket);
    if (kind === 'dead') {
      // a daemon killed with SIGKILL leaves its socket file behind
      const script = `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`;
      await sh(process.execPath, ['-e', script], { timeoutMs: 10_000 });
    }
    expectCniError(await plugin(env(), conf(socket)), 11, /cannot reach hybridnet daemon/);
    const del = await plugin(env({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: `queued-${kind}` }), conf(socket));
    expect(del.code).toBe(0);
    expect(readdirSync(path.join(base, 'hybridnet-pending-del'))).toContain(`queued-${kind}`);
  });

  it.each<[string, (res: http.ServerResponse) => void, number, RegExp]>([
    [
      'HTML with status 200',
      (res) => res.writeHead(200).end('<html>oops'),
      100,
      /answered ADD with a body that is not JSON/,
    ],
    ['null with status 200', (res) => res.writeHead(200).end('null'), 100, /not a JSON object/],
    [
      'a wrong shape with status 200',
      (res) => res.writeHead(200).end('{"address":"x"}'),
      100,
      /no host_interface|address/,
    ],
    ['HTML with status 500', (res) => res.writeHead(500).end('<html>500</html>'), 100, /return 500/],
    [
      'half an answer, then a closed connection',
      (res) => {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('{"address":[');
        setTimeout(() => res.socket?.destroy(), 50);
      },
      11,
      /closed the connection in the middle of its answer/,
    ],
    ['a closed connection before any answer', (res) => res.socket?.destroy(), 11, /cannot reach|socket hang up/],
  ])('answers ADD against a daemon that sends %s with a CNI error', async (_what, answer, code, msg) => {
    const d = await daemon(`d-${code}-${Math.random().toString(36).slice(2)}`, answer);
    try {
      expectCniError(await plugin(env(), conf(d.socket)), code, msg);
    } finally {
      await d.close();
    }
  });
});
