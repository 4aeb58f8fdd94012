import { defineConfig } from 'vitest/config';

// Tests drive the built artefacts (dist/ and the native shim), so `npm test` builds first.
// forks, not threads: the tests spawn worker threads and child processes of their own.
// Two projects: `dist` runs everything against the repository's build; `image-app` runs the
// suites that start the daemon, the installer or the thin plugin again against dist/app, the
// layout the image ships (src/image-app.sh: bundles, no node_modules but piscina's), so a
// dependency that breaks when bundled fails here and not first in a cluster. The second runs
// after the first (groupOrder), so no test file ever runs twice at once: the files' subnets and
// names are unique per file, not per project. (test/e2e/image.test.ts runs the image itself.)
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    clearMocks: true,
    globalSetup: ['test/global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'dist', include: ['test/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'image-app',
          include: ['test/integration/**/*.test.ts', 'test/e2e/{pods,thin}.test.ts', 'test/supervisor/{install,node-line,thin-flags}.test.ts', 'test/deployments/dockerfile.test.ts'],
          env: { MULTUS_TEST_APP: 'dist/app' },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
