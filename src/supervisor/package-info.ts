import { readFileSync } from 'node:fs';

/** The installed app's root: dist/.. (in the image, /usr/src/multus-ts). */
export const APP_ROOT = new URL('../../', import.meta.url);

/**
 * The app's package.json, read once: main.ts checks its `engines` before anything else loads,
 * and `-version` prints its `version`. Imports nothing but node:fs, so the check stays first.
 */
export const PACKAGE = JSON.parse(readFileSync(new URL('package.json', APP_ROOT), 'utf8')) as { version: string; engines: { node: string } };
