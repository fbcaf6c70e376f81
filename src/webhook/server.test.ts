import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionRequest } from './admission.ts';
import { generateDevCertificates, writeDevCertificates } from './certs.ts';
import { allow, deny, errored } from './decision.ts';
import { createWebhookMetrics } from './metrics.ts';
import { startWebhookServer, type WebhookServer } from './server.ts';

const log = pino({ level: 'silent' });

interface Reply {
  status: number;
  body: string;
}

function post(port: number, ca: string, urlPath: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: 'POST',
        ca,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function get(port: number, ca: string, urlPath: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: urlPath, ca, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
}

function review(apiVersion: string, kind: string, operation = 'CREATE'): string {
  return JSON.stringify({
    apiVersion,
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind },
      resource: { group: '', version: 'v1', resource: kind.toLowerCase() + 's' },
      operation,
      userInfo: { username: 'alice' },
      object: { metadata: { name: 'x' } },
    },
  });
}

/** Handshake with a forced protocol/cipher; resolves the negotiated cipher or the error code. */
function handshake(port: number, ca: string, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options }, () => {
      const c = s.getCipher();
      s.end();
      resolve(`${c.version} ${c.name}`);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
  });
}

describe('webhook HTTPS server (127.0.0.1)', () => {
  let dir: string;
  let ca: string;
  let server: WebhookServer;
  let ready = false;
  const metrics = createWebhookMetrics();
  const seen: AdmissionRequest[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hn-webhook-'));
    const certs = await writeDevCertificates(dir, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    ca = certs.caCert;
    server = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      certFile: certs.certFile,
      keyFile: certs.keyFile,
      certReloadIntervalMs: 3_600_000,
      isReady: () => ready,
      metrics,
      log,
      handlers: {
        validate: (req) => {
          seen.push(req);
          if (req.kind.kind === 'Subnet') {
            return deny('subnet.range.order', 'spec.range.end 10.0.0.5 is before spec.range.start 10.0.0.9');
          }
          if (req.kind.kind === 'Boom') throw new Error('kaboom');
          if (req.kind.kind === 'Lookup') return errored(500, 'network n1 cannot be read');
          return allow();
        },
        mutate: () => allow(undefined, [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }]),
      },
    });
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a v1 review with allowed and echoes the uid', async () => {
    const r = await post(server.port, ca, '/validate', review('admission.k8s.io/v1', 'Network'));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u-1', allowed: true },
    });
    expect(seen.at(-1)?.userInfo.username).toBe('alice');
  });

  it('answers a v1beta1 review with the same apiVersion and a 403 denial carrying the reason', async () => {
    const r = await post(server.port, ca, '/validate', review('admission.k8s.io/v1beta1', 'Subnet'));
    expect(JSON.parse(r.body)).toEqual({
      apiVersion: 'admission.k8s.io/v1beta1',
      kind: 'AdmissionReview',
      response: {
        uid: 'u-1',
        allowed: false,
        status: {
          code: 403,
          reason: 'Forbidden',
          message: 'spec.range.end 10.0.0.5 is before spec.range.start 10.0.0.9',
        },
      },
    });
  });

  it('returns a base64 JSONPatch from /mutate', async () => {
    const r = await post(server.port, ca, '/mutate', review('admission.k8s.io/v1', 'Pod'));
    const resp = (JSON.parse(r.body) as { response: { patchType: string; patch: string } }).response;
    expect(resp.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(resp.patch, 'base64').toString())).toEqual([
      { op: 'add', path: '/metadata/labels', value: { a: 'b' } },
    ]);
  });

  it('turns a throwing rule into errored 500 and keeps serving', async () => {
    const r = await post(server.port, ca, '/validate', review('admission.k8s.io/v1', 'Boom'));
    expect(JSON.parse(r.body)).toMatchObject({
      response: { allowed: false, status: { code: 500, message: 'internal error: kaboom' } },
    });
    const l = await post(server.port, ca, '/validate', review('admission.k8s.io/v1', 'Lookup'));
    expect(JSON.parse(l.body)).toMatchObject({ response: { status: { code: 500 } } });
  });

  it('rejects bodies that are not AdmissionReviews', async () => {
    expect((await post(server.port, ca, '/validate', 'not json')).status).toBe(400);
    expect((await post(server.port, ca, '/validate', '{"apiVersion":"v1","kind":"Pod"}')).status).toBe(400);
    const noOp = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'z' } });
    const r = await post(server.port, ca, '/validate', noOp);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ response: { uid: 'z', allowed: false, status: { code: 400 } } });
    expect((await get(server.port, ca, '/validate')).status).toBe(405);
    expect((await get(server.port, ca, '/nope')).status).toBe(404);
  });

  it('serves /healthz always and /readyz only once ready', async () => {
    expect((await get(server.port, ca, '/healthz')).status).toBe(200);
    ready = false;
    expect((await get(server.port, ca, '/readyz')).status).toBe(503);
    ready = true;
    expect((await get(server.port, ca, '/readyz')).status).toBe(200);
  });

  it('exposes latency and denials-by-rule metrics', async () => {
    const r = await get(server.port, ca, '/metrics');
    expect(r.body).toContain('hybridnet_webhook_denials_total{kind="Subnet",rule="subnet.range.order"} 1');
    expect(r.body).toMatch(
      /hybridnet_webhook_admission_duration_seconds_count\{endpoint="validate",kind="Network",operation="CREATE",result="allowed"\} \d+/,
    );
  });

  it('speaks TLS 1.3 and ECDHE-AEAD TLS 1.2 only', async () => {
    expect(await handshake(server.port, ca, {})).toBe('TLSv1.3 TLS_AES_128_GCM_SHA256');
    expect(await handshake(server.port, ca, { maxVersion: 'TLSv1.2' })).toMatch(
      /^TLSv1\.2 ECDHE-RSA-AES\d+-GCM-SHA\d+$/,
    );
    expect(
      await handshake(server.port, ca, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:ECDHE-RSA-AES128-SHA' }),
    ).toMatch(/^error /);
    expect(await handshake(server.port, ca, { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' })).toMatch(
      /^error /,
    );
    expect(
      await handshake(server.port, ca, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    ).toMatch(/^error /);
  });

  it('reloads the serving certificate when the files change and ignores a half-written pair', async () => {
    const fresh = await generateDevCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    await writeFile(path.join(dir, 'tls.crt'), fresh.cert); // key not yet replaced: invalid pair
    expect(await server.reloader.check()).toBe(false);
    await writeFile(path.join(dir, 'tls.key'), fresh.key);
    expect(await server.reloader.check()).toBe(true);
    expect(await server.reloader.check()).toBe(false);
    const served = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: server.port, ca: fresh.caCert }, () => {
        resolve(s.getPeerX509Certificate()?.fingerprint256 ?? '');
        s.end();
      });
      s.on('error', reject);
    });
    expect(served).toBe(new X509Certificate(fresh.cert).fingerprint256);
    // The old CA no longer verifies the server.
    await expect(get(server.port, ca, '/healthz')).rejects.toThrow();
  });
});
