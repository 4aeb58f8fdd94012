import type { Logger } from 'pino';
import { ActorRegistry } from '../actors/registry.js';
import { hotplug } from '../actors/hotplug.js';
import { runOperation } from '../actors/operations.js';
import type { OperationContext, OperationOutcome } from '../actors/pod-operations.js';
import type { CniResult } from '../cni/result.js';
import type { DelegateRequest } from '../server/delegate-request.js';
import { CNI_ERR, CniError, asCniError, isUnexpected } from '../errors.js';
import type { CniRequest } from '../server/request.js';

/** Node-wide operations (STATUS, GC) share one mailbox of their own. */
const NODE_KEY = '\u0000node';

export interface SupervisorOptions {
  /** Requests accepted at once; past it a request gets CNI error 11 at once instead of queueing. */
  maxInflight: number;
  log: Logger;
  /** Builds the per-request operation context (runner bound to the request's dirs). */
  context: (req: CniRequest) => OperationContext;
}

/** A snapshot for health, metrics and tests. */
export interface SupervisorStats {
  actors: number;
  inflight: number;
  /** Operations queued or running over all mailboxes. */
  queued: number;
}

/**
 * Routes every request to its pod's actor and bounds the total work accepted. Unexpected
 * failures inside an actor fail that request only; they are logged and never escape.
 */
export function createSupervisor(opts: SupervisorOptions) {
  const registry = new ActorRegistry();
  let inflight = 0;
  let idleWaiters: Array<() => void> = [];

  /** Bound, route to the pod's mailbox, and keep unexpected failures inside the actor. */
  async function submit<T>(key: string, what: { cmd: string; sandbox: string }, job: () => Promise<T>): Promise<T> {
    if (inflight >= opts.maxInflight) {
      throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `multus-daemon is at its limit of ${opts.maxInflight} requests in flight; try again later`);
    }
    inflight++;
    try {
      return await registry.submit(key, async () => {
        try {
          return await job();
        } catch (err) {
          if (isUnexpected(err)) opts.log.error({ err, ...what }, 'unexpected failure inside a pod actor');
          throw asCniError(err);
        }
      });
    } finally {
      inflight--;
      if (inflight === 0) {
        for (const wake of idleWaiters) wake();
        idleWaiters = [];
      }
    }
  }

  return {
    /** Handle one decoded request; resolves with what the operation did (ADD's result for the runtime). */
    handle(req: CniRequest): Promise<OperationOutcome> {
      const key = req.pod === undefined ? NODE_KEY : `${req.pod.namespace}/${req.pod.name}`;
      return new Promise<OperationOutcome>((resolve, reject) => {
        submit(key, { cmd: req.command, sandbox: req.containerId }, async () => {
          const outcome = await runOperation(req, opts.context(req));
          // The runtime gets its answer now; the follow-up (the network-status write) still
          // holds the pod's mailbox, so per-pod order holds and shutdown's drain waits for it.
          resolve(outcome);
          if (outcome.after !== undefined) {
            // Let the reply reach the socket first: after() starts with synchronous work
            // (building network-status, messaging the kube thread) that would delay it.
            await new Promise((r) => setImmediate(r));
            await outcome.after();
          }
        }).catch(reject);
      });
    },

    /** A /delegate (hot-plug) request, in the same pod's mailbox as its CNI requests. */
    handleDelegate(req: DelegateRequest): Promise<CniResult | undefined> {
      return submit(`${req.pod.namespace}/${req.pod.name}`, { cmd: `delegate ${req.command}`, sandbox: req.containerId }, () =>
        hotplug(req, opts.context({ command: req.command, containerId: req.containerId, netns: req.netns, ifname: req.ifname, pod: req.pod, conf: req.conf })),
      );
    },

    stats(): SupervisorStats {
      return { actors: registry.size, inflight, queued: registry.depth };
    },

    /** Resolves when nothing is in flight, or after `timeoutMs` (whichever is first). */
    drain(timeoutMs: number): Promise<void> {
      if (inflight === 0) return Promise.resolve();
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
