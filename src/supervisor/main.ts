#!/usr/bin/env node
/**
 * `multus-daemon` entry point. It first checks the Node.js line against package.json's
 * `engines`, with nothing else loaded, so that a daemon started on an older runtime exits with
 * a message naming the one it needs instead of failing somewhere inside a dependency. Then it
 * turns on the module compile cache and loads the command line (cli.ts).
 */
import { fileURLToPath } from 'node:url';
import { enableCompileCacheIn } from '../util/compile-cache.js';
import { unsupportedNode } from './node-line.js';
import { APP_ROOT, PACKAGE } from './package-info.js';

const refusal = unsupportedNode(PACKAGE.engines.node, process.versions.node);
if (refusal !== undefined) {
  process.stderr.write(`multus-daemon: ${refusal}\n`);
  process.exit(1);
}
enableCompileCacheIn(fileURLToPath(new URL('compile-cache/', APP_ROOT)));
await import('./cli.js');
