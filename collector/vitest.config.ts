import { defineConfig } from 'vitest/config';

// Two projects: `unit` never needs a server; `integration` starts its own nats-server
// and embedded ClickHouse per test file.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Test files start their own servers; two cores, so keep parallelism low.
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
    ],
  },
});
