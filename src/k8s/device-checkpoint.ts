import { readFile } from 'node:fs/promises';
import type { ResourceDevices } from './pod-resources.js';

/**
 * Kubelet's device-manager checkpoint (`kubelet_internal_checkpoint`, JSON), the source upstream
 * falls back to when the pod-resources socket does not exist (old kubelets). Entries are matched
 * by pod UID. `DeviceIDs` is a map NUMA node → IDs since Kubernetes 1.20, a plain list before.
 */

interface CheckpointEntry {
  PodUID?: unknown;
  ResourceName?: unknown;
  DeviceIDs?: unknown;
}

function ids(value: unknown): string[] {
  const lists = Array.isArray(value) ? [value] : typeof value === 'object' && value !== null ? Object.values(value) : [];
  return lists.flatMap((l: unknown) => (Array.isArray(l) ? l.filter((id): id is string => typeof id === 'string') : []));
}

/** The devices of pod `podUid` recorded in the checkpoint at `path`; rejects naming the file. */
export async function readCheckpointDevices(path: string, podUid: string): Promise<ResourceDevices> {
  let entries: unknown;
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { Data?: { PodDeviceEntries?: unknown } };
    entries = parsed.Data?.PodDeviceEntries ?? [];
  } catch (err) {
    throw new Error(`cannot read kubelet device checkpoint ${path}: ${(err as Error).message}`, { cause: err });
  }
  const devices: ResourceDevices = new Map();
  if (!Array.isArray(entries)) return devices;
  for (const entry of entries as CheckpointEntry[]) {
    if (entry.PodUID !== podUid || typeof entry.ResourceName !== 'string') continue;
    devices.set(entry.ResourceName, [...(devices.get(entry.ResourceName) ?? []), ...ids(entry.DeviceIDs)]);
  }
  return devices;
}
