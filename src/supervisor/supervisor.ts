import type { Logger } from 'pino';
import { ActorRegistry } from '../actors/registry.js';
import { addPod, checkPod, delPod, gcNode, statusNode, type OperationContext, type OperationOutcome } from '../actors/pod-operations.js';
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

  function run(req: CniRequest): Promise<OperationOutcome> {
    const ctx = opts.context(req);
    switch (req.command) {
      case 'ADD':
        return addPod(req, ctx);
      case 'DEL':
        return delPod(req, ctx);
      case 'CHECK':
        return checkPod(req, ctx);
      case 'STATUS':
        return statusNode(req, ctx);
      case 'GC':
        return gcNode(req, ctx);
    }
  }

  return {
    /** Handle one decoded request; resolves with what the operation did (ADD's result for the runtime). */
    async handle(req: CniRequest): Promise<OperationOutcome> {
      if (inflight >= opts.maxInflight) {
        throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `multus-daemon is at its limit of ${opts.maxInflight} requests in flight; try again later`);
      }
      inflight++;
      const key = req.pod === undefined ? NODE_KEY : `${req.pod.namespace}/${req.pod.name}`;
      try {
        return await registry.submit(key, async () => {
          try {
            return await run(req);
          } catch (err) {
            if (isUnexpected(err)) opts.log.error({ err, cmd: req.command, sandbox: req.containerId }, 'unexpected failure inside a pod actor');
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
