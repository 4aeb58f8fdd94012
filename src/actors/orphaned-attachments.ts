import { parseNetworkConfig } from '../cni/network-config.js';
import type { StoredAttachment } from '../cni/result-cache.js';
import type { Runner } from '../cni/runner.js';
import { pathExists } from '../util/path-exists.js';

/**
 * A stale container's recorded netns when it still exists, so GC removes its interfaces too;
 * '' otherwise (the plugins then release IPs only).
 */
export async function existingNetns(recorded: string): Promise<string> {
  return recorded !== '' && (await pathExists(recorded)) ? recorded : '';
}

/**
 * GC's second pass: attachments that only libcni's result cache still remembers. A delegate
 * whose DEL was given up (undo.ts) is dropped from the delegate cache, and a crash can lose the
 * delegate cache; the result entry then holds the last record of an IP. Each entry carries the network config it was added with, so every network's stale
 * entries can be DELeted, not only the cluster network's (libcni GCs one network at a time).
 * `entries`: the result cache as GC read it; `skip`: the containers the runtime still lists, and
 * those already handled. Returns the failures; a failed entry stays for the next GC.
 */
export async function releaseOrphanedAttachments(entries: readonly StoredAttachment[], skip: ReadonlySet<string>, runner: Runner): Promise<Error[]> {
  const errors: Error[] = [];
  for (const entry of entries) {
    if (skip.has(entry.containerId)) continue;
    try {
      const net = parseNetworkConfig(entry.config, `the cached config of network "${entry.networkName}" (container ${entry.containerId})`);
      await runner.del(net, { containerId: entry.containerId, netns: await existingNetns(entry.netns), ifname: entry.ifName, cniArgs: entry.cniArgs, capabilityArgs: entry.capabilityArgs });
    } catch (err) {
      errors.push(err as Error);
    }
  }
  return errors;
}
