import type { JsonObject } from '../cni/types.js';

/**
 * Upstream's thin_entrypoint flags (`/thin_entrypoint --multus-conf-file=auto
 * --multus-autoconfig-dir=/host/etc/cni/net.d --cni-conf-dir=/host/etc/cni/net.d` in upstream's
 * thin manifest), mapped onto the daemon-config keys `multus-daemon thin` reads, so upstream's
 * manifest runs with our image unchanged. Defaults are upstream's.
 */

/** Defaults of upstream's flags that differ from the daemon config's. */
export const THIN_FLAG_DEFAULTS: JsonObject = {
  cniConfigDir: '/host/etc/cni/net.d',
  multusAutoconfigDir: '/host/etc/cni/net.d',
  multusConfigFile: 'auto',
};

type Kind = 'string' | 'bool';

/** flag → [daemon-config key (none: accepted without effect), value kind]. */
const FLAGS: Record<string, [string | undefined, Kind]> = {
  'cni-conf-dir': ['cniConfigDir', 'string'],
  'cni-version': ['cniVersion', 'string'],
  'multus-conf-file': ['multusConfigFile', 'string'],
  'multus-autoconfig-dir': ['multusAutoconfigDir', 'string'],
  'multus-kubeconfig-file-host': ['multusKubeconfigFileHost', 'string'],
  'multus-master-cni-file-name': ['multusMasterCNI', 'string'],
  'multus-cni-conf-dir': ['confDir', 'string'],
  'namespace-isolation': ['namespaceIsolation', 'bool'],
  'global-namespaces': ['globalNamespaces', 'string'],
  'multus-log-to-stderr': ['logToStderr', 'bool'],
  'multus-log-level': ['logLevel', 'string'],
  'multus-log-file': ['logFile', 'string'],
  'override-network-name': ['overrideNetworkName', 'bool'],
  'cleanup-config-on-exit': ['cleanupConfigOnExit', 'bool'],
  'readiness-indicator-file': ['readinessindicatorfile', 'string'],
  'additional-bin-dir': ['binDir', 'string'],
  'force-cni-version': ['forceCNIVersion', 'bool'],
  // Accepted for compatibility and without effect here: the binary copy is the init container's
  // job (`install_multus --type thin`), done once with the plugin's whole runtime.
  'cni-bin-dir': [undefined, 'string'],
  'multus-bin-file': [undefined, 'string'],
  'skip-multus-binary-copy': [undefined, 'bool'],
};

function boolValue(flag: string, value: string | undefined): boolean {
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`--${flag} takes true or false, got ${JSON.stringify(value)}`);
}

/**
 * Parse `--name=value`, `--name value` and bare boolean `--name` flags. Unknown flags are
 * refused with the list of known ones; flags that upstream has but this image does not need
 * are accepted and ignored.
 */
export function parseThinFlags(args: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}: thin entrypoint flags look like --name=value`);
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let value = eq < 0 ? undefined : arg.slice(eq + 1);
    const spec = FLAGS[flag];
    if (spec === undefined) throw new Error(`unknown thin entrypoint flag --${flag}; known: ${Object.keys(FLAGS).map((f) => `--${f}`).join(', ')}`);
    const [key, kind] = spec;
    if (value === undefined && kind === 'string') {
      value = args[++i];
      if (value === undefined) throw new Error(`--${flag} needs a value`);
    }
    if (key === undefined) continue;
    out[key] = kind === 'bool' ? boolValue(flag, value) : value;
  }
  return out;
}
