/**
 * The CNI plugin on both of its runtimes (the executable compiled by Bun and the `.cjs` bundle under Node.js, each
 * with its own transport: `fetch({ unix })` and `node:http`) against raw stand-in daemons that speak odd or broken
 * HTTP on a unix socket, odd socket paths, odd configs and signals (issue #6). Every failure is one CNI error line
 * on stdout with the spec code, exit 1, nothing on stderr, no stack trace, no Bun fetch hints.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCniError, pluginEnv, runPlugin, type PluginOutcome } from '../cni/plugin-kit.ts';
import { buildCni } from '../../tools/build-cni.ts';
import { sh } from '../datapath/harness.ts';

let bin: string;
let dir: string;
let exe: string[] = [];

const env = pluginEnv;

const conf = (socket: string, timeoutSeconds = 2): string =>
  JSON.stringify({
    cniVersion: '1.1.0',
    name: 'hybridnet',
    type: 'hybridnet',
    server_socket: socket,
    daemon_timeout_seconds: timeoutSeconds,
  });

const ADD_BODY = JSON.stringify({
  address: [{ ip: '10.1.0.5/24', mac: '02:12:34:00:00:09', gateway: '10.1.0.1', protocol: '4' }],
  host_interface: 'hybrabcdef01234',
  container_interface: 'eth0',
  mtu: 1450,
  error: '',
});

type Outcome = PluginOutcome;

function plugin(e: Record<string, string>, stdin: string, prefix: string[] = []): Promise<Outcome> {
  return runPlugin([...prefix, ...exe], e, stdin);
}

let n = 0;
/**
 * A stand-in daemon speaking raw bytes: `answer` gets the connection once the request (headers and the body its
 * content-length announces) has arrived.
 */
async function rawDaemon(answer: (c: net.Socket) => void): Promise<{ socket: string; close(): void }> {
  const socket = path.join(dir, `raw${++n}`, 'd.sock');
  mkdirSync(path.dirname(socket), { recursive: true });
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on('error', () => undefined);
    let buf = '';
    let answered = false;
    c.on('data', (d: Buffer) => {
      buf += d.toString();
      const end = buf.indexOf('\r\n\r\n');
      if (answered || end < 0) return;
      const len = /content-length: *(\d+)/i.exec(buf.slice(0, end));
      if (buf.length < end + 4 + Number(len?.[1] ?? 0)) return;
      answered = true;
      answer(c);
    });
  });
  await new Promise<void>((r) => server.listen(socket, () => r()));
  return {
    socket,
    close: () => {
      for (const c of conns) c.destroy();
      server.close();
    },
  };
}

const http200 = (head: string, body: string): string => `HTTP/1.1 200 OK\r\n${head}\r\n${body}`;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hn-cni-rt-'));
  bin = await buildCni(path.join(dir, 'hybridnet'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['compiled by Bun', (): string[] => [bin]],
  ['bundle under Node.js', (): string[] => [process.execPath, `${bin}.cjs`]],
])('CNI plugin %s against odd daemons', (_runtime, command) => {
  beforeAll(() => {
    exe = command();
  });

  it.each<[string, string]>([
    ['an HTTP/1.0 answer closed without content-length', `HTTP/1.0 200 OK\r\n\r\n${ADD_BODY}`],
    [
      'a chunked answer',
      http200(
        'Transfer-Encoding: chunked\r\n',
        `5\r\n${ADD_BODY.slice(0, 5)}\r\n${(ADD_BODY.length - 5).toString(16)}\r\n${ADD_BODY.slice(5)}\r\n0\r\n\r\n`,
      ),
    ],
    ['an answer without content-length that closes', http200('Connection: close\r\n', ADD_BODY)],
  ])('ADD succeeds against %s', async (_what, bytes) => {
    const d = await rawDaemon((c) => c.end(bytes));
    try {
      const o = await plugin(env(), conf(d.socket));
      expect(o.stderr).toBe('');
      expect(o.code).toBe(0);
      expect(o.out.ips).toEqual([{ address: '10.1.0.5/24', gateway: '169.254.1.1', interface: 1 }]);
    } finally {
      d.close();
    }
  });

  it.each<[string, (c: net.Socket) => void, number, RegExp]>([
    ['garbage instead of HTTP', (c) => c.end('garbage\r\n\r\n'), 11, /cannot reach hybridnet daemon at .*d\.sock/],
    ['a reset before the headers', (c) => c.destroy(), 11, /cannot reach hybridnet daemon at .*d\.sock: ECONNRESET/],
    [
      'a chunked answer cut in the middle',
      (c) => {
        c.write(http200('Transfer-Encoding: chunked\r\n', '5\r\n{"add\r\n'));
        setTimeout(() => c.destroy(), 50);
      },
      11,
      /daemon at .*d\.sock closed the connection in the middle of its answer/,
    ],
    [
      'headers, then silence',
      (c) => c.write(http200('Content-Length: 100\r\n', '')),
      11,
      /did not answer \/api\/v1\/add within 2s/,
    ],
    [
      'a body trickling in a byte every 300 ms (never idle, never done within the timeout)',
      (c) => {
        c.write(http200('Content-Length: 1000\r\n', ''));
        const drip = setInterval(() => c.write(' '), 300);
        c.on('close', () => clearInterval(drip));
      },
      11,
      /did not answer \/api\/v1\/add within 2s/,
    ],
    [
      'an error with code 0',
      (c) => {
        const b = JSON.stringify({ error: 'boom', code: 0 });
        c.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
      },
      100,
      /request ip return 400: boom/,
    ],
    [
      'an error with code 1.5',
      (c) => {
        const b = JSON.stringify({ error: 'boom', code: 1.5 });
        c.end(`HTTP/1.1 500 Oops\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
      },
      100,
      /request ip return 500: boom/,
    ],
  ])('ADD against %s', async (_what, answer, code, msg) => {
    const d = await rawDaemon(answer);
    try {
      const o = await plugin(env(), conf(d.socket));
      expectCniError(o, code, msg);
      expect(o.ms).toBeLessThan(10_000);
    } finally {
      d.close();
    }
  });

  it('ADD against a 50 MB answer → code 100 with a short message', async () => {
    const d = await rawDaemon((c) => {
      c.write(http200(`Content-Length: ${50 * 1024 * 1024}\r\n`, ''));
      const mb = Buffer.alloc(1024 * 1024, 'a');
      let i = 0;
      const more = (): void => {
        while (i < 50) {
          i++;
          if (!c.write(mb)) return void c.once('drain', more);
        }
        c.end();
      };
      more();
    });
    try {
      const o = await plugin(env(), conf(d.socket));
      expectCniError(o, 100, /not JSON/);
      expect(o.out.msg?.length).toBeLessThan(1000);
    } finally {
      d.close();
    }
  });

  it('a 307 redirect to a TCP host is the answer (code 100), not followed', async () => {
    const tcp = net.createServer((c) => c.destroy());
    let contacted = 0;
    tcp.on('connection', () => contacted++);
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    const port = (tcp.address() as net.AddressInfo).port;
    const d = await rawDaemon((c) =>
      c.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:${port}/x\r\nContent-Length: 0\r\n\r\n`),
    );
    try {
      expectCniError(await plugin(env(), conf(d.socket)), 100, /request ip return 307/);
      expect(contacted).toBe(0);
    } finally {
      d.close();
      tcp.close();
    }
  });

  it('ignores HTTP_PROXY / ALL_PROXY of the runtime’s environment (containerd often has them for image pulls)', async () => {
    const d = await rawDaemon((c) => c.end(http200(`Content-Length: ${ADD_BODY.length}\r\n`, ADD_BODY)));
    try {
      const proxy = 'http://127.0.0.1:1';
      const o = await plugin(env({ HTTP_PROXY: proxy, http_proxy: proxy, ALL_PROXY: proxy }), conf(d.socket));
      expect(o.stderr).toBe('');
      expect(o.code).toBe(0);
    } finally {
      d.close();
    }
  });

  it('a dead socket is code 11 without Bun fetch hints', async () => {
    const socket = path.join(dir, `dead-${++n}.sock`);
    const script = `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`;
    await sh(process.execPath, ['-e', script], { timeoutMs: 10_000 });
    expectCniError(
      await plugin(env(), conf(socket)),
      11,
      /cannot reach hybridnet daemon at .*dead-\d+\.sock: .*ECONNREFUSED/,
    );
  });

  it('a server_socket longer than sun_path is code 7, not a connection to the truncated path', async () => {
    // Node.js truncates the path silently, for listen() and connect() alike: a daemon listening on the truncated
    // path answered a plugin configured with another, longer path
    const long = path.join(dir, `long${++n}`, 'x'.repeat(60), 'y'.repeat(60));
    mkdirSync(long, { recursive: true });
    const server = net.createServer((c) => {
      c.on('error', () => undefined);
      c.end(http200(`Content-Length: ${ADD_BODY.length}\r\n`, ADD_BODY));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path.join(long, 'a.sock'), () => resolve());
    });
    try {
      expectCniError(await plugin(env(), conf(path.join(long, 'b.sock'))), 7, /not a usable unix socket path/);
    } finally {
      server.close();
    }
  });

  it('a daemon_timeout_seconds no timer holds is code 7 and nothing on stderr', async () => {
    expectCniError(await plugin(env(), conf('/run/x.sock', 1e12)), 7, /daemon_timeout_seconds must be/);
  });

  it.runIf(process.getuid?.() === 0)(
    'a socket of another user with mode 0600 (plugin run as nobody) is code 11 naming the socket',
    async () => {
      const d = await rawDaemon((c) => c.end(http200(`Content-Length: ${ADD_BODY.length}\r\n`, ADD_BODY)));
      try {
        await sh('chmod', ['0755', dir, path.dirname(d.socket)]);
        await sh('chmod', ['0600', d.socket]);
        const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
        const o = await plugin(env(), conf(d.socket), asNobody);
        expectCniError(o, 11, /cannot reach hybridnet daemon at .*d\.sock: .*EACCES/);
        expect(o.out.details).toMatch(/as root/);
      } finally {
        d.close();
      }
    },
  );

  it('SIGTERM while waiting for the daemon ends the plugin without noise on stderr', async () => {
    const d = await rawDaemon(() => undefined);
    try {
      const child = spawn(exe[0] ?? '', exe.slice(1), { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stdin.end(conf(d.socket, 30));
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGTERM');
      const signal = await new Promise((r) => child.once('close', (_code, sig) => r(sig)));
      expect(signal).toBe('SIGTERM');
      expect(stderr).toBe('');
      expect(stdout).toBe('');
    } finally {
      d.close();
    }
  });
});
