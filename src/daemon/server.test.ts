/**
 * The daemon's CNI API against hostile and careless clients (issue #5/#6 hardening): malformed, oversized and
 * wrong-typed bodies, names that would be commands in `ip -batch` / `sh -c`, slow clients, many connections, bad GC
 * lists. Every bad request gets a 4xx with a CNI code naming the field; the handler never sees it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DaemonApi } from './constants.ts';
import {
  HEADERS_TIMEOUT_MS,
  MAX_BODY_BYTES,
  parseGcRequest,
  parsePodRequest,
  startCniServer,
  type CniHandler,
  type PodRequest,
  type ValidAttachment,
} from './server.ts';

interface Reply {
  status: number;
  body: { error?: string; code?: number } & Record<string, unknown>;
}

function call(socket: string, method: string, urlPath: string, body?: string | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: urlPath, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Reply['body']) : {} });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pod = {
  pod_name: 'web-0',
  pod_namespace: 'default',
  container_id: 'abc123',
  net_ns: '/var/run/netns/cni-1',
  if_name: 'eth0',
  network_name: 'hybridnet',
};

describe('parsePodRequest', () => {
  it('accepts what kubelet, containerd, docker and ctr send', () => {
    expect(parsePodRequest(pod, true)).toEqual({
      podName: 'web-0',
      podNamespace: 'default',
      containerID: 'abc123',
      netns: '/var/run/netns/cni-1',
      ifName: 'eth0',
      networkName: 'hybridnet',
    });
    for (const netns of ['/proc/4242/ns/net', '/var/run/docker/netns/1a2b3c', '/run/netns/cni-2b3c-4d5e'])
      expect(parsePodRequest({ ...pod, net_ns: netns }, true).netns).toBe(netns);
    expect(parsePodRequest({ ...pod, if_name: undefined }, true).ifName).toBe('eth0');
    expect(parsePodRequest({ ...pod, if_name: 'net1' }, true).ifName).toBe('net1');
    expect(parsePodRequest({ container_id: 'x', net_ns: '' }, false).netns).toBe('');
  });

  it.each<[string, Record<string, unknown>, number, RegExp]>([
    ['wrong type if_name (was silently eth0)', { if_name: 5 }, 6, /if_name must be a string, got 5/],
    ['wrong type container_id', { container_id: ['a'] }, 6, /container_id must be a string/],
    ['wrong type pod_uid', { pod_uid: {} }, 6, /pod_uid must be a string/],
    ['a container ID with ../', { container_id: '../../etc/x' }, 4, /container_id "..\/..\/etc\/x" is invalid/],
    ['a container ID with a slash', { container_id: 'a/b' }, 4, /container_id/],
    ['a container ID too long for a file name', { container_id: 'a'.repeat(300) }, 4, /container_id/],
    ['a shell command in if_name', { if_name: "';id>&2;'" }, 4, /if_name "';id>&2;'" is invalid/],
    ['an ip -batch comment in if_name', { if_name: '#x' }, 4, /if_name/],
    ['$ in if_name', { if_name: 'e$IFS' }, 4, /if_name/],
    ['if_name ..', { if_name: '..' }, 4, /if_name/],
    ['if_name over 15 characters', { if_name: 'a'.repeat(16) }, 4, /if_name/],
    ['if_name lo', { if_name: 'lo' }, 4, /loopback/],
    ['a relative netns', { net_ns: 'var/run/netns/x' }, 4, /net_ns/],
    ['a netns with ..', { net_ns: '/var/run/netns/../../../etc/passwd' }, 4, /net_ns .* no \. or \.\./],
    ['a netns with a newline (a second ip -batch command)', { net_ns: '/proc/1/ns/net\nlink del eth0' }, 4, /net_ns/],
    ['a netns with a space', { net_ns: '/run/netns/a b' }, 4, /net_ns/],
    ['a pod name with ../', { pod_name: '../../nodes/n1' }, 4, /pod_name/],
    ['a unicode pod name', { pod_name: 'wéb-0' }, 4, /pod_name "wéb-0" is invalid/],
    ['an upper-case namespace', { pod_namespace: 'Default' }, 4, /pod_namespace/],
  ])('refuses %s', (_what, patch, code, msg) => {
    let err: unknown;
    try {
      parsePodRequest({ ...pod, ...patch }, true);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ httpStatus: 400, cniCode: code, message: expect.stringMatching(msg) as unknown });
  });
});

describe('parseGcRequest', () => {
  it('requires a network name: an empty one would remove the attachments of every network', () => {
    expect(() => parseGcRequest({ valid_attachments: [] })).toThrow(/network_name is required/);
    expect(() => parseGcRequest({ network_name: 7, valid_attachments: [] })).toThrow(/network_name must be a string/);
  });

  it('names the bad entry of valid_attachments', () => {
    expect(() =>
      parseGcRequest({ network_name: 'n', valid_attachments: [{ containerID: 'a', ifname: 'eth0' }, null] }),
    ).toThrow(/valid_attachments\[1\]/);
    expect(() =>
      parseGcRequest({ network_name: 'n', valid_attachments: [{ containerID: 1, ifname: 'eth0' }] }),
    ).toThrow(/valid_attachments\[0\]/);
    expect(() => parseGcRequest({ network_name: 'n', valid_attachments: 'all' })).toThrow(/must be an array/);
  });
});

describe('CNI server on a unix socket', () => {
  let dir: string;
  let socket: string;
  let server: http.Server;
  const seen: { op: string; req?: PodRequest; valid?: ValidAttachment[] }[] = [];

  const handler: CniHandler = {
    add: (req) => {
      seen.push({ op: 'add', req });
      return Promise.resolve({ address: [], host_interface: 'hybr0', error: '' });
    },
    del: (req) => {
      seen.push({ op: 'del', req });
      return Promise.resolve();
    },
    check: (req) => {
      seen.push({ op: 'check', req });
      return Promise.resolve();
    },
    ready: () => true,
    gc: (_n, valid) => {
      seen.push({ op: 'gc', valid });
      return Promise.resolve();
    },
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hn-cni-server-'));
    socket = path.join(dir, 'hybridnet.sock');
    server = await startCniServer(socket, handler, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it('serves a well-formed ADD', async () => {
    const r = await call(socket, 'POST', DaemonApi.Add, JSON.stringify({ ...pod, net_ns: '/proc/self/ns/net' }));
    expect(r.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it.each<[string, string | Buffer, number, number]>([
    ['not JSON', 'pod please', 400, 6],
    ['JSON null', 'null', 400, 6],
    ['a JSON array', '[]', 400, 6],
    ['a JSON string', '"x"', 400, 6],
    ['an empty body', '', 400, 4],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 400, 6],
    ['1e6 nested arrays', '['.repeat(1_000_000) + ']'.repeat(1_000_000), 400, 6],
    ['100 000 nested arrays', '['.repeat(100_000) + ']'.repeat(100_000), 400, 6],
    ['a 10 MB body', JSON.stringify({ ...pod, pad: 'x'.repeat(10_000_000) }), 413, 6],
    ['if_name as a number', JSON.stringify({ ...pod, if_name: 5 }), 400, 6],
    ['a shell command in if_name', JSON.stringify({ ...pod, if_name: "';reboot;'" }), 400, 4],
  ])('answers ADD with %s with a 4xx and a CNI code; the handler is not called', async (_what, body, status, code) => {
    const r = await call(socket, 'POST', DaemonApi.Add, body);
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
    expect(r.body.error).toBeTruthy();
    expect(seen).toEqual([]);
  });

  it.each([
    ['a regular file', '/etc/hostname', /is not a network namespace \(filesystem type 0x/],
    ['a directory', '/proc/self/ns', /is not a network namespace/],
    ['a missing path', '/var/run/netns/hn-no-such-netns', /cannot be opened \(ENOENT\)/],
    ['nothing', '', /net_ns is required/],
  ])('answers ADD with net_ns %s with 400 code 4 before the handler runs', async (_what, netns, msg) => {
    const r = await call(socket, 'POST', DaemonApi.Add, JSON.stringify({ ...pod, net_ns: netns }));
    expect(r).toMatchObject({ status: 400, body: { code: 4 } });
    expect(r.body.error).toMatch(msg);
    expect(seen).toEqual([]);
  });

  it('refuses a socket path longer than sun_path instead of binding a shortened one', async () => {
    const long = path.join(dir, 'x'.repeat(120), 'hybridnet.sock');
    await expect(startCniServer(long, handler, pino({ level: 'silent' }))).rejects.toThrow(/at most 107.*sun_path/);
  });

  it('answers GC without network_name with 400 instead of removing every network', async () => {
    const r = await call(socket, 'POST', DaemonApi.Gc, JSON.stringify({ valid_attachments: [] }));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/network_name/);
    expect(seen).toEqual([]);
  });

  it('answers GC with a null entry with 400 naming it (was a TypeError 500 in the daemon)', async () => {
    const r = await call(
      socket,
      'POST',
      DaemonApi.Gc,
      JSON.stringify({ network_name: 'n', valid_attachments: [null] }),
    );
    expect(r).toMatchObject({ status: 400, body: { code: 4 } });
  });

  it('passes a GC list of 30 000 attachments', async () => {
    const valid = Array.from({ length: 30_000 }, (_, i) => ({ containerID: `c${'0'.repeat(60)}${i}`, ifname: 'eth0' }));
    const body = JSON.stringify({ network_name: 'n', valid_attachments: valid });
    expect(body.length).toBeLessThan(MAX_BODY_BYTES);
    const r = await call(socket, 'POST', DaemonApi.Gc, body);
    expect(r.status).toBe(204);
    expect(seen[0]?.valid).toHaveLength(30_000);
  });

  it('answers unknown paths 404 and wrong methods 405 with a CNI code', async () => {
    expect(await call(socket, 'POST', '/api/v1/../v1/add', '{}')).toMatchObject({ status: 404, body: { code: 4 } });
    expect(await call(socket, 'POST', '//', '{}')).toMatchObject({ status: 404, body: { code: 4 } });
    expect(await call(socket, 'GET', DaemonApi.Add)).toMatchObject({ status: 405, body: { code: 4 } });
    expect(await call(socket, 'DELETE', DaemonApi.Del)).toMatchObject({ status: 405 });
  });

  it('serves 200 concurrent connections', async () => {
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        call(socket, 'POST', DaemonApi.Del, JSON.stringify({ ...pod, container_id: `c${i}` })),
      ),
    );
    expect(replies.every((r) => r.status === 204)).toBe(true);
    expect(seen).toHaveLength(200);
  });

  it('keeps serving while clients hold connections open with half a body (slowloris)', async () => {
    const held = Array.from({ length: 20 }, () => {
      const s = net.connect(socket);
      s.on('error', () => undefined);
      s.write(`POST ${DaemonApi.Add} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"pod_name":`);
      return s;
    });
    const r = await call(socket, 'POST', DaemonApi.Del, JSON.stringify(pod));
    expect(r.status).toBe(204);
    for (const s of held) s.destroy();
  });

  it('cuts clients that connect and send nothing, or half their headers, after the headers deadline', async () => {
    expect(server.requestTimeout).toBeLessThanOrEqual(30_000);
    const t0 = Date.now();
    const closed = (s: net.Socket): Promise<number> =>
      new Promise((resolve) => {
        s.on('error', () => undefined);
        s.on('close', () => resolve(Date.now() - t0));
      });
    const silent = net.connect(socket);
    const half = net.connect(socket, () => half.write(`POST ${DaemonApi.Add} HTTP/1.1\r\nHost: x\r\n`));
    const times = await Promise.all([closed(silent), closed(half)]);
    for (const t of times) expect(t).toBeLessThan(HEADERS_TIMEOUT_MS + 3_000);
  }, 60_000);
});
