import { lstatSync, mkdirSync } from 'node:fs';
import * as nodeModule from 'node:module';

let status = 'compile cache not enabled';
/** The directory in use, once enableCompileCacheIn succeeded. */
let enabledDir: string | undefined;

/** What the last enableCompileCacheIn did, for the daemon's start-up log line. */
export function compileCacheStatus(): string {
  return status;
}

/**
 * Turn on Node's on-disk module compile cache in `dir`, when `dir` is safe for a root process:
 * created 0700 when missing, and used only if it is a real directory owned by this user that
 * no one else can write. A cache someone else can write would hand them code a root process
 * runs (Node's default, under the world-writable /tmp, is therefore never used). Returns a
 * line for the log saying what happened; never throws: without a cache, start-up is only slower.
 * `NODE_COMPILE_CACHE` and `NODE_DISABLE_COMPILE_CACHE` in the environment take precedence.
 */
export function enableCompileCacheIn(dir: string): string {
  status = tryEnable(dir);
  return status;
}

/**
 * The environment for a worker thread that loads a large bundle (the kube worker): a worker
 * does not inherit enableCompileCache(), but reads NODE_COMPILE_CACHE from its own env at
 * start. Plugins never see it: they get the daemon's process.env, which is left alone.
 */
export function workerEnv(): NodeJS.ProcessEnv {
  return enabledDir === undefined ? process.env : { ...process.env, NODE_COMPILE_CACHE: enabledDir };
}

function tryEnable(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return `compile cache not used: ${dir} is not a directory of this user's that only it can write`;
  } catch (err) {
    return `compile cache not used: ${err instanceof Error ? err.message : String(err)}`;
  }
  const result = nodeModule.enableCompileCache(dir);
  const { ENABLED, ALREADY_ENABLED, DISABLED } = nodeModule.constants.compileCacheStatus;
  const { directory, message } = result;
  if (result.status === ENABLED || result.status === ALREADY_ENABLED) {
    enabledDir = dir;
    return `compile cache in ${directory ?? dir}`;
  }
  if (result.status === DISABLED) return 'compile cache disabled by NODE_DISABLE_COMPILE_CACHE';
  return `compile cache not used: ${message ?? 'failed'}`;
}
