import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_ERR, type CniErrorBody } from '../errors.js';
import { monotonicMs } from '../util/clock.js';
import type { DelegateOutcome, DelegateTask, NetnsIpTask } from '../workers/protocol.js';

/** A plugin printing more than this is broken; cap memory rather than trust it. */
export const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
/** Plugin names are bare file names (LIB-2, CNI-3): no path tricks, no odd characters. */
const PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/**
 * LIB-2: the first regular file `<dir>/<type>` in search order. The name is checked first so a
 * `type` can never walk out of the bin dirs. A symlinked plugin file is fine (stat follows it).
 * Synchronous: a stat or two on a pool thread, cheaper than a promise round trip per bin dir.
 */
export function findPlugin(pluginType: string, binDirs: readonly string[], root = ''): string {
  if (!PLUGIN_NAME.test(pluginType) || pluginType === '..') {
    throw pluginError(CNI_ERR.INVALID_CONFIG, `invalid plugin type ${JSON.stringify(pluginType)}: must be a file name in the CNI bin dirs`);
  }
  if (binDirs.length === 0) throw pluginError(CNI_ERR.INVALID_CONFIG, 'no CNI bin dirs configured');
  for (const dir of binDirs) {
    const candidate = join(dir, pluginType);
    try {
      if (statSync(join(root, candidate)).isFile()) return candidate;
    } catch {
      // not in this dir; try the next one
    }
  }
  throw pluginError(CNI_ERR.INVALID_CONFIG, `failed to find plugin "${pluginType}" in path [${binDirs.join(' ')}]`);
}

/** A plugin the runner cannot run: its type refused, or found in no bin dir (`body` is the CNI error). */
export class PluginLookupError extends Error {
  constructor(readonly body: CniErrorBody) {
    super(body.msg);
  }
}

function pluginError(code: number, msg: string): PluginLookupError {
  return new PluginLookupError({ code, msg });
}

/**
 * LIB-4: a failed plugin's error comes from its stdout JSON; with empty stdout, from stderr.
 * Debian's plugins omit cniVersion in errors, so it is not required.
 */
function errorFromOutput(stdout: string, stderr: string, exitCode: number | null, signal: string | null): CniErrorBody {
  const how = signal !== null ? `killed by ${signal}` : `exit code ${String(exitCode)}`;
  const text = stdout.trim();
  if (text !== '') {
    try {
      const parsed = JSON.parse(text) as Partial<CniErrorBody>;
      if (typeof parsed.code === 'number' && typeof parsed.msg === 'string') {
        const body: CniErrorBody = { code: parsed.code, msg: parsed.msg };
        if (typeof parsed.details === 'string' && parsed.details !== '') body.details = parsed.details;
        return body;
      }
    } catch {
      // not JSON: reported with the raw output below
    }
    return { code: CNI_ERR.INTERNAL, msg: `netplugin failed (${how}) and its output is not a CNI error: ${text.slice(0, 512)}` };
  }
  const err = stderr.trim();
  return { code: CNI_ERR.INTERNAL, msg: err !== '' ? `netplugin failed (${how}): ${err.slice(0, 512)}` : `netplugin failed with no error message (${how})` };
}

/**
 * Run one plugin, found in its bin dirs, with `run` (spawned from this thread, or through the
 * daemon's spawner): its own process group, stdin fed, output capped, the group killed at the
 * timeout. Never throws.
 */
export async function execPlugin(task: DelegateTask, run: ProcessRunner = spawnHere): Promise<DelegateOutcome> {
  const started = monotonicMs();
  let path: string;
  try {
    path = findPlugin(task.pluginType, task.binDirs, task.chrootDir);
  } catch (err) {
    const timing = { startedAtMs: started, durationMs: monotonicMs() - started };
    if (err instanceof PluginLookupError) return { ok: false, error: err.body, stderr: '', ...timing, timedOut: false, ran: false, pluginNotFound: true };
    return { ok: false, error: { code: CNI_ERR.INTERNAL, msg: String(err) }, stderr: '', ...timing, timedOut: false, ran: false };
  }
  return run({ ...chrooted(task.chrootDir, path, []), env: { ...process.env, ...task.env }, stdin: task.stdin, timeoutMs: task.timeoutMs, label: `plugin ${task.pluginType}` }, started);
}

/** `nsenter --net=<netns> ip <args>`: route changes inside a pod's namespace. */
export function execNetnsIp(task: NetnsIpTask, run: ProcessRunner = spawnHere): Promise<DelegateOutcome> {
  const command = chrooted(task.chrootDir, 'nsenter', [`--net=${task.netns}`, 'ip', ...task.args]);
  return run({ ...command, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, stdin: '', timeoutMs: task.timeoutMs, label: `ip ${task.args.join(' ')}` }, monotonicMs());
}

/**
 * The operations' `netnsIp`: `ip <args>` in a netns through `run` (the daemon's pool, or
 * execNetnsIp in-process for the thin plugin), rejecting with the error text and its stderr.
 */
export function netnsIpVia(run: (task: NetnsIpTask) => Promise<DelegateOutcome>, timeoutMs: number, chrootDir = ''): (netns: string, args: string[]) => Promise<void> {
  return async (netns, args) => {
    const outcome = await run({ netns, args, timeoutMs, chrootDir });
    if (!outcome.ok) throw new Error(`${outcome.error.msg}${outcome.stderr === '' ? '' : `: ${outcome.stderr.trim()}`}`);
  };
}

/**
 * With a chroot dir, the program runs through `chroot <dir> <program>` (Node's spawn has no
 * chroot option): it then sees the host's files, as upstream's chrooted delegates do.
 */
function chrooted(chrootDir: string | undefined, path: string, args: string[]): { path: string; args: string[] } {
  return chrootDir === undefined || chrootDir === '' ? { path, args } : { path: 'chroot', args: [chrootDir, path, ...args] };
}

/** A program to run, as both ways of starting it take it. */
export interface ProcessSpec {
  path: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  stdin: string;
  timeoutMs: number;
  /** Names the process in error messages. */
  label: string;
}

/** How a run ended, before it is judged: what either way of starting it reports. */
export interface ProcessEnd {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Killed by us at its timeout. */
  timedOut: boolean;
  /** Killed by us for printing more than MAX_OUTPUT_BYTES. */
  overflow: boolean;
}

/** The outcome of a run that started; `started` is its monotonicMs() at the start. */
export function judgeRun(spec: ProcessSpec, end: ProcessEnd, started: number): DelegateOutcome {
  const timing = { startedAtMs: started, durationMs: monotonicMs() - started };
  const { label, timeoutMs } = spec;
  if (end.timedOut) return { ok: false, error: { code: CNI_ERR.TRY_AGAIN_LATER, msg: `${label} timed out after ${timeoutMs} ms and was killed` }, stderr: end.stderr, ...timing, timedOut: true, ran: true };
  if (end.overflow) return { ok: false, error: { code: CNI_ERR.INTERNAL, msg: `${label} printed more than ${MAX_OUTPUT_BYTES} bytes and was killed` }, stderr: end.stderr, ...timing, timedOut: false, ran: true };
  if (end.code === 0) return { ok: true, stdout: end.stdout, stderr: end.stderr, ...timing };
  return { ok: false, error: errorFromOutput(end.stdout, end.stderr, end.code, end.signal), stderr: end.stderr, ...timing, timedOut: false, ran: true };
}

/** The outcome of a program that could not be started at all (`why` like Node's "spawn x ENOENT"). */
export function notStarted(spec: ProcessSpec, why: string, started: number): DelegateOutcome {
  return { ok: false, error: { code: CNI_ERR.INTERNAL, msg: `cannot run ${spec.label} (${spec.path}): ${why}` }, stderr: '', startedAtMs: started, durationMs: monotonicMs() - started, timedOut: false, ran: false };
}

/** Starts a program and reports how it ended: through the spawner, or spawned from this thread. */
export type ProcessRunner = (spec: ProcessSpec, started: number) => Promise<DelegateOutcome>;

/**
 * Spawn from this thread: in its own process group, stdin fed, stdout/stderr collected (capped),
 * on timeout the whole group SIGKILLed so helpers it forked die too. What the thin plugin does,
 * and the daemon when its spawner is not there.
 */
export function spawnHere(spec: ProcessSpec, started: number): Promise<DelegateOutcome> {
  const { path, timeoutMs } = spec;
  return new Promise<DelegateOutcome>((resolve) => {
    const child = spawn(path, spec.args, {
      env: spec.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    let overflow = false;
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_OUTPUT_BYTES) {
        overflow = true;
        killGroup();
      } else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      errBytes += chunk.length;
      if (errBytes <= MAX_OUTPUT_BYTES) err.push(chunk);
    });
    // A plugin that exits without reading stdin makes our write fail with EPIPE: harmless.
    child.stdin.on('error', () => undefined);
    child.stdin.end(spec.stdin);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve(notStarted(spec, e.message, started));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(judgeRun(spec, { code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut, overflow }, started));
    });
  });
}
