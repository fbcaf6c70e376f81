/**
 * The CNI plugin executable (`/opt/cni/bin/hybridnet`, SPEC §6): stdin + environment → HTTP over the daemon's unix
 * socket → CNI result or error object on stdout (exit 0 / 1). `tools/build-cni.ts` bundles it with esbuild into one
 * CommonJS file and compiles that with Bun into a standalone executable (Bun starts in ≈ 5 ms where Node.js takes
 * ≈ 35–50 ms, and a runtime calls the plugin once per ADD, DEL and CHECK). It imports only Node built-ins and the pure
 * `spec.ts`, and runs the same under both runtimes: under Bun it reads stdin with `Bun.stdin` and talks to the
 * daemon with `fetch({ unix })`, because Bun's `node:http` client and `process.stdin` stream each cost 15–40 ms per
 * call there (measured on the compiled plugin); under Node.js it uses `node:http`.
 */
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

/** The part of Bun's global the plugin uses when it runs compiled by Bun (absent under Node.js). */
interface BunRuntime {
  stdin: { text(): Promise<string> };
}
const bun = (globalThis as { Bun?: BunRuntime }).Bun;

async function readStdin(): Promise<string> {
  if (bun) return bun.stdin.text();
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * One request to the daemon; transport problems become CniError 11 with the socket named. Node built-ins other than
 * the transport are loaded only on the paths that need them: under Bun each `node:*` module costs 2–4 ms at start.
 */
function callDaemon(
  socket: string,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<HttpAnswer> {
  const call: DaemonCall = { socket, method, path, body, timeoutMs };
  return bun ? callDaemonFetch(call) : callDaemonHttp(call);
}

/** One daemon call: the socket, the HTTP method and path, the JSON body (none when undefined), the deadline in ms. */
interface DaemonCall {
  socket: string;
  method: string;
  path: string;
  body: unknown;
  timeoutMs: number;
}

/** Errors of one daemon call, the same under both runtimes (CniError 11: the runtime retries). */
const transportError = {
  midAnswer: (socket: string, path: string, err: unknown): CniError =>
    new CniError(
      CniCode.TryAgainLater,
      `hybridnet daemon at ${socket} closed the connection in the middle of its answer to ${path}: ${errText(err)}`,
      'the daemon may have restarted; the runtime should retry',
    ),
  timeout: (path: string, timeoutMs: number): CniError =>
    new CniError(
      CniCode.TryAgainLater,
      `hybridnet daemon did not answer ${path} within ${timeoutMs / 1000}s`,
      'the daemon may be overloaded or waiting for the API server; the runtime should retry',
    ),
};

/** The error of a connection that failed; a socket that is not there at all gets its own message. */
async function unreachable(socket: string, err: unknown): Promise<CniError> {
  const { existsSync } = await import('node:fs');
  if (!existsSync(socket))
    return new CniError(
      CniCode.TryAgainLater,
      `hybridnet daemon socket ${socket} does not exist`,
      'is hybridnet-daemon running on this node? check the server_socket field of the CNI config',
    );
  const code = (err as { code?: unknown } | undefined)?.code;
  return new CniError(
    CniCode.TryAgainLater,
    `cannot reach hybridnet daemon at ${socket}: ${errText(err)}`,
    code === 'EACCES' || code === 'EPERM'
      ? `the plugin (uid ${process.getuid?.() ?? '?'}) may not connect to the socket: the runtime must run CNI plugins as root`
      : 'is hybridnet-daemon running on this node?',
  );
}

/**
 * Hints Bun appends to its fetch errors; they mislead here (the daemon is a unix socket: there is no URL to mistype
 * and no fetch() option the operator can pass).
 */
const BUN_HINTS = [
  /\s*For more information, pass `verbose: true` in the second argument to fetch\(\)\.?/g,
  /\s*Was there a typo in the url or port\?/g,
  /\s*Is the computer able to access the url\?/g,
];

/** What a bare error code means, for errors that carry nothing else once Bun's hints are gone. */
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ECONNRESET: 'connection reset',
  ENOENT: 'no such file or directory',
  ENOTSOCK: 'not a socket',
};

/** One line naming an error: `CODE: message`, without Bun's fetch hints. */
function errText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  let msg = BUN_HINTS.reduce((m, re) => m.replace(re, ''), err.message).trim();
  if (typeof code !== 'string') return msg || err.name;
  if (msg === '') msg = ERRNO_TEXT[code] ?? '';
  if (msg.includes(code)) return msg;
  return msg ? `${code}: ${msg}` : code;
}

/**
 * The daemon call under Bun: `fetch` over the unix socket (Bun's `unix` option). Headers and body arriving are two
 * steps: an error before the headers is "cannot reach", one while reading the body is "closed in the middle".
 */
async function callDaemonFetch({ socket, method, path, body, timeoutMs }: DaemonCall): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(timeoutMs);
  const isTimeout = (err: unknown): boolean =>
    signal.aborted || (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
  // `unix` is Bun's extension of RequestInit (the socket to connect to instead of the URL's host)
  const init: RequestInit & { unix: string } = {
    method,
    signal,
    unix: socket,
    // a 3xx is the daemon's answer, as under node:http: fetch would follow it, to another path or to a TCP host
    redirect: 'manual',
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  };
  let res: Response;
  try {
    res = await fetch(`http://localhost${path}`, init);
  } catch (err) {
    throw isTimeout(err) ? transportError.timeout(path, timeoutMs) : await unreachable(socket, err);
  }
  try {
    return { status: res.status, body: await res.text() };
  } catch (err) {
    throw isTimeout(err) ? transportError.timeout(path, timeoutMs) : transportError.midAnswer(socket, path, err);
  }
}

/**
 * The daemon call under Node.js: `node:http` with `socketPath`. `timeoutMs` is a deadline for the whole exchange,
 * as `AbortSignal.timeout` is under Bun (http's own `timeout` is an idle timeout: a daemon sending a byte now and
 * then would hold the plugin for ever).
 */
async function callDaemonHttp({ socket, method, path, body, timeoutMs }: DaemonCall): Promise<HttpAnswer> {
  // loaded here, not at the top: under Bun importing node:http alone costs ≈ 15 ms
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: socket,
        method,
        path,
        headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => fail(transportError.midAnswer(socket, path, err)));
      },
    );
    // the first settlement wins: errors of the destroyed request after the deadline change nothing
    const fail = (err: CniError): void => {
      clearTimeout(deadline);
      reject(err);
    };
    const deadline = setTimeout(() => {
      fail(transportError.timeout(path, timeoutMs));
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => {
      if (err instanceof CniError) fail(err);
      else void unreachable(socket, err).then(fail);
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
    // a CNI error code is a positive integer (CNI spec "Error"); anything else stays 100 with the daemon's message
    if (Number.isSafeInteger(parsed.code) && (parsed.code ?? 0) > 0) code = parsed.code ?? code;
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
async function queueDelete(socket: string, inv: Invocation): Promise<void> {
  const [{ mkdirSync, writeFileSync }, { default: path }] = await Promise.all([import('node:fs'), import('node:path')]);
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
        await queueDelete(config.serverSocket, inv);
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

/**
 * The one line of output (a result or an error object). `console.log` with one string argument prints it as it is
 * (no format directives), and under Bun it costs ≈ 15 ms less than the first use of `process.stdout`.
 */
function writeStdout(value: unknown): void {
  console.log(JSON.stringify(value));
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
      writeStdout(versionResult(v));
      return 0;
    }
    const config = parseConfig(stdin);
    version = config.cniVersion;
    const inv = parseInvocation(env, config);
    const out = await run(inv);
    if (out !== undefined) writeStdout(out);
    return 0;
  } catch (err) {
    const e =
      err instanceof CniError ? err : new CniError(CniCode.IOFailure, `hybridnet plugin failed: ${String(err)}`);
    writeStdout(e.toJSON(version));
    return 1;
  }
}

void cniMain().then((code) => {
  process.exitCode = code;
});
