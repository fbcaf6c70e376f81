import { expect } from 'vitest';
import { sh } from '../datapath/harness.ts';

/**
 * The environment of a plugin call as a runtime sets it for an ADD of pod `ns1/p1` (CNI spec §"Parameters"), with
 * `extra` over it; shared by the plugin tests that run the executable against stand-in daemons.
 */
export function pluginEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/var/run/netns/x',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1',
    ...extra,
  };
}

/** What one plugin process did: exit code, stderr, its stdout JSON, how many stdout lines, wall time (ms). */
export interface PluginOutcome {
  code: number;
  stderr: string;
  out: { code?: number; msg?: string; details?: string; ips?: unknown };
  lines: number;
  ms: number;
}

/** Runs the plugin command `argv` (executable first) with `env` and `stdin` as a runtime does; 30 s limit. */
export async function runPlugin(argv: string[], env: Record<string, string>, stdin: string): Promise<PluginOutcome> {
  const t0 = Date.now();
  const r = await sh(argv[0] ?? '', argv.slice(1), { env, input: stdin, timeoutMs: 30_000 });
  const text = r.stdout.trim();
  return {
    code: r.code,
    stderr: r.stderr,
    out: text ? (JSON.parse(text) as PluginOutcome['out']) : {},
    lines: text ? text.split('\n').length : 0,
    ms: Date.now() - t0,
  };
}

/**
 * A CNI error as the spec wants it (CNI spec §"Error"): exit 1, exactly one JSON line on stdout with `code` and a
 * `msg` matching `msg`, nothing on stderr, no stack frames, TypeErrors or Bun fetch hints in the message.
 */
export function expectCniError(o: PluginOutcome, code: number, msg: RegExp): void {
  expect(o.stderr).toBe('');
  expect(o.lines).toBe(1);
  expect(o.out.code).toBe(code);
  expect(o.out.msg).toMatch(msg);
  expect(o.out.msg).not.toMatch(/\n\s+at |TypeError|is not a function|verbose: true|typo in the url/);
  expect(o.code).toBe(1);
}
