/**
 * Wiring of the webhook process: cluster view (informers) + pure rules + HTTPS server. Used by the
 * `hybridnet webhook` command and by the integration tests, so both run the same code.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseIPFamily, parseNetworkType } from '../api/index.ts';
import { KubeClient } from '../kube/index.ts';
import type { SelectionDefaults } from '../selection/index.ts';
import { InformerClusterView } from './cache.ts';
import { createWebhookMetrics } from './metrics.ts';
import { admissionHandlers, type AdmissionConfig } from './rules/index.ts';
import { startWebhookServer, type WebhookServer } from './server.ts';

/** Everything `hybridnet webhook` needs, already parsed. */
export interface WebhookAppOptions {
  kubeConfig: KubeConfig;
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  certReloadIntervalMs?: number;
  probeAddress?: { host: string; port: number };
  config: AdmissionConfig;
  logger: Logger;
  /** Informer staleness limit (ms), default 5 min. */
  staleAfterMs?: number;
}

/** A running webhook process. */
export interface WebhookApp {
  server: WebhookServer;
  view: InformerClusterView;
  /** Resolves once every informer has listed. */
  synced: Promise<void>;
  /** Stops the server and the informers. */
  stop(): Promise<void>;
}

/**
 * Selection defaults from the environment (SPEC §1.3) and flags: `DEFAULT_NETWORK_TYPE` (unset ⇒
 * Underlay), `DEFAULT_IP_FAMILY` (unset ⇒ IPv4Only); unknown spellings are kept so pods relying on
 * them are refused with that value in the message.
 */
export function selectionDefaultsFrom(
  env: NodeJS.ProcessEnv,
  statefulWorkloadKinds: readonly string[],
  ipRetain: boolean,
): SelectionDefaults {
  return {
    networkType: parseNetworkType(env.DEFAULT_NETWORK_TYPE ?? ''),
    ipFamily: parseIPFamily(env.DEFAULT_IP_FAMILY ?? ''),
    statefulWorkloadKinds,
    ipRetain,
  };
}

/** Starts informers and the HTTPS server. @throws on unusable certificates or a busy port. */
export async function startWebhookApp(opts: WebhookAppOptions): Promise<WebhookApp> {
  const abort = new AbortController();
  const client = await KubeClient.fromKubeConfig(opts.kubeConfig);
  const view = new InformerClusterView(client, {
    logger: opts.logger.child({ component: 'webhook-cache' }),
    ...(opts.staleAfterMs !== undefined ? { staleAfterMs: opts.staleAfterMs } : {}),
  });
  const running = view.run(abort.signal).catch((err: unknown) => opts.logger.error({ err }, 'informers stopped'));
  const synced = view.waitForSync(abort.signal).then(() => opts.logger.info('cluster view synced; ready'));
  synced.catch(() => undefined);
  let server: WebhookServer;
  try {
    server = await startWebhookServer({
      host: opts.host,
      port: opts.port,
      certFile: opts.certFile,
      keyFile: opts.keyFile,
      ...(opts.certReloadIntervalMs !== undefined ? { certReloadIntervalMs: opts.certReloadIntervalMs } : {}),
      ...(opts.probeAddress ? { probeAddress: opts.probeAddress } : {}),
      handlers: admissionHandlers(view, opts.config),
      isReady: () => view.hasSynced(),
      metrics: createWebhookMetrics(true),
      log: opts.logger.child({ component: 'webhook' }),
    });
  } catch (e) {
    abort.abort();
    client.close();
    throw e;
  }
  return {
    server,
    view,
    synced,
    stop: async () => {
      abort.abort();
      await server.close();
      await running;
      client.close();
    },
  };
}
