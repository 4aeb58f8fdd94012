import { pino, type DestinationStream, type Logger } from 'pino';
import { pinoLevel } from './levels.js';

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
