/**
 * Prometheus metrics of the webhook (prom-client), in a registry of their own so tests and
 * several servers in one process do not collide. The original disabled webhook metrics, so the
 * names are ours: `hybridnet_webhook_admission_duration_seconds{endpoint,kind,operation,result}`
 * and `hybridnet_webhook_denials_total{kind,rule}`.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The webhook's metrics and the registry that exposes them. */
export interface WebhookMetrics {
  registry: Registry;
  /** Seconds spent deciding one AdmissionReview (decode → response encoded). */
  admissionDuration: Histogram<'endpoint' | 'kind' | 'operation' | 'result'>;
  /** Denials by the rule id that denied (see `Denied.rule`). */
  denials: Counter<'kind' | 'rule'>;
}

/** Creates the metrics in a fresh registry; `withDefaults` adds process/Node.js metrics. */
export function createWebhookMetrics(withDefaults = false): WebhookMetrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry });
  return {
    registry,
    admissionDuration: new Histogram({
      name: 'hybridnet_webhook_admission_duration_seconds',
      help: 'Time to decide one admission request, by endpoint (validate|mutate), object kind, operation and result (allowed|denied|errored).',
      labelNames: ['endpoint', 'kind', 'operation', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    denials: new Counter({
      name: 'hybridnet_webhook_denials_total',
      help: 'Admission requests denied, by object kind and the id of the rule that denied.',
      labelNames: ['kind', 'rule'],
      registers: [registry],
    }),
  };
}
