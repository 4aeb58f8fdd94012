import { delegateIfname, requestedCapabilities, type Delegate } from '../cni/delegate.js';
import type { Attachment } from '../cni/runner.js';
import type { CniRequest, PodRef } from '../server/request.js';
import { deviceInfoPath } from './device-info.js';

/** CNI_ARGS for delegates (upstream §4.5): the pod identity, never the request's raw string. */
function delegateCniArgs(pod: PodRef | undefined): Array<[string, string]> {
  const args: Array<[string, string]> = [['IgnoreUnknown', 'true']];
  if (pod === undefined) return args;
  args.push(['K8S_POD_NAMESPACE', pod.namespace], ['K8S_POD_NAME', pod.name]);
  if (pod.infraContainerId !== '') args.push(['K8S_POD_INFRA_CONTAINER_ID', pod.infraContainerId]);
  if (pod.uid !== '') args.push(['K8S_POD_UID', pod.uid]);
  return args;
}

/**
 * The libcni parameters of one delegate. The master gets the runtime's runtimeConfig; the others
 * only what the pod asked for (MN-46), plus upstream's deprecated `MAC=`/`IP=` CNI_ARGS (MUL-6).
 * A resource-derived deviceID overrides the runtime's. With a deviceID comes upstream's
 * `CNIDeviceInfoFile` in `deviceInfoDir`, named after the delegate, container and interface.
 */
export function attachmentOf(req: CniRequest, delegate: Delegate, index: number, deviceInfoDir: string): Attachment {
  const cniArgs = delegateCniArgs(req.pod);
  const requests = delegate.requests;
  if (requests?.mac !== undefined) cniArgs.push(['MAC', requests.mac]);
  if (requests?.ips !== undefined) cniArgs.push(['IP', requests.ips.join(',')]);
  const ifname = delegateIfname(delegate, index, req.ifname);
  const capabilityArgs = delegate.master ? { ...req.conf.runtimeConfig } : requestedCapabilities(requests);
  if (requests?.deviceID !== undefined) capabilityArgs.deviceID = requests.deviceID;
  if (typeof capabilityArgs.deviceID === 'string' && capabilityArgs.deviceID !== '') {
    capabilityArgs.CNIDeviceInfoFile = deviceInfoPath(deviceInfoDir, delegate.name, req.containerId, ifname);
  }
  return { containerId: req.containerId, netns: req.netns, ifname, cniArgs, capabilityArgs };
}

/** A delegate of the request's pod as upstream's messages name it: `<ns>/<pod>/<uid>:<network>`. */
export function podLabel(req: CniRequest, delegate: Delegate): string {
  const pod = req.pod;
  return pod === undefined ? delegate.name : `${pod.namespace}/${pod.name}/${pod.uid}:${delegate.name}`;
}
