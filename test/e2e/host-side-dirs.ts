import { existsSync, rmdirSync } from 'node:fs';

/** libcni's result cache: the CRI plugin of containerd 1.6 has no setting to move it. */
export const LIBCNI_CACHE = '/var/lib/cni/results';

/**
 * containerd-shim-runc-v2's sockets: 1.6 puts them in /run/containerd/s whatever the state dir,
 * named sha256("<containerd socket>/<namespace>/<id>").
 */
export const SHIM_SOCKETS = '/run/containerd/s';

/** Host-wide paths containerd 1.6 uses whatever its config says, deepest first. */
const HOST_SIDE_DIRS = [SHIM_SOCKETS, '/run/containerd', LIBCNI_CACHE, '/var/lib/cni'];

/** Those of them that exist now. */
export function existingHostSideDirs(): Set<string> {
  return new Set(HOST_SIDE_DIRS.filter((d) => existsSync(d)));
}

/** Removes those that did not exist `before`, when empty: never what another runtime put there. */
export function removeNewHostSideDirs(before: ReadonlySet<string>): void {
  for (const dir of HOST_SIDE_DIRS) {
    if (before.has(dir)) continue;
    try {
      rmdirSync(dir); // only when empty
    } catch {
      // absent, or not empty
    }
  }
}
