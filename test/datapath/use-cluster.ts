/**
 * vitest side of {@link startTestCluster}: the test cluster of a file (or describe) started in `beforeAll` and torn
 * down in `afterAll`, like {@link useKube}. Kept apart from cluster-fixture.ts, which bench/cni imports outside vitest.
 */
import { afterAll, beforeAll } from 'vitest';
import { startTestCluster, type TestCluster, type TestClusterOptions } from './cluster-fixture.ts';

/**
 * Starts the test cluster in `beforeAll` (240 s), then runs `ready(t)` (where a file takes its `c`, `h`, nodes and
 * waits for what else it needs), and stops it in `afterAll` (60 s). Returns an accessor.
 * @throws Error from the accessor when the cluster is not started (used outside a test or before `beforeAll`).
 */
export function useTestCluster(
  opts: TestClusterOptions,
  ready?: (t: TestCluster) => void | Promise<void>,
): () => TestCluster {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    cluster = await startTestCluster(opts);
    await ready?.(cluster);
  }, 240_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);
  return () => {
    if (!cluster) throw new Error('test cluster not started (useTestCluster must be called in a describe/file scope)');
    return cluster;
  };
}
