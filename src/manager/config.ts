/**
 * Manager settings: flags and environment of SPEC §1.3 and §4 (`DEFAULT_NETWORK_TYPE`, `DEFAULT_IP_FAMILY`,
 * `NAMESPACE`, `--stateful-workload-kinds`, `--default-ip-retain`, `--controller-concurrency`, `--metrics-port`,
 * `--pod-label-selector`), plus the leader-election timings (client-go defaults).
 */
import {
  DEFAULT_IP_RETAIN,
  DEFAULT_STATEFUL_WORKLOAD_KINDS,
  ENV_DEFAULT_IP_FAMILY,
  ENV_DEFAULT_NETWORK_TYPE,
  parseIPFamily,
  parseNetworkType,
} from '../api/index.ts';

/** Controllers whose concurrency may be set (SPEC §4.6). */
export const CONTROLLER_NAMES = [
  'Pod',
  'IPAM',
  'IPInstance',
  'Node',
  'NetworkStatus',
  'SubnetStatus',
  'Quota',
  'RemoteClusterUUID',
  'RemoteCluster',
  'RemoteClusterStatus',
  'GlobalService',
] as const;

/** Everything the manager needs to run. */
export interface ManagerConfig {
  /** Lease namespace (env `NAMESPACE`). */
  namespace: string;
  /** Lease name, `hybridnet-manager-election`. */
  leaseName: string;
  /** This candidate's identity (hostname + random suffix). */
  identity: string;
  /** Parsed DEFAULT_NETWORK_TYPE (unknown spellings kept verbatim). */
  defaultNetworkType: string;
  /** Parsed DEFAULT_IP_FAMILY (unknown spellings kept verbatim). */
  defaultIPFamily: string;
  statefulWorkloadKinds: string[];
  defaultIPRetain: boolean;
  /** Worker count per controller name (1–100). */
  concurrency: Record<string, number>;
  /** Port of /metrics, /healthz, /readyz; 0 picks a free port; -1 disables the server. */
  metricsPort: number;
  /** Label selector restricting the pods handled (empty = all). */
  podLabelSelector: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Periodic resync of every controller (ms). */
  resyncPeriodMs: number;
}

/** Error in a flag or environment value; names the flag and the value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Parses `--controller-concurrency` (`Pod=4,IPAM=1`): keys from {@link CONTROLLER_NAMES}, values clamped to 1–100.
 * @throws ConfigError on an unknown key or a non-integer value.
 */
export function parseConcurrency(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const [k, v] = part.split('=');
    if (k === undefined || v === undefined || !(CONTROLLER_NAMES as readonly string[]).includes(k.trim())) {
      throw new ConfigError(
        `--controller-concurrency: ${JSON.stringify(part)} is not <Controller>=<n> with Controller one of ${CONTROLLER_NAMES.join(', ')}`,
      );
    }
    const n = Number(v);
    if (!Number.isInteger(n)) throw new ConfigError(`--controller-concurrency: ${k}=${v}: not an integer`);
    out[k.trim()] = Math.max(1, Math.min(100, n));
  }
  return out;
}

/** Defaults, with DEFAULT_NETWORK_TYPE / DEFAULT_IP_FAMILY / NAMESPACE read from `env`. */
export function defaultManagerConfig(env: NodeJS.ProcessEnv = process.env): ManagerConfig {
  return {
    namespace: env.NAMESPACE || 'kube-system',
    leaseName: 'hybridnet-manager-election',
    identity: '',
    defaultNetworkType: parseNetworkType(env[ENV_DEFAULT_NETWORK_TYPE] ?? ''),
    defaultIPFamily: parseIPFamily(env[ENV_DEFAULT_IP_FAMILY] ?? ''),
    statefulWorkloadKinds: [...DEFAULT_STATEFUL_WORKLOAD_KINDS],
    defaultIPRetain: DEFAULT_IP_RETAIN,
    concurrency: { Pod: 1, IPAM: 1, IPInstance: 1 },
    metricsPort: 9899,
    podLabelSelector: '',
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    resyncPeriodMs: 300_000,
  };
}
