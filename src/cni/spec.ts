/**
 * The pure part of the CNI plugin (CNI spec 1.1, https://github.com/containernetworking/cni/blob/main/SPEC.md):
 * parse and validate the network configuration (stdin) and the environment, build the daemon request and the CNI
 * result in the configuration's version, and describe failures as CNI error objects with the spec's codes.
 * No I/O: `main.ts` is the shell around it.
 */
import { HOST_VETH_MAC, MAX_SOCKET_PATH_BYTES, POD_GATEWAY_V4, POD_GATEWAY_V6 } from '../daemon/constants.ts';

/** CNI spec versions this plugin speaks (VERSION command), oldest first. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** Well-known CNI error codes (CNI spec §"Error"); 100+ are this plugin's. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  IOFailure: 5,
  DecodingFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  NotReady: 50,
  PluginNotAvailable: 51,
  DaemonFailure: 100,
} as const;

/**
 * A failure reported to the runtime as a CNI error object on stdout (`{cniVersion, code, msg, details}`), exit code 1.
 * `code` is one of {@link CniCode}; `msg` says what is wrong, `details` what to do next.
 */
export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  /** The error object of the CNI spec, in `cniVersion`. */
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** CNI commands. */
export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';
const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'];

export { MAX_SOCKET_PATH_BYTES };

/** Longest `daemon_timeout_seconds`: timers of Node.js and Bun hold at most 2^31 − 1 ms (≈ 24.8 days). */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

/** The plugin's network configuration (SPEC §6.1). */
export interface PluginConfig {
  cniVersion: string;
  name: string;
  type: string;
  /** Daemon unix socket (`server_socket`, required). */
  serverSocket: string;
  /** How long to wait for the daemon's answer (`daemon_timeout_seconds`, default 120 s), ms. */
  timeoutMs: number;
  /** Result of the previous plugin / ADD (DEL, CHECK, chained ADD). */
  prevResult?: unknown;
  /** `cni.dev/valid-attachments` of a GC request. */
  validAttachments?: { containerID: string; ifname: string }[];
  /**
   * Pod identity from the configuration's `args.cni` (CNI conventions, "args in network config"): the fallback for
   * runtimes that send no Kubernetes `CNI_ARGS`, such as `ctr run --cni`. `CNI_ARGS` wins where both are set.
   */
  configArgs?: CniArgs;
}

/** Pod identity and K8S_* arguments from CNI_ARGS. */
export interface CniArgs {
  podNamespace?: string;
  podName?: string;
  podUID?: string;
  infraContainerID?: string;
}

/** Everything one invocation needs, validated. */
export interface Invocation {
  command: CniCommand;
  config: PluginConfig;
  containerID: string;
  netns: string;
  ifName: string;
  args: CniArgs;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Compares dotted versions; -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Parses stdin as the network configuration. @throws CniError 6 (not JSON), 7 (missing/invalid field),
 * 1 (unknown cniVersion), 2 (an `ipam` section: addresses come from the manager, not from an IPAM plugin).
 */
export function parseConfig(stdin: string): PluginConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(
      CniCode.DecodingFailure,
      `network configuration on stdin is not valid JSON: ${(err as Error).message}`,
      'pass the network configuration (one plugin entry of the conflist) as JSON on stdin',
    );
  }
  if (!isObject(raw)) throw new CniError(CniCode.DecodingFailure, 'network configuration must be a JSON object');
  const cniVersion = raw.cniVersion;
  if (typeof cniVersion !== 'string' || cniVersion === '')
    throw new CniError(CniCode.InvalidConfig, 'cniVersion is required in the network configuration');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion))
    throw new CniError(
      CniCode.IncompatibleVersion,
      `cniVersion ${JSON.stringify(cniVersion)} is not supported`,
      `supported versions: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  const name = raw.name;
  if (typeof name !== 'string' || name === '')
    throw new CniError(CniCode.InvalidConfig, 'name is required in the network configuration');
  const socket = raw.server_socket;
  if (typeof socket !== 'string' || socket === '')
    throw new CniError(
      CniCode.InvalidConfig,
      'server_socket is required in cni.conf',
      'set "server_socket" to the hybridnet daemon socket, e.g. /run/cni/hybridnet.sock',
    );
  // sun_path holds 108 bytes with the terminating NUL (unix(7)); Node.js silently truncates a longer path and would
  // connect to whatever socket the truncated path names, Bun does not: the same config must mean the same socket
  const socketBytes = new TextEncoder().encode(socket).length;
  if (socket.includes('\0') || socketBytes > MAX_SOCKET_PATH_BYTES)
    throw new CniError(
      CniCode.InvalidConfig,
      `server_socket ${JSON.stringify(socket)} is not a usable unix socket path (${socketBytes} bytes, at most ${MAX_SOCKET_PATH_BYTES} without NUL characters)`,
      'set "server_socket" to the path the hybridnet daemon listens on, e.g. /run/cni/hybridnet.sock',
    );
  if (raw.ipam !== undefined)
    throw new CniError(
      CniCode.UnsupportedField,
      'hybridnet does not use an "ipam" section: pod addresses are IPInstances allocated by hybridnet-manager',
      'remove "ipam" from the hybridnet entry of the conflist',
    );
  let timeoutMs = 120_000;
  if (raw.daemon_timeout_seconds !== undefined) {
    const t = raw.daemon_timeout_seconds;
    if (typeof t !== 'number' || !(t > 0) || t > MAX_TIMEOUT_SECONDS)
      throw new CniError(
        CniCode.InvalidConfig,
        `daemon_timeout_seconds must be a positive number of at most ${MAX_TIMEOUT_SECONDS}, not ${JSON.stringify(t)}`,
      );
    timeoutMs = t * 1000;
  }
  const config: PluginConfig = {
    cniVersion,
    name,
    type: typeof raw.type === 'string' ? raw.type : 'hybridnet',
    serverSocket: socket,
    timeoutMs,
  };
  if (raw.prevResult !== undefined) {
    if (!isObject(raw.prevResult)) throw new CniError(CniCode.DecodingFailure, 'prevResult must be a JSON object');
    config.prevResult = raw.prevResult;
  }
  const va = raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments'];
  if (va !== undefined) {
    if (!Array.isArray(va)) throw new CniError(CniCode.InvalidConfig, 'cni.dev/valid-attachments must be an array');
    config.validAttachments = va.map((a, i) => {
      if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string')
        throw new CniError(
          CniCode.InvalidConfig,
          `cni.dev/valid-attachments[${i}] needs string containerID and ifname`,
        );
      return { containerID: a.containerID, ifname: a.ifname };
    });
  }
  if (raw.args !== undefined) config.configArgs = parseConfigArgs(raw.args);
  return config;
}

const CONFIG_ARG_KEYS = {
  K8S_POD_NAMESPACE: 'podNamespace',
  K8S_POD_NAME: 'podName',
  K8S_POD_UID: 'podUID',
} as const satisfies Record<string, keyof CniArgs>;

/**
 * Reads pod identity from the configuration's `args.cni` map (CNI conventions: "args" in the network
 * configuration, namespaced by `cni`): `K8S_POD_NAMESPACE`, `K8S_POD_NAME`, `K8S_POD_UID` as strings. Other keys are
 * ignored (other plugins of a conflist may own them).
 * @throws CniError 7 when `args` or `args.cni` is not an object or one of those keys is not a string.
 */
export function parseConfigArgs(args: unknown): CniArgs {
  if (!isObject(args)) throw new CniError(CniCode.InvalidConfig, 'args must be a JSON object');
  const cni = args.cni;
  if (cni === undefined) return {};
  if (!isObject(cni)) throw new CniError(CniCode.InvalidConfig, 'args.cni must be a JSON object');
  const out: CniArgs = {};
  for (const [key, field] of Object.entries(CONFIG_ARG_KEYS)) {
    const v = cni[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '')
      throw new CniError(CniCode.InvalidConfig, `args.cni.${key} must be a non-empty string, got ${JSON.stringify(v)}`);
    out[field] = v;
  }
  return out;
}

/**
 * Parses `CNI_ARGS` (`K=V;K=V`). Known keys: IgnoreUnknown, K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID,
 * K8S_POD_INFRA_CONTAINER_ID. Other keys are an error (code 4) unless `IgnoreUnknown=1|true` (libcni semantics).
 */
export function parseCniArgs(text: string | undefined): CniArgs {
  const out: CniArgs = {};
  if (text === undefined || text === '') return out;
  const pairs: [string, string][] = [];
  for (const part of text.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(CniCode.InvalidEnv, `CNI_ARGS: ${JSON.stringify(part)} is not KEY=VALUE`);
    pairs.push([part.slice(0, eq), part.slice(eq + 1)]);
  }
  const ignoreUnknown = pairs.some(([k, v]) => k === 'IgnoreUnknown' && ['1', 'true', 'True', 'TRUE'].includes(v));
  for (const [k, v] of pairs) {
    switch (k) {
      case 'IgnoreUnknown':
        break;
      case 'K8S_POD_NAMESPACE':
        out.podNamespace = v;
        break;
      case 'K8S_POD_NAME':
        out.podName = v;
        break;
      case 'K8S_POD_UID':
        out.podUID = v;
        break;
      case 'K8S_POD_INFRA_CONTAINER_ID':
        out.infraContainerID = v;
        break;
      default:
        if (!ignoreUnknown)
          throw new CniError(
            CniCode.InvalidEnv,
            `CNI_ARGS: unknown argument ${JSON.stringify(k)}`,
            'add IgnoreUnknown=1',
          );
    }
  }
  return out;
}

/**
 * Interface names: alphanumerics, `_`, `-`, `.`, at most 15 (IFNAMSIZ - 1), not starting with `.` or `-`. Stricter
 * than the kernel's `dev_valid_name` on purpose: the daemon writes the name into `ip -batch` lines and a `sh -c`
 * script, where quotes, `;`, `#` or `$` would be commands. Same rule as the daemon's `parsePodRequest`.
 */
const IFNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function requireEnv(env: Record<string, string | undefined>, name: string, command: string): string {
  const v = env[name];
  if (v === undefined || v === '')
    throw new CniError(CniCode.InvalidEnv, `${name} is required for ${command}`, 'the container runtime sets it');
  return v;
}

/**
 * Validates the environment of one call and combines it with the configuration.
 * @throws CniError 4 (missing/invalid env or CNI_ARGS), 1 (command not available in the config's version).
 */
export function parseInvocation(env: Record<string, string | undefined>, config: PluginConfig): Invocation {
  const command = env.CNI_COMMAND;
  if (command === undefined || command === '')
    throw new CniError(CniCode.InvalidEnv, 'CNI_COMMAND is required', `one of ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(command))
    throw new CniError(CniCode.InvalidEnv, `CNI_COMMAND ${JSON.stringify(command)} is not supported`);
  const cmd = command as CniCommand;
  if (cmd === 'CHECK' && compareVersions(config.cniVersion, '0.4.0') < 0)
    throw new CniError(CniCode.IncompatibleVersion, `CHECK needs cniVersion >= 0.4.0, config has ${config.cniVersion}`);
  if ((cmd === 'STATUS' || cmd === 'GC') && compareVersions(config.cniVersion, '1.1.0') < 0)
    throw new CniError(
      CniCode.IncompatibleVersion,
      `${cmd} needs cniVersion >= 1.1.0, config has ${config.cniVersion}`,
    );
  let containerID = '';
  let netns = '';
  let ifName = '';
  if (cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK') {
    containerID = requireEnv(env, 'CNI_CONTAINERID', cmd);
    if (!CONTAINER_ID_RE.test(containerID))
      throw new CniError(CniCode.InvalidEnv, `CNI_CONTAINERID ${JSON.stringify(containerID)} has invalid characters`);
    ifName = requireEnv(env, 'CNI_IFNAME', cmd);
    if (!IFNAME_RE.test(ifName) || ifName === '.' || ifName === '..')
      throw new CniError(
        CniCode.InvalidEnv,
        `CNI_IFNAME ${JSON.stringify(ifName)} is not a valid interface name`,
        'at most 15 of A-Z a-z 0-9 _ . -, not starting with . or -',
      );
    netns = cmd === 'DEL' ? (env.CNI_NETNS ?? '') : requireEnv(env, 'CNI_NETNS', cmd);
  }
  const args: CniArgs = { ...config.configArgs, ...parseCniArgs(env.CNI_ARGS) };
  if (cmd === 'ADD') {
    const hint =
      'kubelet passes K8S_POD_* in CNI_ARGS; runtimes without Kubernetes can set args.cni in the network configuration';
    if (!env.CNI_ARGS && !config.configArgs) throw new CniError(CniCode.InvalidEnv, 'CNI_ARGS is required', hint);
    if (!args.podName) throw new CniError(CniCode.InvalidEnv, 'K8S_POD_NAME is required in CNI_ARGS', hint);
    if (!args.podNamespace) throw new CniError(CniCode.InvalidEnv, 'K8S_POD_NAMESPACE is required in CNI_ARGS', hint);
  }
  if (cmd === 'CHECK' && config.prevResult === undefined)
    throw new CniError(CniCode.InvalidConfig, 'CHECK needs prevResult in the network configuration');
  return { command: cmd, config, containerID, netns, ifName, args };
}

/** Body of POST /api/v1/add, /del, /check (SPEC §6.3 plus the fields this project adds). */
export interface DaemonRequest {
  pod_name: string;
  pod_namespace: string;
  pod_uid?: string;
  container_id: string;
  net_ns: string;
  if_name: string;
  network_name: string;
  prev_result?: unknown;
}

/** Builds the daemon request of an ADD/DEL/CHECK. */
export function daemonRequest(inv: Invocation): DaemonRequest {
  return {
    pod_name: inv.args.podName ?? '',
    pod_namespace: inv.args.podNamespace ?? '',
    ...(inv.args.podUID ? { pod_uid: inv.args.podUID } : {}),
    container_id: inv.containerID,
    net_ns: inv.netns,
    if_name: inv.ifName,
    network_name: inv.config.name,
    ...(inv.config.prevResult !== undefined ? { prev_result: inv.config.prevResult } : {}),
  };
}

/** One address the daemon configured (SPEC §6.3). */
export interface DaemonAddress {
  /** `ip/prefix`. */
  ip: string;
  mac: string;
  gateway?: string;
  /** `"4"` | `"6"`. */
  protocol: string;
}

/** Answer of POST /api/v1/add (SPEC §6.3 plus `container_interface`, `host_mac`, `mtu`). */
export interface DaemonAddResponse {
  address: DaemonAddress[] | null;
  host_interface: string;
  host_mac?: string;
  container_interface?: string;
  mtu?: number;
  error: string;
  /** CNI code the daemon suggests for `error`. */
  code?: number;
}

/**
 * Decodes the daemon's answer to a successful ADD (HTTP 200): a JSON object whose `address` is an array of
 * `{ip: string, mac: string, protocol: "4" | "6"}` and whose `host_interface` is a string.
 * @throws CniError 100 naming what is wrong and quoting the start of the body (a daemon of another version, or
 * something else listening on the socket).
 */
export function parseAddResponse(body: string): DaemonAddResponse {
  const quote = JSON.stringify(body.slice(0, 200));
  const bad = (what: string): CniError =>
    new CniError(
      CniCode.DaemonFailure,
      `hybridnet daemon answered ADD with ${what}: ${quote}`,
      'check that server_socket is the hybridnet daemon socket and that plugin and daemon are of the same release',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw bad('a body that is not JSON');
  }
  if (!isObject(raw)) throw bad('a body that is not a JSON object');
  if (typeof raw.host_interface !== 'string') throw bad('no host_interface string');
  if (!Array.isArray(raw.address) || raw.address.length === 0) throw bad('no address list');
  for (const a of raw.address as unknown[])
    if (
      !isObject(a) ||
      typeof a.ip !== 'string' ||
      typeof a.mac !== 'string' ||
      (a.protocol !== '4' && a.protocol !== '6')
    )
      throw bad('an address that is not {ip, mac, protocol: "4"|"6"}');
  return raw as unknown as DaemonAddResponse;
}

/** A CNI result of version 0.3.0 and later. */
export interface CniResult {
  cniVersion: string;
  interfaces: { name: string; mac: string; sandbox?: string; mtu?: number }[];
  ips: { version?: string; address: string; gateway: string; interface: number }[];
  routes: { dst: string; gw: string }[];
  dns: Record<string, never>;
}

/**
 * Builds the ADD result (D3): the host veth (no sandbox) and the container interface (with sandbox), every address
 * with `interface` = 1 (the container one) and the gateway the pod really uses (169.254.1.1 / fe80::ecee:eeff:feee:eeee),
 * default routes via it. Pre-0.3 versions get the `ip4`/`ip6` shape; 0.3.x/0.4.0 carry `ips[].version`.
 */
export function buildResult(inv: Invocation, resp: DaemonAddResponse): unknown {
  const addrs = resp.address ?? [];
  const v = inv.config.cniVersion;
  const gw = (a: DaemonAddress): string => (a.protocol === '6' ? POD_GATEWAY_V6 : POD_GATEWAY_V4);
  const dst = (a: DaemonAddress): string => (a.protocol === '6' ? '::/0' : '0.0.0.0/0');
  if (compareVersions(v, '0.3.0') < 0) {
    const legacy: Record<string, unknown> = { cniVersion: v };
    for (const a of addrs) {
      legacy[a.protocol === '6' ? 'ip6' : 'ip4'] = { ip: a.ip, gateway: gw(a), routes: [{ dst: dst(a), gw: gw(a) }] };
    }
    return legacy;
  }
  const withVersion = compareVersions(v, '1.0.0') < 0;
  const withMtu = compareVersions(v, '1.1.0') >= 0 && resp.mtu !== undefined;
  const podMac = addrs[0]?.mac ?? '';
  const result: CniResult = {
    cniVersion: v,
    interfaces: [
      { name: resp.host_interface, mac: resp.host_mac ?? HOST_VETH_MAC, ...(withMtu ? { mtu: resp.mtu } : {}) },
      {
        name: resp.container_interface ?? inv.ifName,
        mac: podMac,
        sandbox: inv.netns,
        ...(withMtu ? { mtu: resp.mtu } : {}),
      },
    ],
    ips: addrs.map((a) => ({
      ...(withVersion ? { version: a.protocol === '6' ? '6' : '4' } : {}),
      address: a.ip,
      gateway: gw(a),
      interface: 1,
    })),
    routes: addrs.map((a) => ({ dst: dst(a), gw: gw(a) })),
    dns: {},
  };
  return result;
}

/** The VERSION answer. */
export function versionResult(cniVersion: string | undefined): unknown {
  return { cniVersion: cniVersion ?? '1.1.0', supportedVersions: [...SUPPORTED_VERSIONS] };
}
