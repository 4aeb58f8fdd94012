import { readFile } from 'node:fs/promises';
import type { JsonObject } from '../cni/types.js';
import { parseGoDuration } from './duration.js';

/** Where upstream's DaemonSet mounts the ConfigMap. */
export const DEFAULT_DAEMON_CONFIG_PATH = '/etc/cni/net.d/multus.d/daemon-config.json';

/**
 * The daemon's view of `daemon-config.json` (upstream ControllerNetConf). The whole file is
 * also kept as `raw`, because upstream merges every top-level key over each request's config:
 * that is how keys such as `confDir` or `retryDeleteOnError` reach requests in thick mode.
 */
export interface DaemonConfig {
  raw: JsonObject;
  /** Directory of multus.sock. Default `/run/multus/`. */
  socketDir: string;
  /** `debug`, `verbose`, `error` or `panic` (upstream names), or a pino level. Default: info. */
  logLevel: string;
  /** Log file; empty means none. */
  logFile: string;
  /** Also log to stderr. Logs always go to stderr when there is no logFile. */
  logToStderr: boolean;
  /** Run delegates chrooted into this directory (the host's root in the DaemonSet); empty for none. */
  chrootDir: string;
  /** TCP port of /metrics; undefined for no metrics server (upstream). */
  metricsPort: number | undefined;
  /** `perNodeCertificate` when `enabled`: the daemon authenticates with its own node certificate. */
  perNodeCertificate: PerNodeCertificate | undefined;
  /** Connections served at once on the socket (upstream v4.3.0); undefined for no bound. */
  connectionLimit: number | undefined;
  /** Profiling endpoints on the metrics port (upstream v4.3.0 `enablePprof`). */
  enablePprof: boolean;
}

/** Upstream's per-node client certificate (`perNodeCertificate` with `enabled: true`). */
export interface PerNodeCertificate {
  /** Kubeconfig used only to submit CertificateSigningRequests. */
  bootstrapKubeconfig: string;
  /** Where `multus-client-current.pem` (certificate and key) is kept. */
  certDir: string;
  /** Requested certificate lifetime, whole seconds (CSR `spec.expirationSeconds`). Default 600 (`10m`). */
  certDurationSeconds: number;
}

const DEFAULT_CERT_DURATION = '10m';

/** Validate `perNodeCertificate`; undefined when absent or not enabled. */
function perNodeCertificate(raw: JsonObject, source: string): PerNodeCertificate | undefined {
  const value = raw.perNodeCertificate;
  if (value === undefined || value === null) return undefined;
  const key = `${source}: "perNodeCertificate"`;
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${key} must be an object`);
  const obj = value as JsonObject;
  if (obj.enabled !== undefined && typeof obj.enabled !== 'boolean') throw new TypeError(`${key}.enabled must be a boolean`);
  for (const field of ['bootstrapKubeconfig', 'certDir', 'certDuration']) {
    if (obj[field] !== undefined && typeof obj[field] !== 'string') throw new TypeError(`${key}.${field} must be a string, got ${JSON.stringify(obj[field])}`);
  }
  if (obj.enabled !== true) return undefined;
  const missing = ['bootstrapKubeconfig', 'certDir'].filter((f) => obj[f] === undefined || obj[f] === '');
  if (missing.length > 0) throw new TypeError(`${key} is enabled but ${missing.map((f) => `"${f}"`).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing`);
  const duration = obj.certDuration === undefined || obj.certDuration === '' ? DEFAULT_CERT_DURATION : (obj.certDuration as string);
  const seconds = Math.floor(parseGoDuration(duration, `${key}.certDuration`) / 1000);
  if (seconds < 1) throw new RangeError(`${key}.certDuration must be at least 1s, got ${JSON.stringify(duration)}`);
  return { bootstrapKubeconfig: obj.bootstrapKubeconfig as string, certDir: obj.certDir as string, certDurationSeconds: seconds };
}

/**
 * A key's string value, or `fallback` when it is absent, empty or not a string: for the keys
 * 00-multus.conf management and the thin plugin read leniently, as upstream does.
 */
export function stringOr(raw: JsonObject, key: string, fallback: string): string {
  const v = raw[key];
  return typeof v === 'string' && v !== '' ? v : fallback;
}

function optionalString(raw: JsonObject, key: string, fallback: string, source: string): string {
  const value = raw[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') throw new TypeError(`${source}: "${key}" must be a string, got ${JSON.stringify(value)}`);
  return value === '' ? fallback : value;
}

/** Validate a parsed daemon config object; `source` names the file in errors. */
export function parseDaemonConfig(raw: unknown, source: string): DaemonConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TypeError(`${source}: the daemon config must be a JSON object`);
  }
  const obj = raw as JsonObject;
  for (const key of ['logToStderr', 'enablePprof']) {
    if (obj[key] !== undefined && typeof obj[key] !== 'boolean') throw new TypeError(`${source}: "${key}" must be a boolean`);
  }
  const port = obj.metricsPort;
  if (port !== undefined && port !== null && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new TypeError(`${source}: "metricsPort" must be a TCP port (1-65535), got ${JSON.stringify(port)}`);
  }
  // Upstream refuses to start on a limit of 0 or less ("connection limit must be greater than 0").
  const limit = obj.connectionLimit;
  if (limit !== undefined && limit !== null && (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0)) {
    throw new TypeError(`${source}: "connectionLimit" must be an integer greater than 0, got ${JSON.stringify(limit)}`);
  }
  return {
    raw: obj,
    connectionLimit: typeof limit === 'number' ? limit : undefined,
    enablePprof: obj.enablePprof === true,
    metricsPort: typeof port === 'number' ? port : undefined,
    chrootDir: optionalString(obj, 'chrootDir', '', source),
    socketDir: optionalString(obj, 'socketDir', '/run/multus/', source),
    logLevel: optionalString(obj, 'logLevel', 'info', source),
    logFile: optionalString(obj, 'logFile', '', source),
    logToStderr: obj.logToStderr === true,
    perNodeCertificate: perNodeCertificate(obj, source),
  };
}

/** Read and validate the daemon config file. Errors name the file and the key. */
export async function loadDaemonConfig(path: string): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read daemon config ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`daemon config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseDaemonConfig(raw, path);
}
