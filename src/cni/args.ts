import { CNI_ERR, CniError } from '../errors.js';

/**
 * Parse `CNI_ARGS` (`K=V;K2=V2`). A real runtime reorders the pairs on every call, so callers
 * look keys up by name, never by position. Empty segments (a trailing `;`) are tolerated;
 * anything else that is not exactly KEY=VALUE is refused with code 4 (upstream: "invalid CNI_ARG").
 */
export function parseCniArgs(raw: string): Map<string, string> {
  const args = new Map<string, string>();
  for (const item of raw.split(';')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0 || item.indexOf('=', eq + 1) !== -1) {
      throw new CniError(CNI_ERR.INVALID_ENV, `invalid CNI_ARGS pair "${item}": want KEY=VALUE`);
    }
    args.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return args;
}

/** Format pairs back into a `CNI_ARGS` string, in the given order. */
export function formatCniArgs(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.map(([k, v]) => `${k}=${v}`).join(';');
}
