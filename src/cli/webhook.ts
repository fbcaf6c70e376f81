/**
 * `hybridnet webhook`: the admission webhook server (SPEC §5), plus `gen-certs` (a development CA
 * and serving certificate) and `configurations` (the Validating/MutatingWebhookConfiguration YAML).
 */
import { readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { DEFAULT_IP_RETAIN, DEFAULT_STATEFUL_WORKLOAD_KINDS, parseGoBool } from '../api/index.ts';
import { selectionDefaultsFrom, startWebhookApp } from '../webhook/app.ts';
import { writeDevCertificates } from '../webhook/certs.ts';
import { buildWebhookConfigurations } from '../webhook/configurations.ts';
import { DEFAULT_IPINSTANCE_ADMIN_GROUPS, DEFAULT_IPINSTANCE_WRITERS } from '../webhook/rules/index.ts';

/** The original image's serving certificate location (SPEC §1.1). */
const DEFAULT_CERT_DIR = '/tmp/k8s-webhook-server/serving-certs';

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${value} is not a TCP port`);
  return n;
}

function goBool(value: string): boolean {
  const b = parseGoBool(value);
  if (b === undefined) throw new InvalidArgumentError(`${value} is not a boolean (true/false)`);
  return b;
}

/** `host:port` or `:port` (all interfaces); empty ⇒ undefined (disabled). */
export function parseAddress(value: string): { host: string; port: number } | undefined {
  if (value === '' || value === '0') return undefined;
  const i = value.lastIndexOf(':');
  if (i < 0) throw new InvalidArgumentError(`${value} is not host:port or :port`);
  const host = value.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { host, port: port(value.slice(i + 1)) };
}

interface ServeOptions {
  port: number;
  bindAddress: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  certReloadInterval: number;
  kubeconfig?: string;
  healthProbeAddr: string;
  statefulWorkloadKinds: string[];
  defaultIpRetain: boolean;
  ipinstanceWriters: string[];
  ipinstanceAdminGroups: string[];
  logLevel: string;
}

async function serve(o: ServeOptions): Promise<void> {
  const logger = pino({ name: 'hybridnet-webhook', level: o.logLevel });
  const kc = new KubeConfig();
  if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
  else kc.loadFromDefault();
  const config = {
    defaults: selectionDefaultsFrom(process.env, o.statefulWorkloadKinds, o.defaultIpRetain),
    ipInstancePolicy: { allowedUsers: o.ipinstanceWriters, adminGroups: o.ipinstanceAdminGroups },
  };
  logger.info({ defaults: config.defaults, ipInstancePolicy: config.ipInstancePolicy }, 'starting webhook');
  const probe = parseAddress(o.healthProbeAddr);
  const app = await startWebhookApp({
    kubeConfig: kc,
    host: o.bindAddress,
    port: o.port,
    certFile: o.tlsCertFile,
    keyFile: o.tlsPrivateKeyFile,
    certReloadIntervalMs: o.certReloadInterval,
    ...(probe ? { probeAddress: probe } : {}),
    config,
    logger,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'stopping webhook');
      app.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'stop failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** Registers `webhook` (serve), `webhook gen-certs` and `webhook configurations` on `program`. */
export function registerWebhookCommand(program: Command): void {
  const cmd = program
    .command('webhook')
    .description('Run the admission webhook (validates Networks, Subnets, IPInstances, Pods; mutates Pods)')
    .option('--port <port>', 'HTTPS port', port, 9898)
    .option('--bind-address <ip>', 'address to listen on', '0.0.0.0')
    .option('--tls-cert-file <file>', 'serving certificate (PEM, reloaded on change)', `${DEFAULT_CERT_DIR}/tls.crt`)
    .option('--tls-private-key-file <file>', 'serving key (PEM, reloaded on change)', `${DEFAULT_CERT_DIR}/tls.key`)
    .option('--cert-reload-interval <ms>', 'how often the certificate files are re-read (ms)', port, 10_000)
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--health-probe-addr <addr>', 'plain HTTP /healthz /readyz /metrics, e.g. :9897 (empty: off)', '')
    .option('--stateful-workload-kinds <kinds>', 'owner kinds whose pods keep their IPs (comma list)', list, [
      ...DEFAULT_STATEFUL_WORKLOAD_KINDS,
    ])
    .option('--default-ip-retain <bool>', 'retain IPs of stateful pods by default', goBool, DEFAULT_IP_RETAIN)
    .option('--ipinstance-writers <users>', 'users allowed to write IPInstances (comma list)', list, [
      ...DEFAULT_IPINSTANCE_WRITERS,
    ])
    .option(
      '--ipinstance-admin-groups <groups>',
      'groups allowed to delete IPInstances or remove their finalizers (comma list; empty: nobody)',
      list,
      [...DEFAULT_IPINSTANCE_ADMIN_GROUPS],
    )
    .addOption(
      new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'),
    )
    .addHelpText(
      'after',
      '\nEnvironment: DEFAULT_NETWORK_TYPE (Underlay|Overlay|GlobalBGP; unset: Underlay),\n' +
        '             DEFAULT_IP_FAMILY (IPv4|IPv6|DualStack; unset: IPv4).',
    )
    .action(async (o: ServeOptions) => {
      await serve(o);
    });

  cmd
    .command('gen-certs')
    .description('Write a development CA and serving certificate: ca.crt, tls.crt, tls.key')
    .requiredOption('--dir <dir>', 'output directory (created if missing)')
    .option('--dns-names <names>', 'DNS subject alternative names (comma list)', list, [])
    .option('--ip-addresses <ips>', 'IP subject alternative names (comma list)', list, [])
    .option('--valid-days <days>', 'validity in days', port, 365)
    .action(async (o: { dir: string; dnsNames: string[]; ipAddresses: string[]; validDays: number }) => {
      const files = await writeDevCertificates(o.dir, {
        dnsNames: o.dnsNames,
        ipAddresses: o.ipAddresses,
        validDays: o.validDays,
      });
      process.stdout.write(`${files.caFile}\n${files.certFile}\n${files.keyFile}\n`);
    });

  cmd
    .command('configurations')
    .description('Print the Validating/MutatingWebhookConfiguration YAML for a CA bundle and a Service or URL')
    .requiredOption('--ca-file <file>', 'PEM CA bundle that signed the serving certificate')
    .option('--url <url>', 'base URL of the webhook, e.g. https://127.0.0.1:9898')
    .option('--service <namespace/name>', 'Service in front of the webhook', 'kube-system/hybridnet-webhook')
    .option('--service-port <port>', 'Service port', port, 443)
    .action(async (o: { caFile: string; url?: string; service: string; servicePort: number }) => {
      const caBundle = await readFile(o.caFile, 'utf8');
      const [namespace = '', name = ''] = o.service.split('/');
      const target = o.url ? { url: o.url } : { service: { namespace, name, port: o.servicePort } };
      const { validating, mutating } = buildWebhookConfigurations({ caBundle, target });
      const opts = { aliasDuplicateObjects: false };
      process.stdout.write(`${stringify(validating, opts)}---\n${stringify(mutating, opts)}`);
    });
}
