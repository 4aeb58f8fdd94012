import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeFile, writeFileAtomic } from '../util/atomic-write.js';
import { convertResult, toCanonicalResult, type CniResult } from './result.js';
import type { NetworkConfig } from './types.js';

/**
 * libcni's result cache (LIB-1): `<cniDir>/results/<network>-<containerID>-<ifname>`, written
 * after every plugin of an ADD succeeded, read for DEL/CHECK prevResult and by GC, removed after a
 * successful DEL. Same JSON as libcni so upstream-written entries are readable and vice versa.
 */

/** One attachment's cache entry. */
export interface CachedAttachment {
  containerId: string;
  ifName: string;
  networkName: string;
  netns: string;
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  /** The final ADD result, canonical (1.1.0) shape. */
  result: CniResult | undefined;
}

/** An entry as GC reads it: with the network config it was added with (`config`, JSON text). */
export type StoredAttachment = CachedAttachment & { config: string };

function resultsDir(cniDir: string): string {
  return join(cniDir, 'results');
}

function entryPath(cniDir: string, network: string, containerId: string, ifName: string): string {
  return join(resultsDir(cniDir), `${network}-${containerId}-${ifName}`);
}

/** Store the final result of an ADD, in the network's own version (as libcni does). */
export async function saveCachedResult(cniDir: string, net: NetworkConfig, entry: CachedAttachment): Promise<void> {
  const body = {
    kind: 'cniCacheV1',
    containerId: entry.containerId,
    config: Buffer.from(net.bytes).toString('base64'),
    ifName: entry.ifName,
    networkName: net.name,
    netns: entry.netns,
    cniArgs: entry.cniArgs,
    capabilityArgs: entry.capabilityArgs,
    result: entry.result === undefined ? undefined : convertResult(entry.result, net.cniVersion),
  };
  // Atomic but not fsync'd, as libcni writes it: the delegate cache (fsync'd) is what DEL needs.
  await writeFileAtomic(entryPath(cniDir, net.name, entry.containerId, entry.ifName), JSON.stringify(body), 0o600, { durable: false });
}

/** An entry as stored (parsed JSON): libcni's cniCacheV1, or the legacy bare result. */
function parseEntry(stored: unknown, fallbackVersion: string): CachedAttachment | undefined {
  const raw = stored as Record<string, unknown>;
  if (raw.kind !== 'cniCacheV1') {
    // The legacy form is the bare result JSON.
    return { containerId: '', ifName: '', networkName: '', netns: '', cniArgs: [], capabilityArgs: {}, result: toCanonicalResult(raw, fallbackVersion) };
  }
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return {
    containerId: str(raw.containerId),
    ifName: str(raw.ifName),
    networkName: str(raw.networkName),
    netns: str(raw.netns),
    cniArgs: Array.isArray(raw.cniArgs) ? (raw.cniArgs as Array<[string, string]>) : [],
    capabilityArgs: typeof raw.capabilityArgs === 'object' && raw.capabilityArgs !== null ? (raw.capabilityArgs as Record<string, unknown>) : {},
    result: raw.result === undefined || raw.result === null ? undefined : toCanonicalResult(raw.result, fallbackVersion),
  };
}

/**
 * The cached result for one attachment, or undefined when there is none or it cannot be read
 * (libcni treats an unreadable entry as absent: DEL must still go ahead).
 */
export function loadCachedResult(cniDir: string, net: NetworkConfig, containerId: string, ifName: string): CniResult | undefined {
  try {
    const text = readFileSync(entryPath(cniDir, net.name, containerId, ifName), 'utf8');
    return parseEntry(JSON.parse(text), net.cniVersion)?.result;
  } catch {
    return undefined;
  }
}

/** Forget one attachment (after a successful DEL). */
export function removeCachedResult(cniDir: string, network: string, containerId: string, ifName: string): Promise<void> {
  return removeFile(entryPath(cniDir, network, containerId, ifName));
}

/** Every readable cniCacheV1 entry whose file name starts with `prefix`, in file-name order. */
async function readEntries(cniDir: string, prefix: string): Promise<StoredAttachment[]> {
  let names: string[];
  try {
    names = await readdir(resultsDir(cniDir));
  } catch {
    return [];
  }
  const found: StoredAttachment[] = [];
  for (const name of names.filter((n) => n.startsWith(prefix)).sort()) {
    try {
      const stored = JSON.parse(await readFile(join(resultsDir(cniDir), name), 'utf8')) as { config?: unknown };
      const entry = parseEntry(stored, '1.1.0');
      const config = stored.config;
      if (entry !== undefined && entry.containerId !== '' && typeof config === 'string') found.push({ ...entry, config: Buffer.from(config, 'base64').toString('utf8') });
    } catch {
      // unreadable entries are skipped, as libcni does
    }
  }
  return found;
}

/** Every readable cniCacheV1 entry of `network` (libcni GC), in file-name order. */
export async function listCachedAttachments(cniDir: string, network: string): Promise<CachedAttachment[]> {
  return (await readEntries(cniDir, `${network}-`)).filter((e) => e.networkName === network);
}

/**
 * Every readable cniCacheV1 entry of every network, with the network config it was added with
 * (`config`, the JSON text): what GC needs to DEL an attachment nothing else remembers.
 */
export function listAllCachedAttachments(cniDir: string): Promise<StoredAttachment[]> {
  return readEntries(cniDir, '');
}
