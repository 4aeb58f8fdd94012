import { findNetworkConfigByName, mapPlugins, parseNetworkConfig } from '../cni/network-config.js';
import type { NetworkConfig } from '../cni/types.js';
import { CNI_ERR, CniError } from '../errors.js';
import type { NadInfo } from './protocol.js';

/**
 * The CNI config of a NetworkAttachmentDefinition (MN-7): `spec.config` when present (with the
 * NAD's name injected when the config has none, MN-8), else the config file in `confDir` whose
 * `name` is the NAD's name (MN-4), else an error (MN-7d).
 */
export function nadNetworkConfig(nad: NadInfo, confDir: string): NetworkConfig {
  const source = `network-attachment-definition ${nad.namespace}/${nad.name}`;
  if (nad.config.trim() !== '') {
    let obj: unknown;
    try {
      obj = JSON.parse(nad.config);
    } catch (err) {
      throw new CniError(CNI_ERR.INVALID_CONFIG, `${source}: spec.config is not valid JSON (${(err as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new CniError(CNI_ERR.INVALID_CONFIG, `${source}: spec.config must be a JSON object`);
    }
    const conf = obj as Record<string, unknown>;
    const named = conf.name === undefined || conf.name === '' ? { ...conf, name: nad.name } : conf;
    return parseNetworkConfig(named === conf ? nad.config : JSON.stringify(named), source);
  }
  const onDisk = findNetworkConfigByName(confDir, nad.name);
  if (onDisk === undefined) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, `${source} has no spec.config and no config named "${nad.name}" exists in confDir ${confDir}`);
  }
  return onDisk;
}

/** The NAD annotation naming the device-plugin (or DRA) resource its attachments use (upstream §4.6). */
export const RESOURCE_NAME_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';

/** The NAD's resource name, if it has a non-empty one. */
export function nadResourceName(nad: NadInfo): string | undefined {
  const value = nad.annotations[RESOURCE_NAME_ANNOTATION]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** MN-18/MUL-7: the selection's cni-args merged into `args.cni` of every plugin, over the NAD's own. */
export function withCniArgs(net: NetworkConfig, cniArgs: Record<string, unknown>): NetworkConfig {
  const merge = (plugin: Record<string, unknown>): Record<string, unknown> => {
    const args = (typeof plugin.args === 'object' && plugin.args !== null ? plugin.args : {}) as Record<string, unknown>;
    const cni = (typeof args.cni === 'object' && args.cni !== null ? args.cni : {}) as Record<string, unknown>;
    return { ...plugin, args: { ...args, cni: { ...cni, ...cniArgs } } };
  };
  return mapPlugins(net, merge, 'cni-args');
}
