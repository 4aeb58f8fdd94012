import type { Logger } from 'pino';
import { ActorRegistry } from '../actors/registry.js';
import { hotplug } from '../actors/hotplug.js';
import { runOperation } from '../actors/operations.js';
import type { OperationContext, OperationOutcome, RequestScope } from '../actors/pod-operations.js';
import type { CniResult } from '../cni/result.js';
import type { DelegateRequest } from '../server/delegate-request.js';
import { CNI_ERR, CniError, asCniError, isUnexpected } from '../errors.js';
import type { CniRequest, PodRef } from '../server/request.js';

/** Node-wide operations (STATUS, GC) share one mailbox of their own. */
const NODE_KEY = '\u0000node';

export interface SupervisorOptions {
  /** Requests accepted and not yet answered; past it a request gets CNI error 11 at once. */
  maxInflight: number;
  /** Follow-ups (network-status writes and their retries) queued, running or scheduled; past it one is dropped. */
  maxFollowUps: number;
  /** Each request's deadline from its arrival: past it, the operation stops at its next step. */
  deadlineMs: number;
  log: Logger;
  /** Builds the per-request operation context (runner bound to the request's dirs). */
  context: (req: CniRequest, scope: RequestScope) => OperationContext;
}

/** A snapshot for health, metrics and tests. */
export interface SupervisorStats {
  actors: number;
  /** Requests accepted and not yet answered. */
  inflight: number;
  /** Operations queued or running over all mailboxes (follow-ups included). */
  queued: number;
  /** Follow-ups queued, running or scheduled for a retry. */
  followUps: number;
}

/** Decrement a per-pod count, forgetting the pod at zero (the maps hold only pods with work). */
function countDown(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}

function podKey(pod: PodRef | undefined): string {
  return pod === undefined ? NODE_KEY : `${pod.namespace}/${pod.name}`;
}

/**
 * Routes every request to its pod's actor and bounds the total work accepted. Everything done for
 * a pod goes through its mailbox: its requests, the follow-up after an ADD's answer, a status
 * retry (dropped when a later ADD or DEL of the pod arrived first), and GC's deletion of one of
 * its stale containers. Unexpected failures inside an actor fail that job only; they are logged
 * and never escape.
 */
export function createSupervisor(opts: SupervisorOptions) {
  const registry = new ActorRegistry();
  let inflight = 0;
  /** Follow-ups queued or running in a mailbox: shutdown waits for them. */
  let activeFollowUps = 0;
  /** Status retries waiting for their timer: dropped at shutdown. */
  let scheduledRetries = 0;
  /** Per pod with a status retry scheduled: the retry still allowed to run. */
  const latestRetry = new Map<string, symbol>();
  /** Per pod with an ADD or DEL queued and not started: how many (a retry scheduled now is already stale). */
  const queuedChanges = new Map<string, number>();
  let idleWaiters: Array<() => void> = [];

  function wakeIfIdle(): void {
    if (inflight > 0 || activeFollowUps > 0) return;
    for (const wake of idleWaiters) wake();
    idleWaiters = [];
  }

  /** Run `job` in the mailbox of `key`, keeping unexpected failures inside. */
  function inMailbox<T>(key: string, what: { cmd: string; sandbox: string }, job: () => Promise<T>): Promise<T> {
    return registry.submit(key, async () => {
      try {
        return await job();
      } catch (err) {
        if (isUnexpected(err)) opts.log.error({ err, ...what }, 'unexpected failure inside a pod actor');
        throw asCniError(err);
      }
    });
  }

  /** Count a request from its acceptance to its answer, refusing it past the bound. */
  async function admitted<T>(answer: () => Promise<T>): Promise<T> {
    if (inflight >= opts.maxInflight) {
      throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `multus-daemon is at its limit of ${opts.maxInflight} requests in flight; try again later`);
    }
    inflight++;
    try {
      return await answer();
    } finally {
      inflight--;
      wakeIfIdle();
    }
  }

  /**
   * One signal for the request: aborted by the client leaving or the deadline passing, with a
   * retryable error as its reason. `done` clears the deadline timer.
   */
  function requestSignal(clientGone: AbortSignal): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new CniError(CNI_ERR.TRY_AGAIN_LATER, `the request's deadline of ${opts.deadlineMs} ms passed; the runtime should retry`)), opts.deadlineMs);
    const onGone = (): void => controller.abort(new CniError(CNI_ERR.TRY_AGAIN_LATER, 'the client (multus-shim) disconnected before the answer; stopped'));
    clientGone.addEventListener('abort', onGone, { once: true });
    if (clientGone.aborted) onGone();
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(timer);
        clientGone.removeEventListener('abort', onGone);
      },
    };
  }

  /** The follow-up of an answered ADD, still in the pod's mailbox; skipped past the bound. */
  async function followUp(after: () => Promise<void>, what: { cmd: string; sandbox: string }): Promise<void> {
    if (activeFollowUps + scheduledRetries >= opts.maxFollowUps) {
      opts.log.warn({ ...what, limit: opts.maxFollowUps }, 'too many network-status writes pending: this one is skipped');
      return;
    }
    activeFollowUps++;
    try {
      // Let the reply reach the socket first: after() starts with synchronous work
      // (building network-status, messaging the kube thread) that would delay it.
      await new Promise((r) => setImmediate(r));
      await after();
    } finally {
      activeFollowUps--;
      wakeIfIdle();
    }
  }

  /** The request's scope: its signal, and the ways its operation may reach other mailbox jobs. */
  function scopeOf(key: string, what: { cmd: string; sandbox: string }, signal: AbortSignal): RequestScope {
    return {
      signal,
      retryLater(delayMs, job) {
        if ((queuedChanges.get(key) ?? 0) > 0) {
          opts.log.debug(what, 'network-status retry dropped: a later ADD or DEL of the pod is queued');
          return;
        }
        if (activeFollowUps + scheduledRetries >= opts.maxFollowUps) {
          opts.log.warn({ ...what, limit: opts.maxFollowUps }, 'too many network-status writes pending: a retry is dropped');
          return;
        }
        const token = Symbol(what.sandbox);
        latestRetry.set(key, token);
        scheduledRetries++;
        setTimeout(() => {
          scheduledRetries--;
          if (latestRetry.get(key) !== token) return;
          latestRetry.delete(key);
          // Failures are the job's own to log (pod-status.ts); nothing escapes a timer.
          void followUp(() => inMailbox(key, what, job), what).catch(() => undefined);
        }, delayMs).unref();
      },
      inPodMailbox: (pod, job) => inMailbox(podKey(pod), what, job),
    };
  }

  return {
    /**
     * Handle one decoded request; resolves with what the operation did (ADD's result for the
     * runtime). `clientGone` aborts when the client disconnects.
     */
    handle(req: CniRequest, clientGone: AbortSignal): Promise<OperationOutcome> {
      const key = podKey(req.pod);
      const what = { cmd: req.command, sandbox: req.containerId };
      // A new ADD or DEL of the pod makes the status retries of its earlier sandboxes stale.
      const changes = req.command === 'ADD' || req.command === 'DEL';
      const { signal, done } = requestSignal(clientGone);
      return admitted(
        () =>
          new Promise<OperationOutcome>((resolve, reject) => {
            if (changes) {
              latestRetry.delete(key);
              queuedChanges.set(key, (queuedChanges.get(key) ?? 0) + 1);
            }
            inMailbox(key, what, async () => {
              if (changes) countDown(queuedChanges, key);
              // Queued behind a slow operation and given up meanwhile: nothing to do.
              signal.throwIfAborted();
              const outcome = await runOperation(req, opts.context(req, scopeOf(key, what, signal)));
              // The runtime gets its answer now; the follow-up (the network-status write) still
              // holds the pod's mailbox, so per-pod order holds and shutdown's drain waits for it.
              resolve(outcome);
              if (outcome.after !== undefined) await followUp(outcome.after, what);
            }).catch(reject);
          }),
      ).finally(done);
    },

    /** A /delegate (hot-plug) request, in the same pod's mailbox as its CNI requests. */
    handleDelegate(req: DelegateRequest, clientGone: AbortSignal): Promise<CniResult | undefined> {
      const key = podKey(req.pod);
      const what = { cmd: `delegate ${req.command}`, sandbox: req.containerId };
      const { signal, done } = requestSignal(clientGone);
      const asCni: CniRequest = { command: req.command, containerId: req.containerId, netns: req.netns, ifname: req.ifname, pod: req.pod, conf: req.conf };
      return admitted(() =>
        inMailbox(key, what, () => {
          signal.throwIfAborted();
          return hotplug(req, opts.context(asCni, scopeOf(key, what, signal)));
        }),
      ).finally(done);
    },

    stats(): SupervisorStats {
      return { actors: registry.size, inflight, queued: registry.depth, followUps: activeFollowUps + scheduledRetries };
    },

    /** Resolves when nothing is in flight and no follow-up runs, or after `timeoutMs` (whichever is first). */
    drain(timeoutMs: number): Promise<void> {
      if (inflight === 0 && activeFollowUps === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

export type Supervisor = ReturnType<typeof createSupervisor>;
