import { readSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { constants } from 'node:os';
import { CNI_ERR } from '../errors.js';
import { monotonicMs } from '../util/clock.js';
import type { DelegateOutcome } from '../workers/protocol.js';
import { judgeRun, notStarted, spawnHere, type ProcessRunner, type ProcessSpec } from './exec.js';

/**
 * The clients of `multus-spawner` (src/shim/spawner.c, which says why it exists and its
 * protocol). The daemon's pool threads make one connection per program run and time the program
 * out themselves: at the timeout they send 'K', the spawner kills the program's group and still
 * reports how it ended (it gets the timeout too, and enforces it itself once the thread is gone).
 * The thin plugin asks the spawner that started it, on an inherited socket, and blocks on each
 * answer: that spawner times the program out.
 */

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The request: "<length>\n", then NUL-terminated fields (timeout, file, argc, argv, envc, env), then stdin. */
export function spawnRequest(spec: ProcessSpec): Buffer {
  const env = Object.entries(spec.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  const argv = [spec.path, ...spec.args];
  const fields = [String(spec.timeoutMs), spec.path, String(argv.length), ...argv, String(env.length), ...env].map((f) => `${f}\0`).join('');
  const body = Buffer.concat([Buffer.from(fields), Buffer.from(spec.stdin)]);
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

/** What the answer says once complete; undefined while more bytes are due. */
type Answer = { kind: 'exec'; errno: number } | { kind: 'end'; code: number; signal: number; overflow: boolean; timedOut: boolean; stdout: string; stderr: string };

function parseAnswer(data: Buffer): Answer | undefined {
  const first = data.indexOf(10);
  if (first < 0) return undefined;
  const head = data.subarray(0, first).toString();
  if (head.startsWith('exec ')) return { kind: 'exec', errno: Number(head.slice(5)) };
  const [word, code, signal, overflow, outLen, errLen, timedOut] = head.split(' ');
  if (word !== 'end') throw new Error(`unexpected answer from multus-spawner: ${head}`);
  const outEnd = first + 1 + Number(outLen);
  const errEnd = outEnd + Number(errLen);
  if (data.length < errEnd) return undefined;
  return { kind: 'end', code: Number(code), signal: Number(signal), overflow: overflow === '1', timedOut: timedOut === '1', stdout: data.subarray(first + 1, outEnd).toString('utf8'), stderr: data.subarray(outEnd, errEnd).toString('utf8') };
}

/** What the run of `spec` came to, from the spawner's complete answer; `timedOut`: the client's own timer fired. */
function outcomeOf(spec: ProcessSpec, answer: Answer, timedOut: boolean, started: number): DelegateOutcome {
  if (answer.kind === 'exec') return notStarted(spec, `spawn ${spec.path} ${ERRNO_NAMES.get(answer.errno) ?? `errno ${answer.errno}`}`, started);
  const signal = answer.signal === 0 ? null : (SIGNAL_NAMES.get(answer.signal) ?? String(answer.signal));
  return judgeRun(spec, { code: answer.code < 0 ? null : answer.code, signal, stdout: answer.stdout, stderr: answer.stderr, timedOut: timedOut || answer.timedOut, overflow: answer.overflow }, started);
}

/** The spawner went away mid-run: the caller's failure, not the plugin's (retryable). */
function lostSpawner(msg: string, started: number): DelegateOutcome {
  return { ok: false, error: { code: CNI_ERR.TRY_AGAIN_LATER, msg }, stderr: '', startedAtMs: started, durationMs: monotonicMs() - started, timedOut: false, ran: true, daemonSide: true };
}

/**
 * A ProcessRunner that asks the spawner at `socketPath`. A spawner that is not there (not
 * started, or gone: ENOENT, ECONNREFUSED) is not an error: the program is spawned from this
 * thread instead, as without one (slower, nothing else differs).
 */
export function spawnerRunner(socketPath: string): ProcessRunner {
  return (spec: ProcessSpec, started: number): Promise<DelegateOutcome> =>
    new Promise<DelegateOutcome>((resolve) => {
      const socket = connect(socketPath);
      const chunks: Buffer[] = [];
      let answered = false;
      let connected = false;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        socket.write('K');
      }, spec.timeoutMs);
      const finish = (outcome: DelegateOutcome | Promise<DelegateOutcome>): void => {
        answered = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(outcome);
      };
      socket.on('connect', () => {
        connected = true;
        socket.write(spawnRequest(spec));
      });
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const answer = parseAnswer(Buffer.concat(chunks));
        if (answer !== undefined) finish(outcomeOf(spec, answer, timedOut, started));
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (answered) return;
        if (!connected) return finish(spawnHere(spec, started));
        finish(lostSpawner(`lost multus-spawner while it ran ${spec.label}: ${err.message}`, started));
      });
      socket.on('close', () => {
        if (!answered) finish(lostSpawner(`multus-spawner ended before ${spec.label} did`, started));
      });
    });
}

/** A blocking read or write of `fd`, retried when a signal interrupts it. */
function uninterrupted(io: () => number): number {
  for (;;) {
    try {
      return io();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINTR') throw err;
    }
  }
}

/**
 * A ProcessRunner for the thin plugin: the spawner that started this process (`multus-spawner
 * --thin`) on the inherited socket `fd`, one run at a time, with blocking writes and reads: a thin
 * call has nothing else to do while a plugin runs, and this takes neither child_process nor
 * streams. The spawner times the program out. A spawner that is gone before it has the request
 * (EPIPE) started nothing: the program is spawned from this process instead.
 */
export function inheritedSpawnerRunner(fd: number): ProcessRunner {
  return (spec: ProcessSpec, started: number): Promise<DelegateOutcome> => {
    const request = spawnRequest(spec);
    try {
      for (let written = 0; written < request.length; ) written += uninterrupted(() => writeSync(fd, request, written));
    } catch {
      return spawnHere(spec, started);
    }
    try {
      const buffer = Buffer.allocUnsafe(64 * 1024);
      let received = Buffer.alloc(0);
      for (;;) {
        const n = uninterrupted(() => readSync(fd, buffer));
        if (n === 0) return Promise.resolve(lostSpawner(`multus-spawner ended before ${spec.label} did`, started));
        received = Buffer.concat([received, buffer.subarray(0, n)]);
        const answer = parseAnswer(received);
        if (answer !== undefined) return Promise.resolve(outcomeOf(spec, answer, false, started));
      }
    } catch (err) {
      return Promise.resolve(lostSpawner(`lost multus-spawner while it ran ${spec.label}: ${(err as Error).message}`, started));
    }
  };
}
