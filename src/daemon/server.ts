/**
 * The CNI API of the daemon: HTTP/1.1 over a unix socket (mode 0600), SPEC §6.3 — `POST /api/v1/add`, `/api/v1/del`,
 * plus `/api/v1/check`, `GET /api/v1/status`, `POST /api/v1/gc` (D7). Bodies are validated here; the work is the
 * {@link CniHandler}'s.
 */
import { chmod, rm } from 'node:fs/promises';
import http from 'node:http';
import type { Logger } from 'pino';
import { DaemonApi } from './constants.ts';
import { CniRequestError } from './config.ts';

/** A validated request body (SPEC §6.3 fields + if_name, pod_uid, network_name, prev_result). */
export interface PodRequest {
  podName: string;
  podNamespace: string;
  podUID?: string;
  containerID: string;
  netns: string;
  ifName: string;
  networkName: string;
}

/** What the server calls. */
export interface CniHandler {
  add(req: PodRequest): Promise<unknown>;
  del(req: PodRequest): Promise<void>;
  check(req: PodRequest): Promise<void>;
  ready(): boolean;
  gc(networkName: string, valid: { containerID: string; ifname: string }[]): Promise<void>;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Validates a pod request body. @throws CniRequestError 400. */
export function parsePodRequest(body: unknown, needPod: boolean): PodRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new CniRequestError(400, 6, 'request body must be a JSON object');
  const b = body as Record<string, unknown>;
  const req: PodRequest = {
    podName: str(b.pod_name),
    podNamespace: str(b.pod_namespace),
    containerID: str(b.container_id),
    netns: str(b.net_ns),
    ifName: str(b.if_name) || 'eth0',
    networkName: str(b.network_name),
  };
  if (typeof b.pod_uid === 'string' && b.pod_uid) req.podUID = b.pod_uid;
  if (!req.containerID) throw new CniRequestError(400, 4, 'container_id is required');
  if (needPod && (!req.podName || !req.podNamespace))
    throw new CniRequestError(400, 4, 'pod_name and pod_namespace are required');
  if (!/^[^\s/:]{1,15}$/.test(req.ifName)) throw new CniRequestError(400, 4, `invalid if_name ${req.ifName}`);
  return req;
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new CniRequestError(400, 6, 'request body is not valid JSON');
  }
}

/** Starts the API server on `socket` (stale socket removed first, mode 0600). */
export async function startCniServer(socket: string, handler: CniHandler, logger: Logger): Promise<http.Server> {
  await rm(socket, { force: true });
  const server = http.createServer((req, res) => {
    const send = (status: number, body?: unknown): void => {
      if (body === undefined) {
        res.writeHead(status).end();
        return;
      }
      const data = JSON.stringify(body);
      res
        .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) })
        .end(data);
    };
    const fail = (err: unknown): void => {
      const e =
        err instanceof CniRequestError
          ? err
          : new CniRequestError(500, 100, err instanceof Error ? err.message : String(err));
      if (e.httpStatus >= 500) logger.error({ err, path: req.url }, 'cni request failed');
      else logger.warn({ path: req.url, error: e.message }, 'cni request refused');
      send(e.httpStatus, { address: null, host_interface: '', error: e.message, code: e.cniCode });
    };
    const url = req.url ?? '';
    void (async () => {
      try {
        if (req.method === 'GET' && url === DaemonApi.Status) {
          if (handler.ready()) send(200, { ready: true });
          else send(503, { ready: false, error: 'daemon is starting: caches not synced yet', code: 50 });
          return;
        }
        if (req.method !== 'POST') throw new CniRequestError(405, 4, `${req.method} ${url} is not supported`);
        const body = await readBody(req);
        switch (url) {
          case DaemonApi.Add:
            send(200, await handler.add(parsePodRequest(body, true)));
            return;
          case DaemonApi.Del:
            await handler.del(parsePodRequest(body, false));
            send(204);
            return;
          case DaemonApi.Check:
            await handler.check(parsePodRequest(body, false));
            send(204);
            return;
          case DaemonApi.Gc: {
            const b = body as { network_name?: unknown; valid_attachments?: unknown };
            if (!Array.isArray(b.valid_attachments))
              throw new CniRequestError(400, 4, 'valid_attachments must be an array');
            await handler.gc(str(b.network_name), b.valid_attachments as { containerID: string; ifname: string }[]);
            send(204);
            return;
          }
          default:
            throw new CniRequestError(404, 4, `unknown path ${url}`);
        }
      } catch (err) {
        fail(err);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  await chmod(socket, 0o600);
  return server;
}
