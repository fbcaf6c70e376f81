/**
 * `hybridnet manager`: flags and environment of SPEC §1.3 / §4, then runs the manager until SIGTERM/SIGINT (exit 0)
 * or until the lease is lost or start-up fails (exit 1, like controller-runtime: a restarted pod campaigns afresh).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import pino from 'pino';
import { parseGoBool } from '../api/index.ts';
import { KubeClient } from '../kube/index.ts';
import { ConfigError, defaultManagerConfig, parseConcurrency, type ManagerConfig } from '../manager/config.ts';
import { Manager } from '../manager/manager.ts';

interface ManagerFlags {
  kubeconfig?: string;
  statefulWorkloadKinds: string;
  defaultIpRetain: string;
  controllerConcurrency: string;
  metricsPort: string;
  podLabelSelector: string;
  identity?: string;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  resyncPeriod: string;
  logLevel: string;
  featureGates: string;
}

/** Builds the manager settings from flags + environment. @throws ConfigError. */
export function managerConfigFromFlags(flags: ManagerFlags, env: NodeJS.ProcessEnv = process.env): ManagerConfig {
  const config = defaultManagerConfig(env);
  config.statefulWorkloadKinds = flags.statefulWorkloadKinds
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const retain = parseGoBool(flags.defaultIpRetain);
  if (retain === undefined)
    throw new ConfigError(`--default-ip-retain: ${JSON.stringify(flags.defaultIpRetain)} is not a boolean`);
  config.defaultIPRetain = retain;
  config.concurrency = { ...config.concurrency, ...parseConcurrency(flags.controllerConcurrency) };
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new ConfigError(`${name}: ${JSON.stringify(v)} is not a number`);
    return n;
  };
  config.metricsPort = int('--metrics-port', flags.metricsPort);
  config.podLabelSelector = flags.podLabelSelector;
  config.identity = flags.identity || `${os.hostname()}_${randomBytes(8).toString('hex')}`;
  config.leaseDurationMs = int('--leader-elect-lease-duration', flags.leaderElectLeaseDuration) * 1000;
  config.renewDeadlineMs = int('--leader-elect-renew-deadline', flags.leaderElectRenewDeadline) * 1000;
  config.retryPeriodMs = int('--leader-elect-retry-period', flags.leaderElectRetryPeriod) * 1000;
  config.resyncPeriodMs = int('--resync-period', flags.resyncPeriod) * 1000;
  for (const part of flags.featureGates
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')) {
    const [gate, value] = part.split('=');
    if (gate !== 'MultiCluster' && gate !== 'VMIPRetain') {
      throw new ConfigError(`--feature-gates: unknown gate ${JSON.stringify(gate)} (known: MultiCluster, VMIPRetain)`);
    }
    const on = parseGoBool(value ?? '');
    if (on === undefined) throw new ConfigError(`--feature-gates: ${part}: value is not a boolean`);
    if (on) {
      throw new ConfigError(
        `--feature-gates: ${gate}=true is not supported by this manager yet (alpha in the original, default false); remove it`,
      );
    }
  }
  return config;
}

/** Registers `hybridnet manager` on the program. */
export function registerManagerCommand(program: Command): void {
  program
    .command('manager')
    .description(
      'IPAM controllers: allocate pod addresses as IPInstances, network/subnet status, node labels (leader-elected)',
    )
    .option('--kubeconfig <path>', 'kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)')
    .option(
      '--stateful-workload-kinds <kinds>',
      'owner kinds whose pods keep their IPs (comma-separated)',
      'StatefulSet',
    )
    .option('--default-ip-retain <bool>', 'retain IPs of stateful pods unless the pod says otherwise', 'true')
    .option('--controller-concurrency <list>', 'workers per controller, e.g. Pod=4,IPAM=1,IPInstance=2', '')
    .option('--metrics-port <port>', 'port of /metrics, /healthz, /readyz', '9899')
    .option('--pod-label-selector <selector>', 'only handle pods matching this label selector', '')
    .option('--identity <id>', 'leader election identity (default hostname + random suffix)')
    .option('--leader-elect-lease-duration <s>', 'Lease duration in seconds', '15')
    .option('--leader-elect-renew-deadline <s>', 'renew deadline in seconds', '10')
    .option('--leader-elect-retry-period <s>', 'retry period in seconds', '2')
    .option('--resync-period <s>', 'periodic resync of every controller, seconds', '300')
    .option('--log-level <level>', 'pino log level', 'info')
    .option(
      '--feature-gates <gates>',
      'k8s-style gates (MultiCluster, VMIPRetain); only =false is accepted for now',
      '',
    )
    .action(async (flags: ManagerFlags) => {
      const logger = pino({ level: flags.logLevel, base: { component: 'manager' } });
      let config: ManagerConfig;
      try {
        config = managerConfigFromFlags(flags);
      } catch (err) {
        logger.fatal({ err }, 'invalid configuration');
        process.exit(2);
      }
      const kc = new KubeConfig();
      try {
        if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
        else kc.loadFromDefault();
      } catch (err) {
        logger.fatal({ err, kubeconfig: flags.kubeconfig }, 'cannot load kubeconfig');
        process.exit(2);
      }
      const client = await KubeClient.fromKubeConfig(kc, 64, `hybridnet-manager-${config.identity}`);
      const manager = new Manager(client, config, logger);
      const ac = new AbortController();
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => ac.abort());
      try {
        const exit = await manager.run(ac.signal);
        client.close();
        if (exit === 'lost') {
          logger.error('leader election lost: exiting');
          process.exit(1);
        }
        process.exit(0);
      } catch (err) {
        logger.fatal({ err }, 'manager failed');
        process.exit(1);
      }
    });
}
