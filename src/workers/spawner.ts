import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The built spawner, beside the shim (src/shim/spawner.c). */
const SPAWNER_BINARY = fileURLToPath(new URL('../bin/multus-spawner', import.meta.url));

/** The spawner's socket, beside the daemon's in its 0700 socket dir. */
export const SPAWNER_SOCKET_NAME = 'multus-spawner.sock';

/** A running multus-spawner: where the pool's threads reach it, and how to stop it. */
export interface Spawner {
  socketPath: string;
  stop(): void;
}

/**
 * Start the daemon's spawner (from this, the main thread: it dies with the thread that started
 * it, so with the daemon) and wait until it listens at `socketPath`, which must be in a
 * directory only root can enter. Resolves undefined, after `onGone` says why, when it cannot
 * start: the pool then spawns plugins itself, which works and costs more CPU. Later exits are
 * reported through `onGone` too; the pool's threads fall back the same way.
 */
export async function startSpawner(socketPath: string, onGone: (why: string) => void, binary = SPAWNER_BINARY): Promise<Spawner | undefined> {
  let child: ChildProcess;
  try {
    child = spawn(binary, [socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (err) {
    onGone(`cannot start ${binary}: ${(err as Error).message}`);
    return undefined;
  }
  let stopping = false;
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`cannot start ${binary}: ${err.message}`));
    child.once('exit', (code, signal) => resolve(`${binary} exited (${signal ?? `code ${String(code)}`})`));
  });
  const ready = new Promise<boolean>((resolve) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => resolve(line === 'ready'));
    lines.once('close', () => resolve(false));
  });
  void exited.then((why) => {
    if (!stopping) onGone(why);
  });
  if (!(await ready)) {
    child.kill('SIGKILL');
    await exited; // reported by the handler above, once
    return undefined;
  }
  return {
    socketPath,
    stop() {
      stopping = true;
      child.kill('SIGTERM');
      rmSync(socketPath, { force: true });
    },
  };
}
