/**
 * Hostile clients against the webhook server (issue #5/#6 hardening): request targets `new URL` cannot parse,
 * non-JSON and truncated bodies, AdmissionReviews with missing or wrong-typed fields, wrong-kind objects, bodies
 * over the limit. The server must answer each with a 4xx or a well-formed AdmissionReview and keep serving.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDevCertificates } from './certs.ts';
import { allow } from './decision.ts';
import { createWebhookMetrics } from './metrics.ts';
import { HEADERS_TIMEOUT_MS, startWebhookServer, type WebhookServer } from './server.ts';

const log = pino({ level: 'silent' });

/** Sends raw bytes over TLS and resolves the raw answer (until the server closes or `Connection: close`). */
function raw(port: number, ca: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => s.end(text));
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
}

function request(method: string, target: string, body = ''): string {
  return `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

describe('webhook server against hostile clients', () => {
  let dir: string;
  let ca: string;
  let server: WebhookServer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hn-webhook-hostile-'));
    const certs = await writeDevCertificates(dir, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    ca = certs.caCert;
    server = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      certFile: certs.certFile,
      keyFile: certs.keyFile,
      certReloadIntervalMs: 3_600_000,
      isReady: () => true,
      metrics: createWebhookMetrics(),
      log,
      probeAddress: { host: '127.0.0.1', port: 0 },
      handlers: {
        validate: (req) => {
          // a rule that trusts the object's shape, as real rules narrow it
          const o = req.object as { metadata: { name: string } };
          return o.metadata.name.length > 0 ? allow() : allow();
        },
        mutate: () => allow(),
      },
    });
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['//', '///', '//[', '//a:b@', '//%', '/\\'])(
    'answers 400 to the request target %j and keeps serving',
    async (target) => {
      const answer = await raw(server.port, ca, request('POST', target, '{}'));
      expect(statusOf(answer)).toBe(400);
      expect(statusOf(await raw(server.port, ca, request('GET', '/healthz')))).toBe(200);
    },
  );

  const review = (request: unknown, apiVersion = 'admission.k8s.io/v1'): string =>
    JSON.stringify({ apiVersion, kind: 'AdmissionReview', request });
  const base = {
    uid: 'u-1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    userInfo: { username: 'alice' },
  };

  it.each([
    ['not JSON', 'this is not json'],
    ['JSON null', 'null'],
    ['an array', '[1,2]'],
    ['a wrong apiVersion', review(base, 'admission.k8s.io/v2')],
    ['a wrong kind', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request: base })],
    ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' })],
    ['no request.uid', review({ ...base, uid: undefined })],
    ['a numeric request.uid', review({ ...base, uid: 7 })],
    ['1e6 nested arrays', '['.repeat(1_000_000) + ']'.repeat(1_000_000)],
  ])('answers 400 to %s', async (_what, body) => {
    const answer = await raw(server.port, ca, request('POST', '/validate', body));
    expect(statusOf(answer)).toBe(400);
  });

  it('answers a wrong-kind object (the rule throws) with an errored AdmissionReview echoing the uid', async () => {
    const answer = await raw(server.port, ca, request('POST', '/validate', review({ ...base, object: 42 })));
    expect(statusOf(answer)).toBe(200);
    const out = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
      response: { uid: string; allowed: boolean; status: { code: number } };
    };
    expect(out.response).toMatchObject({ uid: 'u-1', allowed: false, status: { code: 500 } });
  });

  it('answers an unknown operation with an errored AdmissionReview (uid known)', async () => {
    const answer = await raw(server.port, ca, request('POST', '/validate', review({ ...base, operation: 'PATCH' })));
    expect(statusOf(answer)).toBe(200);
    expect(answer).toContain('"allowed":false');
  });

  it('answers 413 to a body over the limit and keeps serving', async () => {
    const big = 'x'.repeat(17 * 1024 * 1024);
    const answer = await raw(server.port, ca, request('POST', '/validate', big));
    expect(statusOf(answer)).toBe(413);
    expect(statusOf(await raw(server.port, ca, request('GET', '/healthz')))).toBe(200);
  });

  it('survives a client that closes in the middle of the body', async () => {
    const text = request('POST', '/validate', review(base)).slice(0, -20);
    await raw(server.port, ca, text.replace(/Content-Length: \d+/, 'Content-Length: 100000'));
    expect(statusOf(await raw(server.port, ca, request('GET', '/healthz')))).toBe(200);
  });

  it('closes silent and slow clients of the HTTPS and the probe listener within the headers deadline', async () => {
    const t0 = Date.now();
    const closed = (s: net.Socket): Promise<number> =>
      new Promise((resolve) => {
        s.on('error', () => undefined);
        s.on('close', () => resolve(Date.now() - t0));
      });
    const tcp = net.connect(server.port, '127.0.0.1');
    const tlsSilent = tls.connect({ host: '127.0.0.1', port: server.port, ca, servername: 'localhost' });
    const tlsHalf = tls.connect({ host: '127.0.0.1', port: server.port, ca, servername: 'localhost' }, () =>
      tlsHalf.write('POST /validate HTTP/1.1\r\nHost: x\r\n'),
    );
    const probeSilent = net.connect(server.probePort ?? 0, '127.0.0.1');
    const times = await Promise.all([closed(tcp), closed(tlsSilent), closed(tlsHalf), closed(probeSilent)]);
    for (const t of times) expect(t).toBeLessThan(HEADERS_TIMEOUT_MS + 3_000);
    expect(statusOf(await raw(server.port, ca, request('GET', '/healthz')))).toBe(200);
  }, 30_000);
});
