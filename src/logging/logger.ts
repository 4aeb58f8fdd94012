import { pino, type DestinationStream, type Logger } from 'pino';

/** Upstream's level names mapped to pino's; pino's own names are accepted as they are. */
const UPSTREAM_LEVELS: Record<string, string> = { debug: 'debug', verbose: 'info', error: 'error', panic: 'fatal' };
const PINO_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/**
 * Paths never written to a log: kubeconfigs, tokens and anything that could hold a raw CNI
 * config (IPAM sections may carry secrets). Raw stdin is never logged in the first place.
 */
const REDACT = ['kubeconfig', '*.kubeconfig', 'token', '*.token', 'headers.authorization', 'stdin', 'config', '*.stdin'];

export interface LoggerOptions {
  level: string;
  /** Log file (appended, created if missing); empty for none. */
  file: string;
  /** Also log to stderr. With no file, logs always go to stderr. */
  toStderr: boolean;
}

/** Map a configured level to pino's, refusing unknown names with the accepted ones listed. */
export function pinoLevel(level: string): string {
  const lower = level.toLowerCase();
  const mapped = UPSTREAM_LEVELS[lower] ?? (PINO_LEVELS.has(lower) ? lower : undefined);
  if (mapped === undefined) {
    throw new TypeError(`logLevel ${JSON.stringify(level)} is not one of debug, verbose, error, panic (or a pino level)`);
  }
  return mapped;
}

/** The daemon's root logger. Synchronous destinations: the last lines survive a crash. */
export function createLogger(opts: LoggerOptions): Logger {
  const streams: Array<{ stream: DestinationStream }> = [];
  if (opts.file !== '') streams.push({ stream: pino.destination({ dest: opts.file, mkdir: true, sync: true }) });
  if (opts.toStderr || opts.file === '') streams.push({ stream: pino.destination({ dest: 2, sync: true }) });
  const level = pinoLevel(opts.level);
  return pino(
    { level, redact: REDACT },
    streams.length === 1 ? (streams[0] as { stream: DestinationStream }).stream : pino.multistream(streams.map((s) => ({ ...s, level: level as pino.Level }))),
  );
}
