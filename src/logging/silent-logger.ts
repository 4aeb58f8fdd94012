import type { Logger } from 'pino';
import { pinoLevel } from './levels.js';

/**
 * A logger that writes nothing and does not load pino: nothing in this code logs at `fatal`, so
 * a logger at `fatal` (upstream's `panic`) or `silent` never writes a line. The thin plugin,
 * whose default level that is, is spared loading pino on every call (about 9 ms of a DEL, with
 * the thread and assert modules its transports pull in). Every method is a no-op; `child`
 * returns the same logger; no level is enabled.
 */
export const silentLogger: Logger = new Proxy({} as Logger, {
  get(_target, key) {
    // Not a thenable: `await` of a logger (from an async factory) must not wait on it forever.
    if (key === 'then') return undefined;
    if (key === 'child') return () => silentLogger;
    if (key === 'isLevelEnabled') return () => false;
    if (key === 'level') return 'silent';
    return () => undefined;
  },
});

/** True when a logger at `level` would never write a line here (see silentLogger). */
export function writesNothing(level: string): boolean {
  const mapped = pinoLevel(level);
  return mapped === 'fatal' || mapped === 'silent';
}
