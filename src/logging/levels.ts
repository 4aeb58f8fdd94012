/** Log levels as configured (upstream's names or pino's), without loading pino. */

/** Upstream's level names mapped to pino's; pino's own names are accepted as they are. */
const UPSTREAM_LEVELS: Record<string, string> = { debug: 'debug', verbose: 'info', error: 'error', panic: 'fatal' };
const PINO_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** Map a configured level to pino's, refusing unknown names with the accepted ones listed. */
export function pinoLevel(level: string): string {
  const lower = level.toLowerCase();
  const mapped = UPSTREAM_LEVELS[lower] ?? (PINO_LEVELS.has(lower) ? lower : undefined);
  if (mapped === undefined) {
    throw new TypeError(`logLevel ${JSON.stringify(level)} is not one of debug, verbose, error, panic (or a pino level)`);
  }
  return mapped;
}
