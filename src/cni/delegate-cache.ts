import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CNI_ERR, CniError } from '../errors.js';
import { removeFile, writeFileAtomic } from '../util/atomic-write.js';
import type { AttachmentRequests, Delegate } from './delegate.js';
import { parseNetworkConfig } from './network-config.js';

/**
 * Multus' delegate cache, `<cniDir>/<containerID>`: the planned delegates of a pod, written
 * BEFORE the first delegate runs so a DEL can always undo whatever an ADD started, even without
 * the pod, the API server or the netns. The format is upstream's JSON array of DelegateNetConf
 * (Go field names, `Bytes` = base64 of the raw delegate config), so files upstream wrote are
 * deleted correctly after an image switch, and upstream can read ours.
 *
 * Each entry also says whether a DEL still has to undo that delegate (`"started": true|false`):
 * the file is rewritten before each delegate's plugin is spawned, so a DEL undoes exactly what
 * the ADD started, even after a crash; and a DEL that fails for some delegates leaves only those
 * marked, with `"deleteAttempts"` and `"deleteError"`, for the runtime's retry. Upstream's
 * decoder ignores these keys (its DEL runs every delegate, as before); an entry without
 * `started`, as upstream and our older versions write them, counts as started, so nothing such a
 * file names is ever leaked.
 */

/** Container IDs become file names: allow only what CNI allows (CNI-6), so no path escapes. */
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Refuse a container ID that is not safe as a file name (CNI code 4, LIB-5). */
export function checkContainerId(containerId: string): void {
  if (!CONTAINER_ID.test(containerId)) {
    throw new CniError(CNI_ERR.INVALID_ENV, `invalid CNI_CONTAINERID ${JSON.stringify(containerId)}: must match ${CONTAINER_ID.source}`);
  }
}

function cachePath(cniDir: string, containerId: string): string {
  checkContainerId(containerId);
  return join(cniDir, containerId);
}

/** upstream's cni types.NetConf as Go marshals it (the informational copy beside `Bytes`). */
function goNetConf(plugin: Record<string, unknown> | undefined): Record<string, unknown> {
  const conf: Record<string, unknown> = { cniVersion: '', name: '', type: '', ipam: {}, dns: {} };
  if (plugin === undefined) return conf;
  for (const key of ['cniVersion', 'name', 'type', 'capabilities', 'ipam', 'dns'] as const) {
    if (plugin[key] !== undefined) conf[key] = plugin[key];
  }
  return conf;
}

function toDelegateNetConf({ delegate: d, started, deleteAttempts, deleteError }: CachedDelegate): Record<string, unknown> {
  const first = d.net.plugins[0];
  const entry: Record<string, unknown> = {
    Conf: d.net.single ? goNetConf(first) : goNetConf(undefined),
    ConfList: d.net.single
      ? { cniVersion: '', name: '', plugins: null }
      : { cniVersion: d.net.cniVersion, name: d.net.name, disableCheck: d.net.disableCheck, disableGC: d.net.disableGC, plugins: d.net.plugins },
    Name: d.name,
    IsFilterV4Gateway: false,
    IsFilterV6Gateway: false,
    Bytes: Buffer.from(d.net.bytes).toString('base64'),
    started,
  };
  if (deleteAttempts > 0) Object.assign(entry, { deleteAttempts, deleteError });
  if (d.ifnameRequest !== undefined) entry.ifnameRequest = d.ifnameRequest;
  if (d.resourceName !== undefined) entry.resourceName = d.resourceName;
  const r = d.requests ?? {};
  for (const [key, value] of Object.entries({
    macRequest: r.mac,
    infinibandGUIDRequest: r.infinibandGUID,
    ipRequest: r.ips,
    'default-route': r.defaultRoute,
    deviceID: r.deviceID,
    // Not in upstream's format (it drops them, so DEL cannot undo port mappings); upstream ignores them.
    portMappingsRequest: r.portMappings,
    bandwidthRequest: r.bandwidth,
  })) {
    if (value !== undefined) entry[key] = value;
  }
  return entry;
}

function readRequests(e: Record<string, unknown>): AttachmentRequests | undefined {
  const r: AttachmentRequests = {};
  const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined);
  if (typeof e.macRequest === 'string' && e.macRequest !== '') r.mac = e.macRequest;
  if (typeof e.infinibandGUIDRequest === 'string' && e.infinibandGUIDRequest !== '') r.infinibandGUID = e.infinibandGUIDRequest;
  const ips = strings(e.ipRequest);
  if (ips !== undefined && ips.length > 0) r.ips = ips;
  const gateways = strings(e['default-route']);
  if (gateways !== undefined) r.defaultRoute = gateways;
  if (typeof e.deviceID === 'string' && e.deviceID !== '') r.deviceID = e.deviceID;
  if (Array.isArray(e.portMappingsRequest)) r.portMappings = e.portMappingsRequest as unknown[];
  if (typeof e.bandwidthRequest === 'object' && e.bandwidthRequest !== null) r.bandwidth = e.bandwidthRequest as Record<string, unknown>;
  return Object.keys(r).length > 0 ? r : undefined;
}

function fromDelegateNetConf(raw: unknown, index: number, source: string): CachedDelegate {
  if (typeof raw !== 'object' || raw === null) throw new Error(`entry ${index} is not an object`);
  const e = raw as Record<string, unknown>;
  if (typeof e.Bytes !== 'string') throw new Error(`entry ${index} has no Bytes`);
  const net = parseNetworkConfig(Buffer.from(e.Bytes, 'base64').toString('utf8'), `${source}[${index}]`);
  const delegate: Delegate = { name: typeof e.Name === 'string' ? e.Name : net.name, net, master: index === 0 };
  if (typeof e.ifnameRequest === 'string' && e.ifnameRequest !== '') delegate.ifnameRequest = e.ifnameRequest;
  if (typeof e.resourceName === 'string' && e.resourceName !== '') delegate.resourceName = e.resourceName;
  const requests = readRequests(e);
  if (requests !== undefined) delegate.requests = requests;
  // Only an explicit false means "nothing to undo".
  const cached: CachedDelegate = { delegate, started: e.started !== false, deleteAttempts: Number.isSafeInteger(e.deleteAttempts) ? Math.max(0, e.deleteAttempts as number) : 0 };
  if (typeof e.deleteError === 'string') cached.deleteError = e.deleteError;
  return cached;
}

/** One planned delegate of a pod, and what a DEL still owes it. */
export interface CachedDelegate {
  delegate: Delegate;
  /** Its ADD started and no DEL has undone it yet: a DEL runs it. */
  started: boolean;
  /** DELs of it that failed so far, and the last one's error. */
  deleteAttempts: number;
  deleteError?: string;
}

/** A pod's planned delegates, in the order the ADD runs them (their position names net1, net2…). */
export interface CachedDelegates {
  entries: readonly CachedDelegate[];
}

/** The cache of an ADD that has started the first `started` of `delegates`. */
export function startedUpTo(delegates: readonly Delegate[], started: number): CachedDelegates {
  return { entries: delegates.map((delegate, i) => ({ delegate, started: i < started, deleteAttempts: 0 })) };
}

/**
 * Write the cache (atomically; dir 0700, file 0600). Durable (fsync'd, surviving a power loss)
 * unless `durable` is false: an ADD makes only its first write durable (see addPod).
 */
export async function saveDelegates(cniDir: string, containerId: string, { entries }: CachedDelegates, durable = true): Promise<void> {
  await writeFileAtomic(cachePath(cniDir, containerId), JSON.stringify(entries.map(toDelegateNetConf)), 0o600, { durable });
}

/** What a cache lookup found. A corrupt file is reported, not thrown: DEL falls back. */
export type CacheLookup =
  | ({ kind: 'found' } & CachedDelegates)
  | { kind: 'missing' }
  | { kind: 'corrupt'; reason: string };

/** Read the cache of one container. */
export function loadDelegates(cniDir: string, containerId: string): CacheLookup {
  const path = cachePath(cniDir, containerId);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: `cannot read ${path}: ${(err as Error).message}` };
  }
  try {
    const raw = JSON.parse(text) as unknown;
    if (!Array.isArray(raw) || raw.length === 0) throw new Error('not a non-empty JSON array');
    return { kind: 'found', entries: raw.map((e, i) => fromDelegateNetConf(e, i, path)) };
  } catch (err) {
    return { kind: 'corrupt', reason: `cannot parse ${path}: ${(err as Error).message}` };
  }
}

/** Remove one container's cache; already gone is fine. */
export function removeDelegates(cniDir: string, containerId: string): Promise<void> {
  return removeFile(cachePath(cniDir, containerId));
}

/** Container IDs that have a delegate cache (for GC). */
export async function listCachedContainers(cniDir: string): Promise<string[]> {
  try {
    const entries = await readdir(cniDir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && CONTAINER_ID.test(e.name) && !e.name.includes('.tmp-')).map((e) => e.name);
  } catch {
    return [];
  }
}
