import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';

/** Where the API server is and how to authenticate: all a plain HTTPS client needs. */
export interface RestCredentials {
  server: URL;
  /** Trusted CA (PEM); the system's when absent. */
  ca?: Buffer;
  /** Client certificate and key (PEM). */
  cert?: Buffer;
  key?: Buffer;
  /** Bearer token. */
  token?: string;
  /** `insecure-skip-tls-verify`. */
  insecure: boolean;
}

type Entry = Record<string, unknown>;

/** `<list>[name=<name>].<field>` of a kubeconfig, or undefined. */
function named(config: Entry, list: string, name: unknown, field: string): Entry | undefined {
  const items = Array.isArray(config[list]) ? (config[list] as Entry[]) : [];
  const value = items.find((i) => i.name === name)?.[field];
  return typeof value === 'object' && value !== null ? (value as Entry) : undefined;
}

/** Inline `<key>-data` (base64) or the file `<key>` names (relative to the kubeconfig, as kubectl reads it). */
function material(entry: Entry, key: string, base: string): Buffer | undefined {
  const data = entry[`${key}-data`];
  if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
  const file = entry[key];
  if (typeof file !== 'string' || file === '') return undefined;
  return readFileSync(isAbsolute(file) ? file : join(base, file));
}

/** Keys that need more than a token, a client certificate and a CA: client-node handles those. */
const NEEDS_CLIENT_NODE = ['exec', 'auth-provider', 'username', 'password', 'as', 'as-groups', 'as-uid', 'impersonate', 'impersonate-groups'];

/**
 * The credentials of a kubeconfig that the thin plugin's small client can use without loading
 * @kubernetes/client-node (most of a thin ADD's time): a JSON kubeconfig (what our thin
 * entrypoint writes; JSON is YAML) whose current context's user has a token, a token file or a
 * client certificate, and whose cluster has no proxy. Anything else returns undefined, and the
 * caller uses client-node. A file that cannot be read throws. Synchronous: a few small local
 * files, once per thin ADD, where loading node:fs/promises would cost more than the reads.
 */
export function readSimpleKubeconfig(path: string): RestCredentials | undefined {
  const text = readFileSync(path, 'utf8');
  let config: Entry;
  try {
    config = JSON.parse(text) as Entry;
  } catch {
    return undefined; // YAML: client-node parses it
  }
  if (typeof config !== 'object' || config === null) return undefined;
  const context = named(config, 'contexts', config['current-context'], 'context');
  const cluster = context === undefined ? undefined : named(config, 'clusters', context.cluster, 'cluster');
  const user = context === undefined ? undefined : (named(config, 'users', context.user, 'user') ?? {});
  if (cluster === undefined || user === undefined || typeof cluster.server !== 'string') return undefined;
  if (cluster['proxy-url'] !== undefined || cluster['tls-server-name'] !== undefined || NEEDS_CLIENT_NODE.some((k) => user[k] !== undefined)) return undefined;
  const base = dirname(path);
  const tokenFile = typeof user.tokenFile === 'string' && user.tokenFile !== '' ? user.tokenFile : undefined;
  const token = typeof user.token === 'string' && user.token !== '' ? user.token : tokenFile === undefined ? undefined : readFileSync(isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile), 'utf8').trim();
  const ca = material(cluster, 'certificate-authority', base);
  const cert = material(user, 'client-certificate', base);
  const key = material(user, 'client-key', base);
  return {
    server: new URL(cluster.server),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(token === undefined ? {} : { token }),
  };
}
