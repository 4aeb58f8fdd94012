import { basename } from 'node:path';
import { compareVersions } from '../cni/result.js';
import type { JsonObject, NetworkConfig } from '../cni/types.js';
import { stringOr } from './daemon-config.js';

/**
 * The content of `00-multus.conf` (upstream §2.4): what the runtime sends the shim on stdin.
 * A pure function of the daemon config and the master (primary) CNI config, so the config
 * manager can compare before writing and tests need no file system.
 */

/** The file the daemon writes into the runtime's CNI config dir. */
export const MULTUS_CONF_NAME = '00-multus.conf';
/** The thin plugin's config as a network list (upstream's thin entrypoint, v4.2 on, for CNI ≥ 1.0.0). */
export const MULTUS_CONFLIST_NAME = '00-multus.conflist';

/** The thin plugin's CNI type (the `multus` executable). */
export const THIN_PLUGIN_TYPE = 'multus';

/** Keys the thin plugin reads from 00-multus.conf besides the pass-through ones (upstream's thin entrypoint writes them). */
const THIN_KEYS = ['kubeconfig', 'confDir', 'readinessindicatorfile'] as const;

/** Daemon config keys copied into 00-multus.conf when set (upstream's list, plus the shim's own). */
const PASS_THROUGH_KEYS = [
  'binDir', 'cniDir', 'logFile', 'logLevel', 'logToStderr', 'logOptions', 'namespaceIsolation', 'globalNamespaces',
  'auxiliaryCNIChainName', 'daemonSocketDir', 'shimReadyTimeoutMs', 'shimTimeoutMs',
] as const;

/** Candidate master configs in a directory listing: ours excluded, `.conf`/`.conflist`, by name. */
export function masterCandidates(names: readonly string[]): string[] {
  return names.filter((n) => !n.startsWith('00-multus') && (n.endsWith('.conf') || n.endsWith('.conflist'))).sort();
}

/** The union of the capabilities set to true in every plugin of the master. */
export function masterCapabilities(master: NetworkConfig): Record<string, boolean> {
  const caps: Record<string, boolean> = {};
  for (const plugin of master.plugins) {
    for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) if (on === true) caps[cap] = true;
  }
  return caps;
}

/**
 * Build 00-multus.conf. `masterPath` is the master's path as the daemon sees it (it becomes
 * `clusterNetwork`). Throws with a message naming both versions when they cannot work together
 * (upstream CheckVersionCompatibility: a ≥ 0.4.0 multus config needs a ≥ 0.4.0 master).
 */
export function generateMultusConf(daemon: JsonObject, master: NetworkConfig, masterPath: string): JsonObject {
  const cniVersion = stringOr(daemon, 'cniVersion', master.cniVersion);
  if (compareVersions(cniVersion, '0.4.0') >= 0 && compareVersions(master.cniVersion, '0.4.0') < 0) {
    throw new Error(`cniVersion ${cniVersion} of the multus config is incompatible with cniVersion ${master.cniVersion} of the master config ${basename(masterPath)}: use a cniVersion below 0.4.0, or forceCNIVersion`);
  }
  const type = stringOr(daemon, 'type', 'multus-shim');
  const conf: JsonObject = { cniVersion, name: daemon.overrideNetworkName === true ? master.name : 'multus-cni-network', type };
  if (type === THIN_PLUGIN_TYPE) {
    // The thin plugin runs on the host, where the entrypoint's path of the master (under
    // /host/…) does not exist: like upstream's thin entrypoint, embed the master itself.
    conf.delegates = [JSON.parse(master.bytes) as JsonObject];
    // No daemon merges its config into requests: what the plugin needs goes into the file.
    for (const key of THIN_KEYS) {
      const value = stringOr(daemon, key, '');
      if (value !== '') conf[key] = value;
    }
  } else {
    conf.clusterNetwork = masterPath;
  }
  const caps = typeof daemon.capabilities === 'object' && daemon.capabilities !== null ? (daemon.capabilities as Record<string, boolean>) : masterCapabilities(master);
  if (Object.keys(caps).length > 0) conf.capabilities = caps;
  for (const key of PASS_THROUGH_KEYS) {
    const value = daemon[key];
    if (value !== undefined && value !== null && value !== '') conf[key] = value;
  }
  return conf;
}

/**
 * The file the runtime reads, and its name. The thin plugin's config at cniVersion 1.0.0 or
 * later is written as upstream's thin entrypoint does since v4.2: `00-multus.conflist`, the
 * plugin the only element of `plugins` (CNI 1.0 runtimes read network lists); otherwise, and
 * always for the shim, the plain `00-multus.conf`.
 */
export function multusConfFile(conf: JsonObject): { name: string; content: JsonObject } {
  const cniVersion = stringOr(conf, 'cniVersion', '');
  if (conf.type !== THIN_PLUGIN_TYPE || cniVersion === '' || compareVersions(cniVersion, '1.0.0') < 0) return { name: MULTUS_CONF_NAME, content: conf };
  const { cniVersion: _version, name, ...plugin } = conf;
  return { name: MULTUS_CONFLIST_NAME, content: { cniVersion, name: name ?? 'multus-cni-network', plugins: [plugin] } };
}
