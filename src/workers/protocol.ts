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
  /** Run the plugin chrooted here (upstream `chrootDir`, e.g. `/hostroot`); bin dirs are paths inside it. */
  chrootDir?: string;
}

/** When a run started and how long it took; `waitMs` is added on the main thread by the pool. */
interface RunTiming {
  /** Start in ms on the system's monotonic clock (util/clock.ts: comparable across threads). */
  startedAtMs: number;
  durationMs: number;
  /** Time the task waited for a pool slot, ms. */
  waitMs?: number;
}

/** How one plugin run ended. `stdout` is the raw JSON text; the caller parses it. */
export type DelegateOutcome =
  | ({ ok: true; stdout: string; stderr: string } & RunTiming)
  | ({
      ok: false;
      error: CniErrorBody;
      stderr: string;
      timedOut: boolean;
      /** False when no process was started by this run (plugin not found, pool full; see daemonSide). */
      ran: boolean;
      /**
       * Set when `pluginType` names no plugin: refused as a name, or in none of the bin dirs. Such
       * a plugin cannot have run, so its DEL is skipped rather than failed.
       */
      pluginNotFound?: true;
      /**
       * Set when the failure is the daemon's, not the plugin's: the pool was full, the pool
       * thread died, the spawner went away. Whether the plugin ran, or still runs, is unknown, so
       * a DEL failing this way is not counted against `deleteAttempts`.
       */
      daemonSide?: true;
    } & RunTiming);

/** Run `ip <args>` inside a network namespace (default-route handling). Fixed binaries, never a plugin. */
export interface NetnsIpTask {
  netns: string;
  args: string[];
  timeoutMs: number;
  /** As for plugins: `nsenter` and `ip` are the host's, and the netns path is a host path. */
  chrootDir?: string;
}

/** What each pool thread is started with (piscina's workerData). */
export interface PoolWorkerData {
  /** The daemon's multus-spawner; without one, each thread spawns its plugins itself. */
  spawnerSocket?: string;
}
