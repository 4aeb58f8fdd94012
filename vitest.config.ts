import { defineConfig } from 'vitest/config';

// Tests drive the built artefacts (dist/ and the native shim), so `npm test` builds first.
// forks, not threads: the tests spawn worker threads and child processes of their own.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    clearMocks: true,
  },
});
