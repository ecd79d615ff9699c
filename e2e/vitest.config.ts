import { defineConfig } from 'vitest/config';

// Every file starts real processes (nats-server, collector, agent): run them one at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});
