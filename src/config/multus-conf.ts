import { CNI_ERR, CniError } from '../errors.js';
import type { JsonObject } from '../cni/types.js';

/**
 * The per-request Multus configuration: the runtime's stdin (normally 00-multus.conf) with the
 * daemon config merged over it, key by key at the top level (upstream-behaviour.md §2.3c).
 */
export interface MultusConf {
  raw: JsonObject;
  /** The stdin's version: the result is returned in it. */
  cniVersion: string;
  name: string;
  clusterNetwork: string;
  /** Static delegate list, used only when clusterNetwork is empty (upstream). */
  delegates: unknown[];
  binDir: string;
  cniDir: string;
  confDir: string;
  retryDeleteOnError: boolean;
  /** DELs a failing delegate gets before it is given up (ours; `retryDeleteOnError` off). */
  deleteAttempts: number;
  /** Namespace of the clusterNetwork/defaultNetworks NADs and of the default-network annotation's NAD. */
  multusNamespace: string;
  /** Pods in these namespaces get no defaultNetworks. */
  systemNamespaces: string[];
  /** Networks attached to every pod outside systemNamespaces, after the cluster network. */
  defaultNetworks: string[];
  /** Pods may reference NADs only in their own namespace and in globalNamespaces. */
  namespaceIsolation: boolean;
  globalNamespaces: string[];
  /** Name of the auxiliary CNI chain (plugins in `<clusterNetwork dir>/<name>/`); empty for none. */
  auxiliaryCNIChainName: string;
  /** A file the default network writes when it is ready; empty for none (MN-39). */
  readinessIndicatorFile: string;
  /** The runtime's runtimeConfig, reduced to the keys Multus forwards. */
  runtimeConfig: Record<string, unknown>;
}

/** runtimeConfig keys upstream forwards to delegates; others (dns, pod annotations) are dropped. */
const FORWARDED_RUNTIME_KEYS = ['portMappings', 'bandwidth', 'ips', 'mac', 'infinibandGUID', 'deviceID', 'CNIDeviceInfoFile'];

function strings(raw: JsonObject, key: string, fallback: string[]): string[] {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, `multus config: "${key}" must be a list of strings, got ${JSON.stringify(v)}`);
  }
  return v as string[];
}

/** upstream's `globalNamespaces` is a comma-separated string; empty means "default". */
function commaList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.length > 0 ? items : ['default'];
}

/** A whole number of at least 1 (ours: refused loudly, never silently replaced). */
function positiveInt(raw: JsonObject, key: string, fallback: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new CniError(CNI_ERR.INVALID_CONFIG, `multus config: "${key}" must be a whole number of at least 1, got ${JSON.stringify(v)}`);
  return v;
}

function str(raw: JsonObject, key: string, fallback: string): string {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v !== 'string') throw new CniError(CNI_ERR.INVALID_CONFIG, `multus config: "${key}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Merge the daemon config over the request's config (a shallow, top-level overwrite). */
export function mergeDaemonConfig(request: JsonObject, daemon: JsonObject): JsonObject {
  return { ...request, ...daemon };
}

/** Read the keys the daemon acts on, with upstream's defaults. Type errors are CNI code 7. */
export function readMultusConf(raw: JsonObject): MultusConf {
  const runtime = raw.runtimeConfig;
  const runtimeConfig: Record<string, unknown> = {};
  if (typeof runtime === 'object' && runtime !== null) {
    for (const key of FORWARDED_RUNTIME_KEYS) {
      const value = (runtime as JsonObject)[key];
      if (value !== undefined && value !== null) runtimeConfig[key] = value;
    }
  }
  if (raw.delegates !== undefined && raw.delegates !== null && !Array.isArray(raw.delegates)) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, 'multus config: "delegates" must be a list');
  }
  for (const key of ['retryDeleteOnError', 'namespaceIsolation']) {
    if (raw[key] !== undefined && typeof raw[key] !== 'boolean') {
      throw new CniError(CNI_ERR.INVALID_CONFIG, `multus config: "${key}" must be a boolean`);
    }
  }
  return {
    raw,
    cniVersion: str(raw, 'cniVersion', '0.1.0'),
    name: str(raw, 'name', 'multus-cni-network'),
    clusterNetwork: str(raw, 'clusterNetwork', ''),
    delegates: Array.isArray(raw.delegates) ? (raw.delegates as unknown[]) : [],
    binDir: str(raw, 'binDir', '/opt/cni/bin'),
    cniDir: str(raw, 'cniDir', '/var/lib/cni/multus'),
    confDir: str(raw, 'confDir', '/etc/cni/multus/net.d'),
    retryDeleteOnError: raw.retryDeleteOnError === true,
    deleteAttempts: positiveInt(raw, 'deleteAttempts', 3),
    multusNamespace: str(raw, 'multusNamespace', 'kube-system'),
    systemNamespaces: strings(raw, 'systemNamespaces', ['kube-system']),
    defaultNetworks: strings(raw, 'defaultNetworks', []),
    namespaceIsolation: raw.namespaceIsolation === true,
    globalNamespaces: commaList(str(raw, 'globalNamespaces', '')),
    readinessIndicatorFile: str(raw, 'readinessindicatorfile', ''),
    auxiliaryCNIChainName: str(raw, 'auxiliaryCNIChainName', ''),
    runtimeConfig,
  };
}

/** Plugin search path: binDir first, then the process's CNI_PATH, without duplicates. */
export function pluginDirs(conf: MultusConf, cniPath: string): string[] {
  return [...new Set([conf.binDir, ...cniPath.split(':')].filter((d) => d !== ''))];
}
