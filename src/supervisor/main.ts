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
// V8's optimizing compilers (Maglev, TurboFan) off unless MULTUS_OPTIMIZING_JIT=1, set before
// anything else runs. The daemon's JavaScript is glue between syscalls, messages and JSON (C++
// either way): through containerd their compiles were 2-3 ms of every pod's CPU one pod at a time,
// more over the first pods, and under churn at 4 and 8 in flight the code they make won nothing
// back (README, "Where the daemon's CPU per pod goes"). Sparkplug, V8's baseline compiler, stays,
// but compiles its batches on the thread that runs the code instead of handing them to a
// background thread: over the first five pods after a start that cost 5-20 ms less in all (V8's
// threads 4-6 -> 0.5-1.8 ms per pod, the main thread 0.5-1.4 ms more), warm pods unchanged.
// These flags hold when set here (--max-opt does not; NODE_OPTIONS refuses them).
const { optimizingJit } = await import('../config/env.js');
let optimizing = false;
try {
  optimizing = optimizingJit(process.env);
} catch {
  // A bad value: 0 here; parseTunables then stops the daemon, naming it.
}
const v8 = process.getBuiltinModule('node:v8');
if (!optimizing) v8.setFlagsFromString('--no-maglev --no-turbofan');
v8.setFlagsFromString('--no-concurrent-sparkplug');
enableCompileCacheIn(fileURLToPath(new URL('compile-cache/', APP_ROOT)));
await import('./cli.js');
