/**
 * What crosses the thread boundary between the actors and the delegate pool. Plain data only:
 * errors travel as {code,msg,details}, never as thrown objects (structured clone drops their
 * class and custom fields).
 */
import type { CniErrorBody } from '../errors.js';

/** Run ONE delegate plugin binary once. */
export interface DelegateTask {
  /** The plugin's `type`: a file name looked up in `binDirs`. */
  pluginType: string;
  /** Directories searched in order (binDir, then the daemon's CNI_PATH). */
  binDirs: string[];
  /** CNI_* variables for this call; the worker adds them on top of the daemon's environment. */
  env: Record<string, string>;
  /** The exact JSON text sent on the plugin's stdin. */
  stdin: string;
  /** Kill the plugin's whole process group after this many milliseconds. */
  timeoutMs: number;
}

/** How one plugin run ended. `stdout` is the raw JSON text; the caller parses it. */
export type DelegateOutcome =
  | { ok: true; stdout: string; stderr: string; durationMs: number }
  | { ok: false; error: CniErrorBody; stderr: string; durationMs: number; timedOut: boolean };

/** Run `ip <args>` inside a network namespace (default-route handling). Fixed binaries, never a plugin. */
export interface NetnsIpTask {
  netns: string;
  args: string[];
  timeoutMs: number;
}
