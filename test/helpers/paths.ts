import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built native shim (npm test builds it first). */
export const SHIM = `${ROOT}dist/bin/multus-shim`;
/**
 * What runs as the daemon: the repository (its dist/), or, in the vitest project `image-app`, the
 * directory src/image-app.sh laid out (dist/app: what the image ships under /usr/src/multus-ts,
 * bundles and no node_modules but piscina's), named by MULTUS_TEST_APP.
 */
export const APP_ROOT = process.env.MULTUS_TEST_APP === undefined || process.env.MULTUS_TEST_APP === '' ? ROOT : `${ROOT}${process.env.MULTUS_TEST_APP}/`;
/** The built daemon entry. */
export const DAEMON = `${APP_ROOT}dist/supervisor/main.js`;
/** Fake plugins of the test suite. */
export const FIXTURE_PLUGINS = `${ROOT}test/fixtures/plugins`;
/** Debian's containernetworking-plugins. */
export const DEBIAN_PLUGINS = '/usr/lib/cni';
