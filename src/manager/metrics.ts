/**
 * Prometheus metrics of the manager (SPEC §4.10), in a registry of their own so several managers in one test process
 * do not collide. Names as in the original where it had them: `ip_usage{networkName,ipFamily,usageType}`,
 * `subnet_ip_usage{subnetName,networkName,usageType}`, `ip_allocation_period` (summary, nanoseconds, labels
 * allocateType=stateful|normal, success). Ours: `ip_allocation_duration_seconds` (histogram of the same) and
 * `reconcile_errors_total{controller}`.
 */
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';

/** The manager's metrics. */
export interface ManagerMetrics {
  registry: Registry;
  ipUsage: Gauge<'networkName' | 'ipFamily' | 'usageType'>;
  subnetIPUsage: Gauge<'subnetName' | 'networkName' | 'usageType'>;
  allocationPeriod: Summary<'allocateType' | 'success'>;
  allocationDuration: Histogram<'allocateType' | 'success'>;
  reconcileErrors: Counter<'controller'>;
  /** Records one allocation that took `seconds`. */
  observeAllocation(kind: 'stateful' | 'normal', success: boolean, seconds: number): void;
}

/** Creates the metrics in a fresh registry; `withDefaults` adds process/Node.js metrics. */
export function createManagerMetrics(withDefaults = false): ManagerMetrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry });
  const allocationPeriod = new Summary({
    name: 'ip_allocation_period',
    help: 'Duration of one IP allocation for a pod in nanoseconds, by allocate type (stateful|normal) and success.',
    labelNames: ['allocateType', 'success'],
    percentiles: [0.5, 0.9, 0.99],
    registers: [registry],
  });
  const allocationDuration = new Histogram({
    name: 'ip_allocation_duration_seconds',
    help: 'Duration of one IP allocation for a pod (IPAM + IPInstance writes), by allocate type and success.',
    labelNames: ['allocateType', 'success'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    registry,
    ipUsage: new Gauge({
      name: 'ip_usage',
      help: 'Addresses of a network by family (ipv4|ipv6|dualstack) and usage type (total|used|available); clamped to int32.',
      labelNames: ['networkName', 'ipFamily', 'usageType'],
      registers: [registry],
    }),
    subnetIPUsage: new Gauge({
      name: 'subnet_ip_usage',
      help: 'Addresses of a subnet by usage type (total|used|available); clamped to int32.',
      labelNames: ['subnetName', 'networkName', 'usageType'],
      registers: [registry],
    }),
    allocationPeriod,
    allocationDuration,
    reconcileErrors: new Counter({
      name: 'reconcile_errors_total',
      help: 'Reconciles that failed and were requeued, by controller.',
      labelNames: ['controller'],
      registers: [registry],
    }),
    observeAllocation(kind, success, seconds) {
      const labels = { allocateType: kind, success: String(success) };
      allocationPeriod.observe(labels, seconds * 1e9);
      allocationDuration.observe(labels, seconds);
    },
  };
}
