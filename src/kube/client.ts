/**
 * A thin JSON REST client for the Kubernetes API, authenticated by a client-node `KubeConfig`.
 *
 * Why not client-node's generated APIs for every call: client-node 1.x builds a fresh `https.Agent` per request (a new
 * TLS handshake each time), which caps a controller at a few hundred requests per second on this machine. This client
 * takes the TLS material and headers from `KubeConfig.applyToHTTPSOptions` once and keeps one keep-alive agent, and it
 * speaks plain paths, so one code path serves core kinds and CRDs (list pages, watch streams, merge patches,
 * subresources). Errors are `KubeApiError` with the HTTP code and the `Status.reason`.
 */
import https from 'node:https';
import http from 'node:http';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

/** A request the API server refused (or a transport failure, `code` 0). Carries `Status.reason` and message. */
export class KubeApiError extends Error {
  constructor(
    /** HTTP status code (409 conflict, 404 not found, 422 invalid …); 0 for a transport error. */
    readonly code: number,
    /** `Status.reason` (`Conflict`, `NotFound`, `AlreadyExists`, …) when the server sent one. */
    readonly reason: string | undefined,
    message: string,
    /** `METHOD path` of the request. */
    readonly request: string,
  ) {
    super(`${request}: ${code === 0 ? '' : `${code} `}${message}`);
    this.name = 'KubeApiError';
  }
}

/** True when `err` is an API error with that HTTP code. */
export function isStatus(err: unknown, code: number): boolean {
  return err instanceof KubeApiError && err.code === code;
}

/** Minimal object metadata every API object has. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string | Date;
  creationTimestamp?: string | Date;
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
}

/** Any API object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** A list response. */
export interface KubeList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** One watch event (`ERROR` carries a Status as `object`). */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Options of one request. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Content type of the body; default `application/json`. Patches: `application/merge-patch+json` etc. */
  contentType?: string;
  signal?: AbortSignal;
  /** Milliseconds before the request is abandoned (default 30 000). */
  timeoutMs?: number;
}

/** Where a resource lives: `/api/v1` or `/apis/group/version`, plural, namespaced. */
export interface ResourcePath {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

/** Path of a collection or object: `/apis/g/v[/namespaces/ns]/plural[/name[/sub]]`. */
export function resourcePath(r: ResourcePath, namespace?: string, name?: string, subresource?: string): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  let p = base;
  if (r.namespaced && namespace !== undefined && namespace !== '') p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) p += `/${subresource}`;
  return p;
}

/** Core kinds the manager uses. */
export const PodsPath: ResourcePath = { group: '', version: 'v1', plural: 'pods', namespaced: true };
export const NodesPath: ResourcePath = { group: '', version: 'v1', plural: 'nodes', namespaced: false };
export const NamespacesPath: ResourcePath = { group: '', version: 'v1', plural: 'namespaces', namespaced: false };
export const EventsPath: ResourcePath = { group: '', version: 'v1', plural: 'events', namespaced: true };
export const LeasesPath: ResourcePath = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  namespaced: true,
};

function queryString(query: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

/** The REST client. One per process is enough; it is safe to share. */
export class KubeClient {
  private readonly server: URL;
  private readonly agent: http.Agent;
  private readonly tls: https.RequestOptions;
  /** `User-Agent` of every request; the API server records it as the field manager of writes. */
  userAgent = 'hybridnet';

  private constructor(
    private readonly kc: KubeConfig,
    server: string,
    tls: https.RequestOptions,
    maxSockets: number,
  ) {
    this.server = new URL(server);
    this.tls = tls;
    const isHttps = this.server.protocol === 'https:';
    this.agent = isHttps
      ? new https.Agent({
          keepAlive: true,
          maxSockets,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.rejectUnauthorized ?? true,
        })
      : new http.Agent({ keepAlive: true, maxSockets });
  }

  /** Builds a client from a loaded KubeConfig (current context). `maxSockets` bounds parallel requests (default 32). */
  static async fromKubeConfig(kc: KubeConfig, maxSockets = 32, userAgent = 'hybridnet'): Promise<KubeClient> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster: set a current-context');
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const client = new KubeClient(kc, cluster.server, opts, maxSockets);
    client.userAgent = userAgent;
    return client;
  }

  /** Closes idle keep-alive sockets (call on shutdown). */
  close(): void {
    this.agent.destroy();
  }

  private async headers(contentType?: string): Promise<Record<string, string>> {
    const opts: https.RequestOptions = { headers: {} };
    // Re-applied per request so that expiring bearer tokens (service account projection) are refreshed.
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent };
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    if (contentType !== undefined) headers['Content-Type'] = contentType;
    return headers;
  }

  private async open(method: string, path: string, opts: RequestOptions): Promise<http.IncomingMessage> {
    const url = new URL(path + queryString(opts.query), this.server);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers = await this.headers(body === undefined ? undefined : (opts.contentType ?? 'application/json'));
    // Explicit length: Node sends DELETE bodies unframed (no chunked encoding by default), which corrupts keep-alive.
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, signal: opts.signal }, resolve);
      req.on('error', (e) => reject(new KubeApiError(0, undefined, e.message, `${method} ${path}`)));
      if (opts.timeoutMs !== 0) {
        req.setTimeout(opts.timeoutMs ?? 30_000, () =>
          req.destroy(new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms`)),
        );
      }
      req.end(body);
    });
  }

  /** One request; resolves the decoded JSON body. @throws KubeApiError on a non-2xx answer or a transport error. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.open(method, path, opts);
    const chunks: Buffer[] = [];
    try {
      for await (const c of res) chunks.push(c as Buffer);
    } catch (e) {
      throw new KubeApiError(0, undefined, (e as Error).message, `${method} ${path}`);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) {
      let reason: string | undefined;
      let message = text;
      try {
        const status = JSON.parse(text) as { reason?: string; message?: string };
        reason = status.reason;
        message = status.message ?? text;
      } catch {
        // not a Status
      }
      throw new KubeApiError(code, reason, message, `${method} ${path}`);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, opts);
  }
  create<T>(path: string, body: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body });
  }
  replace<T>(path: string, body: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, { ...opts, body });
  }
  /** JSON merge patch (RFC 7386). Include `metadata.resourceVersion` in `patch` for optimistic concurrency. */
  mergePatch<T>(path: string, patch: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PATCH', path, { ...opts, body: patch, contentType: 'application/merge-patch+json' });
  }
  delete<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, { ...opts, body });
  }

  /** Lists every page (`limit`, `continue`) of a collection. Resolves the items and the list resourceVersion. */
  async listAll<T>(path: string, query: RequestOptions['query'] = {}, pageSize = 2000): Promise<KubeList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.get<KubeList<T>>(path, {
        query: { ...query, limit: pageSize, continue: cont },
        timeoutMs: 120_000,
      });
      items.push(...page.items);
      rv = page.metadata?.resourceVersion;
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined);
    return { metadata: { resourceVersion: rv }, items };
  }

  /**
   * Opens a watch stream and calls `onEvent` per event. Resolves when the stream ends (server closed it, the signal
   * aborted it); rejects on a transport error or a non-200 answer.
   */
  async watch<T>(
    path: string,
    query: RequestOptions['query'],
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const res = await this.open('GET', path, { query: { ...query, watch: true }, signal, timeoutMs: 0 });
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      let reason: string | undefined;
      let message = Buffer.concat(chunks).toString('utf8');
      try {
        const s = JSON.parse(message) as { reason?: string; message?: string };
        reason = s.reason;
        message = s.message ?? message;
      } catch {
        // not a Status
      }
      throw new KubeApiError(res.statusCode ?? 0, reason, message, `WATCH ${path}`);
    }
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (line === '') continue;
        onEvent(JSON.parse(line) as WatchEvent<T>);
      }
    } catch (e) {
      if (signal.aborted) return;
      throw new KubeApiError(0, undefined, (e as Error).message, `WATCH ${path}`);
    }
  }
}
