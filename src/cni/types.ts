/**
 * CNI network configuration types, as far as the daemon needs to look inside them. Delegate
 * configs are otherwise passed through byte-for-byte in meaning: unknown keys survive (CNI-3).
 */

/** A JSON object whose unknown keys we keep. */
export type JsonObject = Record<string, unknown>;

/** A parsed JSON value that is an object (not null, not an array). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One plugin config of a list (or a whole single `.conf`). */
export interface PluginConf extends JsonObject {
  type: string;
  cniVersion?: string;
  name?: string;
  capabilities?: Record<string, boolean>;
}

/**
 * A network configuration list, normalised: a single `.conf` becomes a one-plugin list
 * (libcni's ConfListFromConf), remembering that it was one so DEL and the cache treat it alike.
 */
export interface NetworkConfig {
  cniVersion: string;
  name: string;
  disableCheck: boolean;
  disableGC: boolean;
  plugins: PluginConf[];
  /** True when the source was a single plugin config, not a list. */
  single: boolean;
  /** The source JSON text (stored in the delegate cache as `Bytes`, and in the result cache). */
  bytes: string;
}

/** The CNI commands the daemon serves. VERSION never reaches it: the shim answers locally. */
export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];
