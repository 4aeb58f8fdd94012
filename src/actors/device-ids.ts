import type { Delegate } from '../cni/delegate.js';
import { mapPlugins } from '../cni/network-config.js';
import type { NetworkConfig } from '../cni/types.js';
import { CNI_ERR, CniError } from '../errors.js';
import { readCheckpointDevices } from '../k8s/device-checkpoint.js';
import { listPodDevices, type ResourceDevices } from '../k8s/pod-resources.js';
import type { KubeAccess, PodInfo } from '../k8s/protocol.js';
import { pathExists } from '../util/path-exists.js';

/**
 * resourceName → deviceID (upstream §4.6): a NAD annotated with a resource name gets one of the
 * devices kubelet (device plugins) or DRA allocated to the pod, and that device's ID is written
 * into its config before the delegate cache is saved, so DEL runs with the same config.
 */

/** Where the node's device allocations are read. */
export interface DeviceSources {
  /** kubelet's pod-resources socket (gRPC). */
  podResourcesSocket: string;
  /** kubelet's device checkpoint, read when the socket does not exist. */
  checkpointFile: string;
}

/** The pod's devices from kubelet: the pod-resources API, else (old kubelets) the checkpoint. */
async function kubeletDevices(pod: PodInfo, sources: DeviceSources): Promise<{ devices: ResourceDevices; from: string }> {
  try {
    if (await pathExists(sources.podResourcesSocket)) {
      return { devices: await listPodDevices(sources.podResourcesSocket, pod.namespace, pod.name), from: `kubelet pod-resources ${sources.podResourcesSocket}` };
    }
    if (await pathExists(sources.checkpointFile)) {
      return { devices: await readCheckpointDevices(sources.checkpointFile, pod.uid), from: `kubelet checkpoint ${sources.checkpointFile}` };
    }
  } catch (err) {
    throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `cannot read the devices allocated to pod ${pod.namespace}/${pod.name}: ${(err as Error).message}`);
  }
  // A node without device plugins (DRA only) has neither: not an error until a resource is missing.
  return { devices: new Map(), from: `neither ${sources.podResourcesSocket} nor ${sources.checkpointFile} exists` };
}

/** The pod's resource map: kubelet's allocations merged with DRA's; each resource's IDs sorted. */
async function resourceMap(pod: PodInfo, sources: DeviceSources, kube: KubeAccess): Promise<{ devices: ResourceDevices; from: string }> {
  const { devices, from } = await kubeletDevices(pod, sources);
  if (pod.resourceClaims.length > 0) {
    const dra = await kube.draDevices(pod);
    if (dra.kind === 'error') throw new CniError(CNI_ERR.TRY_AGAIN_LATER, dra.message);
    for (const { resourceName, deviceID } of dra.devices) devices.set(resourceName, [...(devices.get(resourceName) ?? []), deviceID]);
  }
  // Sorted for a deterministic order of attachments; a device listed by both sources counts once.
  for (const [resource, ids] of devices) devices.set(resource, [...new Set(ids)].sort());
  return { devices, from: pod.resourceClaims.length > 0 ? `${from} and the pod's ResourceClaims` : from };
}

/** `deviceID` and `pciBusID` (host-device's key) in every plugin, as upstream injects them. */
export function withDeviceId(net: NetworkConfig, deviceID: string): NetworkConfig {
  return mapPlugins(net, (plugin) => ({ ...plugin, deviceID, pciBusID: deviceID }), `deviceID ${deviceID}`);
}

/**
 * Give every delegate with a resourceName the next unused device of that resource, in order.
 * The resource map is built once, and only when some delegate needs it. Fails before anything
 * runs when the pod has no (or too few) devices of a resource.
 */
export async function assignDeviceIds(delegates: readonly Delegate[], pod: PodInfo | undefined, sources: DeviceSources, kube: KubeAccess | undefined): Promise<Delegate[]> {
  if (pod === undefined || kube === undefined || !delegates.some((d) => d.resourceName !== undefined)) return [...delegates];
  const { devices, from } = await resourceMap(pod, sources, kube);
  const used = new Map<string, string[]>();
  return delegates.map((d) => {
    if (d.resourceName === undefined) return d;
    const ids = devices.get(d.resourceName) ?? [];
    const takenBy = used.get(d.resourceName) ?? [];
    const deviceID = ids[takenBy.length];
    if (deviceID === undefined) {
      const have = ids.length === 0 ? 'none is allocated to the pod' : `the pod has ${ids.length} (${ids.join(', ')}), already used by ${takenBy.map((n) => `"${n}"`).join(', ')}`;
      throw new CniError(
        CNI_ERR.INVALID_CONFIG,
        `failed to get deviceID for network "${d.name}": it needs a device of resource "${d.resourceName}", but ${have} (looked in ${from}); request one device of "${d.resourceName}" per attachment in the pod's resources or a ResourceClaim`,
      );
    }
    used.set(d.resourceName, [...takenBy, d.name]);
    return { ...d, net: withDeviceId(d.net, deviceID), requests: { ...d.requests, deviceID } };
  });
}
