import type { Delegate } from '../cni/delegate.js';
import { removeDelegates, saveDelegates, type CachedDelegate, type CachedDelegates } from '../cni/delegate-cache.js';
import { isDaemonSide } from '../cni/runner.js';
import { CniError, asCniError } from '../errors.js';
import type { CniRequest } from '../server/request.js';
import { removeFile } from '../util/atomic-write.js';
import { attachmentOf, podLabel } from './attachment.js';
import { deviceInfoFileOf } from './device-info.js';
import type { OperationContext } from './pod-operations.js';

/**
 * Undoing a pod's delegates, for DEL, for ADD's rollback (and its clean-up of a previous ADD)
 * and for GC, and what the delegate cache keeps when some of them cannot be undone:
 *
 * - every delegate the cache marks started is DELeted, in reverse order, each attempted;
 * - those that succeed are marked done; with none failing, the cache is removed;
 * - with `retryDeleteOnError` (upstream's meaning) a failure keeps the cache as it was, so the
 *   runtime's retry runs every delegate again, until one DEL succeeds for all;
 * - otherwise only the failed ones stay marked, with their attempt count and last error, for the
 *   runtime's retry, until `deleteAttempts` attempts have failed, or GC finds the container gone
 *   from the runtime: then they are given up (a warning event on the pod, a counter), and their
 *   result-cache entries remain the last record of the IP for GC's second pass.
 */

/** Why delegates are being undone: GC gives up on the first failure, the others after `deleteAttempts`. */
export type UndoCause = 'del' | 'rollback' | 'gc';

/** What could not be undone: still owed (the runtime should retry) or given up for good. */
export interface UndoOutcome {
  pending: CniError[];
  abandoned: CniError[];
}

/** The reasons a delegate DEL is given up, as the counter labels them. */
export type AbandonReason = 'attempts' | 'gc';

/** DEL one delegate; its device-info file goes in any case (nothing else would remove it). */
async function deleteOne(req: CniRequest, d: Delegate, index: number, ctx: OperationContext): Promise<CniError | undefined> {
  const a = attachmentOf(req, d, index, ctx.deviceInfoDir);
  let failure: CniError | undefined;
  try {
    const skipped = await ctx.runner.del(d.net, a);
    if (skipped.length > 0) ctx.log.debug({ sandbox: req.containerId, net: d.name, plugins: skipped }, 'DEL skipped plugins that cannot be found (type refused, or in no bin dir): they never ran');
  } catch (err) {
    const e = asCniError(err);
    failure = new CniError(e.code, `[${podLabel(req, d)}]: error deleting container from network "${d.net.name}": ${e.message}`, e.details, { cause: e.cause });
  }
  const infoFile = deviceInfoFileOf(a);
  if (infoFile !== undefined) await removeFile(infoFile).catch((err: unknown) => ctx.log.warn({ err, file: infoFile }, 'cannot remove a device-info file'));
  return failure;
}

/** DEL every started delegate, in reverse order; the entries as they stand afterwards, and the failures. */
async function deleteStarted(req: CniRequest, { entries }: CachedDelegates, ctx: OperationContext): Promise<{ after: CachedDelegate[]; failures: Map<number, CniError> }> {
  const after = [...entries];
  const failures = new Map<number, CniError>();
  const unstarted = entries.filter((e) => !e.started).map((e) => e.delegate.name);
  if (unstarted.length > 0) ctx.log.debug({ sandbox: req.containerId, networks: unstarted }, 'not deleting networks whose ADD never started or that are already deleted');
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i] as CachedDelegate;
    if (!entry.started) continue;
    const failure = await deleteOne(req, entry.delegate, i, ctx);
    if (failure === undefined) {
      after[i] = { delegate: entry.delegate, started: false, deleteAttempts: 0 };
    } else {
      failures.set(i, failure);
      // An attempt is the plugin's own failure; the daemon losing the run (its pool thread died)
      // does not use one up: giving up then would leak an IP the next DEL can release.
      const attempts = entry.deleteAttempts + (isDaemonSide(failure) ? 0 : 1);
      after[i] = { ...entry, deleteAttempts: attempts, deleteError: failure.message };
    }
  }
  return { after, failures };
}

/** A delegate given up: a warning on the pod (when there is one to tell), a log line, the counter. */
function abandon(req: CniRequest, entry: CachedDelegate, reason: AbandonReason, ctx: OperationContext): void {
  const why = reason === 'gc' ? 'the runtime no longer has the container (CNI GC)' : `${entry.deleteAttempts} failed attempts`;
  const message = `giving up deleting network "${entry.delegate.name}" of sandbox ${req.containerId.slice(0, 12)} after ${why}: ${entry.deleteError ?? ''}; its IP may stay allocated until the next CNI GC`;
  ctx.log.warn({ sandbox: req.containerId, net: entry.delegate.name, attempts: entry.deleteAttempts, reason }, message);
  ctx.deleteAbandoned(reason);
  const pod = req.pod;
  if (ctx.kube !== undefined && pod !== undefined && pod.uid !== '') {
    // recordEvent never rejects (a failed event is logged there); the DEL does not wait for it.
    void ctx.kube.recordEvent({ pod: { namespace: pod.namespace, name: pod.name, uid: pod.uid, annotations: {}, resourceClaims: [] }, type: 'Warning', reason: 'NetworkDeleteAbandoned', message });
  }
}

/** Undo the started delegates of `cached` and record in the delegate cache what is still owed. */
export async function undoDelegates(req: CniRequest, cached: CachedDelegates, cause: UndoCause, ctx: OperationContext): Promise<UndoOutcome> {
  const cniDir = req.conf.cniDir;
  const { after, failures } = await deleteStarted(req, cached, ctx);
  const outcome: UndoOutcome = { pending: [], abandoned: [] };
  if (failures.size > 0 && req.conf.retryDeleteOnError && cause !== 'gc') {
    outcome.pending = [...failures.values()];
    return outcome;
  }
  for (const [i, failure] of failures) {
    const entry = after[i] as CachedDelegate;
    const reason: AbandonReason | undefined = cause === 'gc' ? 'gc' : entry.deleteAttempts >= req.conf.deleteAttempts ? 'attempts' : undefined;
    if (reason === undefined) {
      outcome.pending.push(failure);
      continue;
    }
    abandon(req, entry, reason, ctx);
    after[i] = { delegate: entry.delegate, started: false, deleteAttempts: entry.deleteAttempts };
    outcome.abandoned.push(failure);
  }
  if (outcome.pending.length === 0) await removeDelegates(cniDir, req.containerId);
  else await saveDelegates(cniDir, req.containerId, { entries: after });
  return outcome;
}

/** Several failures as one error, with the first one's code. */
export function combine(errors: readonly CniError[]): CniError {
  const first = errors[0] as CniError;
  return errors.length === 1 ? first : new CniError(first.code, errors.map((e) => e.message).join(' / '), first.details);
}
