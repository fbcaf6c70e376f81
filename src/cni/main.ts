/**
 * The CNI plugin executable (`/opt/cni/bin/hybridnet`, SPEC §6): stdin + environment → HTTP over the daemon's unix
 * socket → CNI result or error object on stdout (exit 0 / 1). Bundled by `tools/build-cni.ts` into one file; it
 * imports only Node built-ins and the pure `spec.ts`.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { DaemonApi } from '../daemon/constants.ts';
import {
  buildResult,
  CniCode,
  CniError,
  daemonRequest,
  parseAddResponse,
  parseConfig,
  parseInvocation,
  versionResult,
  type Invocation,
} from './spec.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface HttpAnswer {
  status: number;
  body: string;
}

/** One request to the daemon; transport problems become CniError 11 with the socket named. */
function callDaemon(
  socket: string,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<HttpAnswer> {
  if (!existsSync(socket))
    return Promise.reject(
      new CniError(
        CniCode.TryAgainLater,
        `hybridnet daemon socket ${socket} does not exist`,
        'is hybridnet-daemon running on this node? check the server_socket field of the CNI config',
      ),
    );
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: socket,
        method,
        path,
        headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) =>
          reject(
            new CniError(
              CniCode.TryAgainLater,
              `hybridnet daemon at ${socket} closed the connection in the middle of its answer to ${path}: ${err.message}`,
              'the daemon may have restarted; the runtime should retry',
            ),
          ),
        );
      },
    );
    req.on('timeout', () => {
      req.destroy(
        new CniError(
          CniCode.TryAgainLater,
          `hybridnet daemon did not answer ${path} within ${timeoutMs / 1000}s`,
          'the daemon may be overloaded or waiting for the API server; the runtime should retry',
        ),
      );
    });
    req.on('error', (err) => {
      if (err instanceof CniError) reject(err);
      else
        reject(
          new CniError(
            CniCode.TryAgainLater,
            `cannot reach hybridnet daemon at ${socket}: ${err.message}`,
            'is hybridnet-daemon running on this node?',
          ),
        );
    });
    if (data) req.write(data);
    req.end();
  });
}

function daemonError(what: string, ans: HttpAnswer): CniError {
  let msg = ans.body;
  let code: number = CniCode.DaemonFailure;
  try {
    const parsed = JSON.parse(ans.body) as { error?: string; code?: number };
    if (parsed.error) msg = parsed.error;
    if (typeof parsed.code === 'number') code = parsed.code;
  } catch {
    // not JSON: keep the raw body
  }
  return new CniError(code, `${what} return ${ans.status}: ${msg}`);
}

/**
 * DEL while the daemon is down (no socket, connection refused): record the container ID next to the socket so the
 * daemon removes the attachment when it returns (its start-up GC), and report success — DEL must not block sandbox
 * removal (CNI spec: DEL should succeed even when resources are already gone).
 */
function queueDelete(socket: string, inv: Invocation): void {
  const dir = path.join(path.dirname(socket), 'hybridnet-pending-del');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, inv.containerID), JSON.stringify(daemonRequest(inv)));
  } catch (err) {
    throw new CniError(
      CniCode.TryAgainLater,
      `hybridnet daemon is down and the DEL could not be queued: ${String(err)}`,
    );
  }
}

async function run(inv: Invocation): Promise<unknown> {
  const { config } = inv;
  switch (inv.command) {
    case 'ADD': {
      const ans = await callDaemon(config.serverSocket, 'POST', DaemonApi.Add, daemonRequest(inv), config.timeoutMs);
      if (ans.status !== 200) throw daemonError('request ip', ans);
      return buildResult(inv, parseAddResponse(ans.body));
    }
    case 'DEL': {
      let ans: HttpAnswer;
      try {
        ans = await callDaemon(config.serverSocket, 'POST', DaemonApi.Del, daemonRequest(inv), config.timeoutMs);
      } catch (err) {
        if (!(err instanceof CniError) || err.code !== CniCode.TryAgainLater || /did not answer/.test(err.message))
          throw err;
        queueDelete(config.serverSocket, inv);
        return undefined;
      }
      if (ans.status !== 204 && ans.status !== 200) throw daemonError('delete ip', ans);
      return undefined;
    }
    case 'CHECK': {
      const ans = await callDaemon(config.serverSocket, 'POST', DaemonApi.Check, daemonRequest(inv), config.timeoutMs);
      if (ans.status !== 204 && ans.status !== 200) throw daemonError('check', ans);
      return undefined;
    }
    case 'STATUS': {
      let ans: HttpAnswer;
      try {
        ans = await callDaemon(config.serverSocket, 'GET', DaemonApi.Status, undefined, 5000);
      } catch (err) {
        throw new CniError(CniCode.NotReady, `hybridnet is not ready: ${(err as Error).message}`);
      }
      if (ans.status !== 200) throw new CniError(CniCode.NotReady, `hybridnet daemon is not ready: ${ans.body}`);
      return undefined;
    }
    case 'GC': {
      const body = { network_name: config.name, valid_attachments: config.validAttachments ?? [] };
      const ans = await callDaemon(config.serverSocket, 'POST', DaemonApi.Gc, body, config.timeoutMs);
      if (ans.status !== 204 && ans.status !== 200) throw daemonError('gc', ans);
      return undefined;
    }
    case 'VERSION':
      return versionResult(config.cniVersion);
  }
}

/** Runs one plugin invocation; returns the exit code after writing stdout. */
export async function cniMain(env: Record<string, string | undefined> = process.env): Promise<number> {
  let version = '1.1.0';
  try {
    const stdin = await readStdin();
    if (env.CNI_COMMAND === 'VERSION') {
      let v: string | undefined;
      try {
        const parsed = JSON.parse(stdin) as { cniVersion?: unknown };
        if (typeof parsed.cniVersion === 'string') v = parsed.cniVersion;
      } catch {
        // VERSION may come with an empty stdin
      }
      process.stdout.write(JSON.stringify(versionResult(v)) + '\n');
      return 0;
    }
    const config = parseConfig(stdin);
    version = config.cniVersion;
    const inv = parseInvocation(env, config);
    const out = await run(inv);
    if (out !== undefined) process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  } catch (err) {
    const e =
      err instanceof CniError ? err : new CniError(CniCode.IOFailure, `hybridnet plugin failed: ${String(err)}`);
    process.stdout.write(JSON.stringify(e.toJSON(version)) + '\n');
    return 1;
  }
}

void cniMain().then((code) => {
  process.exitCode = code;
});
