/**
 * Prometheus metrics of the daemon (own registry, so several daemons can live in one test process), plus the
 * `/metrics` and `/live` `/ready` HTTP servers (SPEC §1.1: :8091 and :11021 by default).
 */
import http from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';

/** Counters and histograms of CNI requests and reconciles. */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly cniRequests = new Counter({
    name: 'hybridnet_cni_requests_total',
    help: 'CNI requests served by the daemon, by command and result',
    labelNames: ['command', 'result'],
    registers: [this.registry],
  });
  readonly cniSeconds = new Histogram({
    name: 'hybridnet_cni_request_duration_seconds',
    help: 'Duration of CNI requests in the daemon',
    labelNames: ['command'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'hybridnet_node_reconcile_duration_seconds',
    help: 'Duration of one node datapath reconcile (read, plan, apply)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Starts a timer for `command`; call the result with `ok` / `error`. */
  timer(command: string): (result: string) => void {
    const t0 = performance.now();
    return (result) => {
      this.cniRequests.inc({ command, result });
      this.cniSeconds.observe({ command }, (performance.now() - t0) / 1000);
    };
  }
}

/** Splits `host:port` (`:8091` = all addresses). */
export function parseListenAddr(addr: string): { host?: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(addr.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid listen address ${addr}`);
  return host ? { host, port } : { port };
}

/** Starts a small HTTP server answering `routes[path]()` → [status, body]. */
export async function startHttp(
  addr: string,
  routes: Record<string, () => Promise<[number, string, string?]> | [number, string, string?]>,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const route = routes[(req.url ?? '').split('?')[0] ?? ''];
    if (!route) {
      res.writeHead(404).end('not found\n');
      return;
    }
    void Promise.resolve(route()).then(
      ([status, body, type]) => res.writeHead(status, { 'content-type': type ?? 'text/plain' }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  const { host, port } = parseListenAddr(addr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
