import { listCachedContainers, loadDelegates } from '../cni/delegate-cache.js';
import { listAllCachedAttachments, type StoredAttachment } from '../cni/result-cache.js';
import type { ValidAttachment } from '../cni/runner.js';
import { CNI_ERR, CniError } from '../errors.js';
import { podFromArgs, type CniRequest, type PodRef } from '../server/request.js';
import { existingNetns, releaseOrphanedAttachments } from './orphaned-attachments.js';
import { clusterNetwork } from './planner.js';
import { defaultNetworkReady, type OperationContext, type OperationOutcome } from './pod-operations.js';
import { undoDelegates } from './undo.js';

/**
 * The node-wide CNI 1.1 operations: STATUS and GC. They run in the supervisor's node mailbox,
 * not a pod's, and concern every container the node has cached.
 */

/** STATUS: the cluster network's readiness (its plugins' STATUS when they speak CNI 1.1.0). */
export async function statusNode(req: CniRequest, ctx: OperationContext): Promise<OperationOutcome> {
  await defaultNetworkReady(req, ctx);
  const [master] = await clusterNetwork({ conf: req.conf, pod: undefined, kube: ctx.kube });
  if (master !== undefined) await ctx.runner.status(master.net);
  return { networks: master === undefined ? [] : [master.name] };
}

function validAttachments(req: CniRequest): ValidAttachment[] {
  const raw = req.conf.raw['cni.dev/valid-attachments'] ?? req.conf.raw['cni.dev/attachments'];
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new CniError(CNI_ERR.INVALID_CONFIG, 'GC: "cni.dev/valid-attachments" must be a list');
  return raw.map((a: unknown, i) => {
    const { containerID, ifname } = (a ?? {}) as { containerID?: unknown; ifname?: unknown };
    if (typeof containerID !== 'string' || typeof ifname !== 'string') {
      throw new CniError(CNI_ERR.INVALID_CONFIG, `GC: valid-attachments[${i}] needs string "containerID" and "ifname"`);
    }
    return { containerID, ifname };
  });
}

/**
 * A stale container's pod, from the CNI_ARGS its result-cache entries recorded: the DELs then
 * carry the pod identity as they did at ADD, and a network given up can be reported on the pod.
 */
function recordedPod(entries: readonly StoredAttachment[], containerId: string): PodRef | undefined {
  const entry = entries.find((e) => e.containerId === containerId);
  if (entry === undefined) return undefined;
  try {
    return podFromArgs(entry.cniArgs.map(([k, v]) => `${k}=${v}`).join(';'));
  } catch {
    return undefined;
  }
}

/**
 * GC: every container with a delegate cache that the runtime no longer lists is deleted in full
 * (all its attachments, not only the cluster network as upstream does; a network whose DEL fails
 * is given up, see undo.ts), then attachments only the result cache remembers, then the cluster
 * network's plugins get GC. Errors are collected and reported together.
 */
export async function gcNode(req: CniRequest, ctx: OperationContext): Promise<OperationOutcome> {
  await defaultNetworkReady(req, ctx);
  const valid = validAttachments(req);
  const live = new Set(valid.map((v) => v.containerID));
  const errors: Error[] = [];
  // The result cache, read once: it records each container's netns (libcni keeps it in every
  // entry) and holds the attachments the second pass releases.
  const cached = await listAllCachedAttachments(req.conf.cniDir);
  const recordedNetns = new Map(cached.filter((e) => e.netns !== '').map((e) => [e.containerId, e.netns]));
  // Containers this pass deletes are not retried by the next one: one error per failure.
  const done = new Set(live);
  for (const containerId of await listCachedContainers(req.conf.cniDir)) {
    if (live.has(containerId)) continue;
    done.add(containerId);
    const pod = recordedPod(cached, containerId);
    // In the pod's mailbox: never beside a DEL (or ADD) the runtime sent for that pod; the cache
    // is read there, after whatever ran before.
    const abandoned = await ctx.inPodMailbox(pod, async () => {
      const lookup = loadDelegates(req.conf.cniDir, containerId);
      if (lookup.kind !== 'found') return [];
      const netns = await existingNetns(recordedNetns.get(containerId) ?? '');
      const stale: CniRequest = { ...req, command: 'DEL', containerId, netns, ifname: req.ifname === '' ? 'eth0' : req.ifname, pod };
      return (await undoDelegates(stale, lookup, 'gc', ctx)).abandoned;
    });
    errors.push(...abandoned);
  }
  errors.push(...(await releaseOrphanedAttachments(cached, done, ctx.runner)));
  const [master] = await clusterNetwork({ conf: req.conf, pod: undefined, kube: ctx.kube });
  if (master !== undefined) {
    const masterValid = valid.filter((v) => v.ifname !== '');
    errors.push(...(await ctx.runner.gc(master.net, masterValid)));
  }
  if (errors.length > 0) {
    throw new CniError(CNI_ERR.INTERNAL, `GC finished with ${errors.length} error(s): ${errors.map((e) => e.message).join(' / ')}`);
  }
  return { networks: master === undefined ? [] : [master.name] };
}
