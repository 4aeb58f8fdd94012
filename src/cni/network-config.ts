import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_ERR, CniError } from '../errors.js';
import { compareVersions, isSupportedVersion } from './result.js';
import { isJsonObject, type JsonObject, type NetworkConfig, type PluginConf } from './types.js';

/** CNI-1: a network name must be usable as a file name component. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function invalid(source: string, what: string): CniError {
  return new CniError(CNI_ERR.INVALID_CONFIG, `invalid network config ${source}: ${what}`);
}

/** libcni accepts booleans and the strings "true"/"false" in any case. */
function parseFlag(value: unknown, key: string, source: string): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw invalid(source, `"${key}" must be a boolean, got ${JSON.stringify(value)}`);
}

function checkPlugin(plugin: unknown, source: string, where: string): PluginConf {
  if (!isJsonObject(plugin)) throw invalid(source, `${where} is not a JSON object`);
  if (typeof plugin.type !== 'string' || plugin.type === '') {
    throw invalid(source, `${where} has no "type"`);
  }
  if (plugin.capabilities !== undefined && !isJsonObject(plugin.capabilities)) {
    throw invalid(source, `${where} "capabilities" must be an object`);
  }
  return plugin as PluginConf;
}

/**
 * CNI-2: the list's version is the highest of `cniVersion` ∪ `cniVersions` that we implement.
 * An absent version means 0.1.0 (CNI convention).
 */
function pickVersion(obj: JsonObject, source: string): string {
  const candidates: unknown[] = [obj.cniVersion ?? '0.1.0'];
  if (Array.isArray(obj.cniVersions)) candidates.push(...(obj.cniVersions as unknown[]));
  let best: string | undefined;
  for (const v of candidates) {
    if (typeof v !== 'string') throw invalid(source, `cniVersion ${JSON.stringify(v)} is not a string`);
    if (!isSupportedVersion(v)) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  if (best === undefined) {
    throw new CniError(
      CNI_ERR.INCOMPATIBLE_VERSION,
      `network config ${source} asks for CNI version ${JSON.stringify(obj.cniVersion)}, which is not supported`,
    );
  }
  return best;
}

/**
 * Parse a `.conf` or `.conflist` JSON text into a normalised {@link NetworkConfig}.
 * `source` names where it came from, for error messages a person can act on.
 */
export function parseNetworkConfig(bytes: string, source: string): NetworkConfig {
  let obj: unknown;
  try {
    obj = JSON.parse(bytes);
  } catch (err) {
    throw invalid(source, `not valid JSON (${(err as Error).message})`);
  }
  if (!isJsonObject(obj)) throw invalid(source, 'not a JSON object');
  if (typeof obj.name !== 'string' || !NETWORK_NAME.test(obj.name)) {
    throw invalid(source, `"name" ${JSON.stringify(obj.name)} must match ${NETWORK_NAME.source}`);
  }
  const cniVersion = pickVersion(obj, source);
  if (obj.plugins !== undefined) {
    if (!Array.isArray(obj.plugins) || obj.plugins.length === 0) {
      throw invalid(source, '"plugins" must be a non-empty list');
    }
    const plugins = obj.plugins.map((p: unknown, i) => checkPlugin(p, source, `plugins[${i}]`));
    return {
      cniVersion,
      name: obj.name,
      disableCheck: parseFlag(obj.disableCheck, 'disableCheck', source),
      disableGC: parseFlag(obj.disableGC, 'disableGC', source),
      plugins,
      single: false,
      bytes,
    };
  }
  const plugin = checkPlugin(obj, source, 'the config');
  return { cniVersion, name: obj.name, disableCheck: false, disableGC: false, plugins: [plugin], single: true, bytes };
}

/**
 * The same network with `change` applied to every plugin (the whole config of a single `.conf`),
 * re-parsed from the rewritten JSON so `bytes`, and so the delegate cache, carry the change.
 * Keys the change does not touch survive, plugin-specific ones included.
 */
export function mapPlugins(net: NetworkConfig, change: (plugin: JsonObject) => JsonObject, what: string): NetworkConfig {
  const source = JSON.parse(net.bytes) as JsonObject;
  const changed = net.single ? change(source) : { ...source, plugins: (source.plugins as JsonObject[]).map(change) };
  return parseNetworkConfig(JSON.stringify(changed), `${net.name} with ${what}`);
}

/** Read and parse one config file. */
export function loadNetworkConfigFile(path: string): NetworkConfig {
  let bytes: string;
  try {
    bytes = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CniError(CNI_ERR.IO, `cannot read network config ${path}: ${(err as Error).message}`);
  }
  return parseNetworkConfig(bytes, path);
}

/** Config files in a directory, in lexical order (libcni ConfFiles). */
function configFiles(dir: string, extensions: readonly string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new CniError(CNI_ERR.IO, `cannot list config directory ${dir}: ${(err as Error).message}`);
  }
  return names
    .filter((n) => extensions.some((ext) => n.endsWith(ext)))
    .sort()
    .map((n) => join(dir, n));
}

/**
 * libcni's subdirectory plugins of a network: each `<dir>/*.conf` (not `.conflist`) is one plugin
 * config, in lexical order; none when the directory does not exist. A file that is not a plugin
 * config is an error (upstream logs it and drops the whole chain; we say so).
 */
export function loadPluginConfs(dir: string): PluginConf[] {
  let files: string[];
  try {
    files = configFiles(dir, ['.conf']);
  } catch {
    return [];
  }
  return files.flatMap((f) => loadNetworkConfigFile(f).plugins);
}

/** The first `.conf`/`.conflist` of a directory, by name (how upstream reads a clusterNetwork dir). */
export function loadFirstNetworkConfig(dir: string): NetworkConfig {
  const [first] = configFiles(dir, ['.conf', '.conflist']);
  if (first === undefined) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, `no .conf or .conflist file in directory ${dir}`);
  }
  return loadNetworkConfigFile(first);
}

/**
 * The config file in `dir` whose `name` is `name` (`.conf`, `.json`, `.conflist`, lexical order,
 * as upstream and the NAD client do). Unreadable or invalid files are skipped, not fatal: one
 * broken file must not hide a good one. Returns undefined when none matches.
 */
export function findNetworkConfigByName(dir: string, name: string): NetworkConfig | undefined {
  for (const file of configFiles(dir, ['.conf', '.json', '.conflist'])) {
    try {
      const conf = loadNetworkConfigFile(file);
      if (conf.name === name) return conf;
    } catch {
      // skipped on purpose, see above
    }
  }
  return undefined;
}

/**
 * Resolve the `clusterNetwork` key (upstream getNetDelegate, without the NAD lookup that the
 * Kubernetes layer adds): a value with `/` is a directory (its first config) or a file; any
 * other value is a network name looked up in `confDir`.
 */
export function resolveClusterNetwork(value: string, confDir: string): NetworkConfig {
  if (value.includes('/')) {
    let isDir: boolean;
    try {
      isDir = statSync(value).isDirectory();
    } catch (err) {
      throw new CniError(CNI_ERR.INVALID_CONFIG, `clusterNetwork ${value}: ${(err as Error).message}`);
    }
    return isDir ? loadFirstNetworkConfig(value) : loadNetworkConfigFile(value);
  }
  const conf = findNetworkConfigByName(confDir, value);
  if (conf === undefined) {
    throw new CniError(
      CNI_ERR.INVALID_CONFIG,
      `clusterNetwork "${value}" not found: no .conf, .json or .conflist in confDir ${confDir} has that name`,
    );
  }
  return conf;
}
