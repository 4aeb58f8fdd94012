import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Attachment } from '../cni/runner.js';
import { isJsonObject } from '../cni/types.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/**
 * Device-info files (upstream §4.7, the NPWG Device Information Spec): a device plugin describes
 * each device it hands out in `<dir>/dp/<resourceName>-<deviceID>-device.json`; before a
 * delegate's ADD, Multus copies that description to the delegate's own `<dir>/cni/…` file (the
 * `CNIDeviceInfoFile` capability), the plugin may complete it, and after the ADD it is published
 * as the network-status `device-info`. File names have every `/` replaced by `-`.
 */

/** The delegate's CNI device-info file: `<dir>/cni/<delegateName>-<containerID>_<ifname>`. */
export function deviceInfoPath(dir: string, delegateName: string, containerId: string, ifname: string): string {
  return join(dir, 'cni', `${delegateName}-${containerId}_${ifname}`.replaceAll('/', '-'));
}

/** An attachment's CNI device-info file (its `CNIDeviceInfoFile` capability), if it has one. */
export function deviceInfoFileOf(a: Attachment): string | undefined {
  const file = a.capabilityArgs.CNIDeviceInfoFile;
  return typeof file === 'string' && file !== '' ? file : undefined;
}

function devicePluginPath(dir: string, resourceName: string, deviceID: string): string {
  return join(dir, 'dp', `${resourceName}-${deviceID}-device.json`.replaceAll('/', '-'));
}

/**
 * Copy the device plugin's description of `deviceID` to `target` (read-only, never over an
 * existing file). Nothing to copy when the device plugin wrote none: that is allowed, the CNI
 * plugin may write the file itself. Rejects when the description is not a JSON object or
 * `target` already exists.
 */
export async function copyDevicePluginInfo(dir: string, resourceName: string, deviceID: string, target: string): Promise<void> {
  const info = await readDeviceInfo(devicePluginPath(dir, resourceName, deviceID));
  if (info === undefined) return;
  // Atomic, so a plugin never reads half of it; as upstream's, not fsync'd (it lives under /run).
  await writeFileAtomic(target, JSON.stringify(info), 0o444, { dirMode: 0o755, durable: false, replace: false });
}

/** The device-info at `path`, or undefined when there is none; rejects when it is not a JSON object. */
export async function readDeviceInfo(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isJsonObject(info)) throw new Error(`${path} is not a JSON object`);
  return info;
}
