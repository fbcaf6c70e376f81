import { defineConfig } from 'vitest/config';

// Unit tests sit beside their module (src/**/*.test.ts); integration and e2e tests live under test/.
// Integration tests start real processes (kube-apiserver, etcd, network namespaces): they get long
// timeouts and run one file at a time so two control planes never compete for the 2 cores.
export default defineConfig({
  test: {
    reporters: ['default', './tools/vitest-summary.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'tools/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
