/**
 * The CNI API of the daemon: HTTP/1.1 over a unix socket (mode 0600), SPEC §6.3 — `POST /api/v1/add`, `/api/v1/del`,
 * plus `/api/v1/check`, `GET /api/v1/status`, `POST /api/v1/gc` (D7). Bodies are validated here; the work is the
 * {@link CniHandler}'s.
 */
import { chmod, rm, statfs } from 'node:fs/promises';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { DaemonApi, MAX_SOCKET_PATH_BYTES } from './constants.ts';
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
  gc(networkName: string, valid: ValidAttachment[]): Promise<void>;
}

/** Largest request body accepted (bytes): a GC's valid-attachments list of ~40 000 containers fits. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Time a client has to send its headers / its whole request (ms); slow or silent clients are cut after it. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Interface names: alphanumerics, `_`, `-`, `.`, at most 15 (IFNAMSIZ - 1). Stricter than the kernel's
 * `dev_valid_name` on purpose: the name is written into `ip -batch` lines and into the `sh -c` script that sets the
 * pod namespace's sysctls, where quotes, `;`, `#` or `$` would be commands.
 */
const IFNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
/** CNI spec §"Parameters": CNI_CONTAINERID is alphanumerics, `_`, `.`, `-`; it also names the attachment file. */
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
/** Kubernetes object names: pod names are DNS-1123 subdomains (≤ 253), namespaces DNS-1123 labels (≤ 63). */
const DNS_SUBDOMAIN_RE = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/**
 * Network namespace paths (`/var/run/netns/cni-…`, `/proc/<pid>/ns/net`, `/var/run/docker/netns/…`): absolute,
 * normalised (no `.`/`..` segments, no `//`), and only characters that are safe inside an `ip -batch` line.
 */
const NETNS_RE = /^(\/[A-Za-z0-9_@+=,:.-]+)+$/;

/** Reads an optional string field; absent/null ⇒ ''. @throws CniRequestError 400 (code 6) for any other type. */
function str(b: Record<string, unknown>, field: string): string {
  const v = b[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string')
    throw new CniRequestError(400, 6, `${field} must be a string, got ${JSON.stringify(v).slice(0, 80)}`);
  return v;
}

function invalid(field: string, value: string, rule: string): CniRequestError {
  return new CniRequestError(400, 4, `${field} ${JSON.stringify(value.slice(0, 300))} is invalid: ${rule}`);
}

/**
 * Validates a pod request body (ADD needs pod name and namespace; every field present is checked).
 * @throws CniRequestError 400: code 6 for a non-object body or a non-string field, code 4 for a missing or invalid
 * value (the message names the field, the value and the rule).
 */
export function parsePodRequest(body: unknown, needPod: boolean): PodRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new CniRequestError(400, 6, 'request body must be a JSON object');
  const b = body as Record<string, unknown>;
  const req: PodRequest = {
    podName: str(b, 'pod_name'),
    podNamespace: str(b, 'pod_namespace'),
    containerID: str(b, 'container_id'),
    netns: str(b, 'net_ns'),
    ifName: str(b, 'if_name') || 'eth0',
    networkName: str(b, 'network_name'),
  };
  const uid = str(b, 'pod_uid');
  if (uid) req.podUID = uid;
  if (!req.containerID) throw new CniRequestError(400, 4, 'container_id is required');
  if (!CONTAINER_ID_RE.test(req.containerID))
    throw invalid('container_id', req.containerID, 'at most 200 of A-Z a-z 0-9 _ . -, starting alphanumeric');
  if (needPod && (!req.podName || !req.podNamespace))
    throw new CniRequestError(400, 4, 'pod_name and pod_namespace are required');
  if (req.podName && !DNS_SUBDOMAIN_RE.test(req.podName))
    throw invalid('pod_name', req.podName, 'not a Kubernetes object name (DNS-1123 subdomain)');
  if (req.podNamespace && !DNS_LABEL_RE.test(req.podNamespace))
    throw invalid('pod_namespace', req.podNamespace, 'not a Kubernetes namespace name (DNS-1123 label)');
  if (!IFNAME_RE.test(req.ifName))
    throw invalid('if_name', req.ifName, 'at most 15 of A-Z a-z 0-9 _ . -, not starting with . or -');
  if (req.ifName === 'lo') throw invalid('if_name', req.ifName, 'the loopback device cannot be the pod interface');
  if (req.netns && !NETNS_RE.test(req.netns))
    throw invalid('net_ns', req.netns, 'an absolute normalised path of A-Z a-z 0-9 _ @ + = , : . -');
  if (req.netns && req.netns.split('/').some((seg) => seg === '.' || seg === '..'))
    throw invalid('net_ns', req.netns, 'no . or .. path segments');
  return req;
}

/** `f_type` of nsfs, the filesystem of `/proc/<pid>/ns/*` and of their bind mounts (linux/magic.h NSFS_MAGIC). */
const NSFS_MAGIC = 0x6e736673;

/**
 * Checks that `netns` is a namespace file (nsfs): a regular file or directory given as CNI_NETNS would otherwise
 * reach `ip link add … netns` and `nsenter --net=`, fail there and cost a veth create + delete.
 * @throws CniRequestError 400 (code 4) naming the path and what it is instead.
 */
export async function assertNamespaceFile(netns: string): Promise<void> {
  let type: number;
  try {
    type = (await statfs(netns)).type;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new CniRequestError(400, 4, `net_ns ${JSON.stringify(netns)} cannot be opened (${code})`);
  }
  if (type !== NSFS_MAGIC)
    throw new CniRequestError(
      400,
      4,
      `net_ns ${JSON.stringify(netns)} is not a network namespace (filesystem type 0x${type.toString(16)}, want nsfs)`,
    );
}

/** One entry of a GC's `valid_attachments` (CNI spec 1.1 `cni.dev/valid-attachments`). */
export interface ValidAttachment {
  containerID: string;
  ifname: string;
}

/** Validates a GC body. @throws CniRequestError 400 naming the field (and the index of a bad entry). */
export function parseGcRequest(body: unknown): { networkName: string; valid: ValidAttachment[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new CniRequestError(400, 6, 'request body must be a JSON object');
  const b = body as Record<string, unknown>;
  // an empty network name would make the GC remove the attachments of every network
  const networkName = str(b, 'network_name');
  if (!networkName) throw new CniRequestError(400, 4, 'network_name is required');
  if (!Array.isArray(b.valid_attachments)) throw new CniRequestError(400, 4, 'valid_attachments must be an array');
  const valid = (b.valid_attachments as unknown[]).map((v, i) => {
    const e = v as Partial<Record<string, unknown>> | null;
    if (typeof e !== 'object' || e === null || typeof e.containerID !== 'string' || typeof e.ifname !== 'string')
      throw new CniRequestError(
        400,
        4,
        `valid_attachments[${i}] must be {"containerID": string, "ifname": string}, got ${JSON.stringify(v).slice(0, 80)}`,
      );
    return { containerID: e.containerID, ifname: e.ifname };
  });
  return { networkName, valid };
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new CniRequestError(413, 6, `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
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
  // Node.js binds a longer path cut to sun_path's length (another socket than the plugins' server_socket names)
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES)
    throw new Error(
      `--bind-socket ${socket} is ${Buffer.byteLength(socket)} bytes long; a unix socket path holds at most ${MAX_SOCKET_PATH_BYTES} (unix(7) sun_path)`,
    );
  await rm(socket, { force: true });
  const server = http.createServer((req, res) => {
    const send = (status: number, body?: unknown): void => {
      if (res.headersSent || res.destroyed) return;
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
      // a body over the limit was not read to its end: close the connection after the answer
      if (e.httpStatus === 413) res.setHeader('connection', 'close');
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
          case DaemonApi.Add: {
            const pod = parsePodRequest(body, true);
            if (!pod.netns) throw new CniRequestError(400, 4, 'net_ns is required for ADD');
            await assertNamespaceFile(pod.netns);
            send(200, await handler.add(pod));
            return;
          }
          case DaemonApi.Del:
            await handler.del(parsePodRequest(body, false));
            send(204);
            return;
          case DaemonApi.Check:
            await handler.check(parsePodRequest(body, false));
            send(204);
            return;
          case DaemonApi.Gc: {
            const gc = parseGcRequest(body);
            await handler.gc(gc.networkName, gc.valid);
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
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  // Node enforces headersTimeout only once the first byte arrived: a client that connects and says nothing would
  // hold its socket forever. It gets HEADERS_TIMEOUT_MS; a request, once it arrives, is the handler's to answer.
  const silent = new WeakMap<object, NodeJS.Timeout>();
  server.on('connection', (socket: Socket) => {
    silent.set(
      socket,
      setTimeout(() => socket.destroy(), HEADERS_TIMEOUT_MS),
    );
    socket.once('close', () => clearTimeout(silent.get(socket)));
  });
  server.on('request', (req: http.IncomingMessage) => clearTimeout(silent.get(req.socket)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  await chmod(socket, 0o600);
  return server;
}
