/**
 * The webhook's imperative shell: an HTTPS server answering AdmissionReviews on `/validate` and
 * `/mutate`, plus `/healthz`, `/readyz` and `/metrics`. Everything it decides comes from the pure
 * rules through the {@link AdmissionHandlers} it is given; the server only decodes, times, logs,
 * counts and encodes.
 *
 * HTTP statuses: 200 with an AdmissionReview for every decodable request (denials and errors are
 * in `response.status`, as the API server expects); 400 for bodies that are not an
 * AdmissionReview; 404/405 for other paths/methods; 413 for bodies over 16 MiB.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  AdmissionDecodeError,
  admissionReviewResponse,
  parseAdmissionReview,
  type AdmissionRequest,
} from './admission.ts';
import { decisionMessage, errored, isDenied, isErrored, type Decision } from './decision.ts';
import type { WebhookMetrics } from './metrics.ts';
import { CertificateReloader, TLS_POLICY, loadKeyPair } from './tls.ts';

/** Largest request body accepted (bytes). The API server limits objects to ~3 MiB; reviews carry two. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The decisions behind the two admission endpoints. Both are synchronous: the view is in memory. */
export interface AdmissionHandlers {
  validate(req: AdmissionRequest): Decision;
  mutate(req: AdmissionRequest): Decision;
}

/** Options of {@link startWebhookServer}. */
export interface WebhookServerOptions {
  /** Address to listen on (e.g. `0.0.0.0`, `127.0.0.1`). */
  host: string;
  /** TCP port; 0 lets the OS choose (see {@link WebhookServer.port}). */
  port: number;
  certFile: string;
  keyFile: string;
  /** How often the serving certificate files are re-read (ms, default 10 000). */
  certReloadIntervalMs?: number;
  handlers: AdmissionHandlers;
  /** True once the cluster view is synced; `/readyz` answers 503 before. */
  isReady: () => boolean;
  metrics: WebhookMetrics;
  log: Logger;
  /** Optional plain-HTTP listener for `/healthz`, `/readyz`, `/metrics` (e.g. `0.0.0.0:9897`). */
  probeAddress?: { host: string; port: number };
}

/** A running webhook server. */
export interface WebhookServer {
  /** The HTTPS port actually bound. */
  port: number;
  /** The plain probe/metrics port when {@link WebhookServerOptions.probeAddress} was given. */
  probePort?: number;
  reloader: CertificateReloader;
  /** Stops accepting, closes idle connections and resolves when both listeners are closed. */
  close(): Promise<void>;
}

type Endpoint = 'validate' | 'mutate';

/**
 * Starts the HTTPS server (TLS policy of {@link TLS_POLICY}) and, if asked, the plain probe server.
 * @throws ServingCertificateError when the certificate files are unusable; listen errors (EADDRINUSE).
 */
export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const pair = await loadKeyPair(opts.certFile, opts.keyFile);
  // handshakeTimeout: a client that opens TCP and never says ClientHello holds a socket 120 s by default
  const server = https.createServer({ ...TLS_POLICY, ...pair, handshakeTimeout: HEADERS_TIMEOUT_MS });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = 30_000;
  enforceDeadlines(server, 'secureConnection');
  server.on('request', (req, res) => safeRoute(opts, req, res, true));
  server.on('tlsClientError', (err) => opts.log.debug({ err }, 'TLS handshake failed'));
  await listen(server, opts.port, opts.host);
  const reloader = new CertificateReloader(
    server,
    opts.certFile,
    opts.keyFile,
    pair,
    opts.log,
    opts.certReloadIntervalMs ?? 10_000,
  );
  reloader.start();

  let probe: http.Server | undefined;
  if (opts.probeAddress) {
    probe = http.createServer((req, res) => safeRoute(opts, req, res, false));
    // plain HTTP enforces headersTimeout only after a first byte: a silent client would be held forever
    enforceDeadlines(probe, 'connection');
    await listen(probe, opts.probeAddress.port, opts.probeAddress.host);
  }
  const port = (server.address() as AddressInfo).port;
  opts.log.info({ host: opts.host, port }, 'webhook server listening');
  const result: WebhookServer = {
    port,
    reloader,
    close: async () => {
      reloader.stop();
      await Promise.all([closeServer(server), probe ? closeServer(probe) : Promise.resolve()]);
    },
  };
  if (probe) result.probePort = (probe.address() as AddressInfo).port;
  return result;
}

/** Time a client has after connecting (or after the previous answer) to send its request headers (ms). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Time a client has from its request headers to the end of its body (ms). */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Deadlines for slow clients on the HTTPS server. Node 20's `https.Server` enforces neither `headersTimeout` nor
 * `requestTimeout` (measured: a client that completes TLS and then sends nothing, or half its headers, is held
 * forever), so one attacker could pin every file descriptor. Each connection gets {@link HEADERS_TIMEOUT_MS} to
 * send its headers, each request {@link REQUEST_TIMEOUT_MS} until its answer is sent; the socket is destroyed
 * when a deadline passes.
 */
function enforceDeadlines(server: http.Server | https.Server, connectEvent: 'connection' | 'secureConnection'): void {
  const timers = new WeakMap<object, NodeJS.Timeout>();
  const arm = (socket: { destroy(): void }, ms: number): void => {
    clearTimeout(timers.get(socket));
    timers.set(
      socket,
      setTimeout(() => socket.destroy(), ms),
    );
  };
  server.on(connectEvent, (socket: Socket) => {
    arm(socket, HEADERS_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(timers.get(socket)));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    arm(req.socket, REQUEST_TIMEOUT_MS);
    // keep-alive: the next request's headers are due within the keep-alive window plus the headers deadline
    res.once('finish', () => arm(req.socket, server.keepAliveTimeout + HEADERS_TIMEOUT_MS));
  });
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * {@link route} behind a guard: a synchronous throw in a request listener is an uncaught exception that ends the
 * process, so any client could stop the webhook (e.g. with the request target `//`). It becomes a 500 instead.
 */
function safeRoute(
  opts: WebhookServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  admission: boolean,
): void {
  try {
    route(opts, req, res, admission);
  } catch (err) {
    opts.log.error({ err, url: req.url }, 'webhook request handler threw');
    if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
    else res.destroy();
  }
}

function route(opts: WebhookServerOptions, req: http.IncomingMessage, res: http.ServerResponse, admission: boolean) {
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'https://webhook').pathname;
  } catch {
    // `//`, `//[`, `/\`…: not an origin-form target this server has
    return send(res, 400, 'text/plain', `request target ${JSON.stringify(req.url)} is not a valid path\n`);
  }
  if (path === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
  if (path === '/readyz') {
    return opts.isReady() ? send(res, 200, 'text/plain', 'ok\n') : send(res, 503, 'text/plain', 'cache not synced\n');
  }
  if (path === '/metrics') {
    opts.metrics.registry
      .metrics()
      .then((text) => send(res, 200, opts.metrics.registry.contentType, text))
      .catch((err: unknown) => {
        opts.log.error({ err }, 'metrics rendering failed');
        send(res, 500, 'text/plain', 'metrics unavailable\n');
      });
    return;
  }
  if (admission && (path === '/validate' || path === '/mutate')) {
    if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST an AdmissionReview\n');
    readBody(req, MAX_BODY_BYTES)
      .then((body) => {
        if (body === undefined) return send(res, 413, 'text/plain', 'request body too large\n');
        const out = review(opts, path === '/validate' ? 'validate' : 'mutate', body);
        send(res, out.status, 'application/json', out.body);
      })
      .catch((err: unknown) => {
        opts.log.warn({ err }, 'reading admission request failed');
        if (!res.headersSent) send(res, 400, 'text/plain', 'cannot read request body\n');
      });
    return;
  }
  send(res, 404, 'text/plain', 'not found\n');
}

/** Reads the whole body, or resolves undefined when it exceeds `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Decodes, decides, records and encodes one AdmissionReview. */
function review(opts: WebhookServerOptions, endpoint: Endpoint, body: string): { status: number; body: string } {
  const started = process.hrtime.bigint();
  let parsed;
  try {
    parsed = parseAdmissionReview(body);
  } catch (e) {
    if (e instanceof AdmissionDecodeError && e.uid !== undefined && e.apiVersion !== undefined) {
      const out = admissionReviewResponse(e.apiVersion, e.uid, errored(400, e.message));
      return { status: 200, body: JSON.stringify(out) };
    }
    opts.log.warn({ err: e, endpoint }, 'undecodable admission request');
    return { status: 400, body: JSON.stringify({ error: (e as Error).message }) };
  }
  const { apiVersion, request } = parsed;
  let decision: Decision;
  try {
    decision = endpoint === 'validate' ? opts.handlers.validate(request) : opts.handlers.mutate(request);
  } catch (e) {
    opts.log.error({ err: e, uid: request.uid }, 'admission rule threw');
    decision = errored(500, `internal error: ${(e as Error).message}`);
  }
  const kind = request.kind.kind;
  const result = decision.allowed ? 'allowed' : isErrored(decision) ? 'errored' : 'denied';
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  opts.metrics.admissionDuration.observe({ endpoint, kind, operation: request.operation, result }, seconds);
  const fields = {
    component: 'webhook',
    endpoint,
    kind,
    operation: request.operation,
    namespace: request.namespace,
    name: request.name,
    user: request.userInfo.username,
    result,
  };
  if (isDenied(decision)) {
    opts.metrics.denials.inc({ kind, rule: decision.rule });
    opts.log.info({ ...fields, rule: decision.rule, reason: decisionMessage(decision) }, 'admission denied');
  } else if (isErrored(decision)) {
    opts.log.warn({ ...fields, code: decision.code, reason: decision.message }, 'admission errored');
  } else {
    opts.log.debug({ ...fields, patchOps: decision.patch?.length ?? 0 }, 'admission allowed');
  }
  return { status: 200, body: JSON.stringify(admissionReviewResponse(apiVersion, request.uid, decision)) };
}
