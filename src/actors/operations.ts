import type { CniRequest } from '../server/request.js';
import { gcNode, statusNode } from './node-operations.js';
import { addPod, checkPod, delPod, type OperationContext, type OperationOutcome } from './pod-operations.js';

/** The operation a CNI command runs: ADD, DEL and CHECK are a pod's (its mailbox), STATUS and GC the node's. */
export function runOperation(req: CniRequest, ctx: OperationContext): Promise<OperationOutcome> {
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
