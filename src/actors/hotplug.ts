import type { Delegate } from '../cni/delegate.js';
import type { CniResult } from '../cni/result.js';
import { CNI_ERR, CniError, asCniError } from '../errors.js';
import type { DelegateRequest } from '../server/delegate-request.js';
import type { CniRequest } from '../server/request.js';
import { removeFile } from '../util/atomic-write.js';
import { deviceInfoFileOf } from './device-info.js';
import { attachmentOf } from './attachment.js';
import { checkCapabilities, type OperationContext } from './pod-operations.js';

/**
 * `/delegate`: add, remove, check one interface of a running pod (upstream §5.9), inside the
 * pod's mailbox like every other operation on that pod. Unlike a CNI DEL, a failed DEL is
 * reported. Neither the delegate cache nor network-status is touched: the calling controller
 * (multus-dynamic-networks-controller) owns both.
 */
export async function hotplug(req: DelegateRequest, ctx: OperationContext): Promise<CniResult | undefined> {
  const delegate: Delegate = { name: req.net.name, net: req.net, master: false, ifnameRequest: req.ifname };
  if (req.requests !== undefined) delegate.requests = req.requests;
  const asCni: CniRequest = { command: req.command, containerId: req.containerId, netns: req.netns, ifname: req.ifname, pod: req.pod, conf: req.conf };
  const attachment = attachmentOf(asCni, delegate, 0, ctx.deviceInfoDir);
  switch (req.command) {
    case 'ADD': {
      await checkPodAlive(req, ctx);
      checkCapabilities([delegate]);
      try {
        return await ctx.runner.add(req.net, attachment);
      } catch (err) {
        await ctx.runner.del(req.net, attachment).catch((rollbackErr: unknown) => ctx.log.error({ err: rollbackErr, sandbox: req.containerId }, '/delegate: rollback of a failed ADD failed'));
        throw asCniError(err);
      }
    }
    case 'DEL': {
      await ctx.runner.del(req.net, attachment);
      // A requested deviceID came with a CNIDeviceInfoFile the plugin may have written.
      const infoFile = deviceInfoFileOf(attachment);
      if (infoFile !== undefined) await removeFile(infoFile);
      return undefined;
    }
    case 'CHECK':
      await ctx.runner.check(req.net, attachment);
      return undefined;
    case 'STATUS':
      await ctx.runner.status(req.net);
      return undefined;
  }
}

/** A hot-plug ADD needs the pod to exist, with the uid the controller saw. */
async function checkPodAlive(req: DelegateRequest, ctx: OperationContext): Promise<void> {
  if (ctx.kube === undefined) return;
  const lookup = await ctx.kube.getPod(req.pod.namespace, req.pod.name, req.pod.uid);
  if (lookup.kind === 'found') return;
  if (lookup.kind === 'error') throw new CniError(CNI_ERR.TRY_AGAIN_LATER, lookup.message);
  const what = lookup.kind === 'missing' ? 'does not exist' : `has uid ${lookup.pod.uid}, not ${req.pod.uid}`;
  throw new CniError(CNI_ERR.UNKNOWN_CONTAINER, `/delegate ADD: pod ${req.pod.namespace}/${req.pod.name} ${what}`);
}
