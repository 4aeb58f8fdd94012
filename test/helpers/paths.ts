import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built native shim (npm test builds it first). */
export const SHIM = `${ROOT}dist/bin/multus-shim`;
/** The built daemon entry. */
export const DAEMON = `${ROOT}dist/supervisor/main.js`;
/** Fake plugins of the test suite. */
export const FIXTURE_PLUGINS = `${ROOT}test/fixtures/plugins`;
/** Debian's containernetworking-plugins. */
export const DEBIAN_PLUGINS = '/usr/lib/cni';
