import { randomBytes } from 'node:crypto';
import { cp, copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic-write.js';
import { pathExists } from '../util/path-exists.js';

/** The thin plugin's bundle, built beside this module by src/bundle.sh (dist/thin-bundle). */
const BUNDLE_DIR = fileURLToPath(new URL('../thin-bundle/', import.meta.url));

/** Directory under the CNI bin dir that holds the thin plugin's runtime. */
const THIN_RUNTIME_DIR = 'multus-ts';

/** The plugin's module compile cache, inside the runtime dir: root's, mode 0700, made at install. */
const COMPILE_CACHE_DIR = 'compile-cache';

/**
 * The `multus` executable: a shell launcher. `${0%/*}` (no `dirname` fork) finds the runtime
 * beside it, so the same file works under /host/opt/cni/bin in the init container and under
 * /opt/cni/bin on the host. NODE_COMPILE_CACHE points Node at the install's own cache (never the
 * default under the world-writable /tmp: this runs as root), and is set here rather than in the
 * plugin so that the bundle's first modules load from it too. DEP0169: client-node 1.x calls
 * url.parse(), and Node says so on stderr, which runtimes log for every pod. A young generation
 * of 4 MiB from the start: with V8's smaller first one, a thin call spent 3-6 ms of its 40-75 ms
 * of JavaScript in scavenges (--cpu-prof), none with it; about 3 ms off each ADD and DEL.
 */
const THIN_LAUNCHER = `#!/bin/sh
# multus-ts thin plugin, installed by \`multus-daemon install -t thin\`.
NODE_COMPILE_CACHE="\${0%/*}/${THIN_RUNTIME_DIR}/${COMPILE_CACHE_DIR}" exec "\${0%/*}/${THIN_RUNTIME_DIR}/node" --min-semi-space-size=4 --disable-warning=DEP0169 "\${0%/*}/${THIN_RUNTIME_DIR}/multus.mjs" "$@"
`;

/**
 * The thin plugin runs on the host, outside any container, so it brings its own runtime: this
 * Node.js binary and the plugin's bundle (`dist/thin-bundle`, built by src/bundle.sh: no
 * node_modules needed), copied into `<destDir>/multus-ts/`. The copy is staged beside the
 * target and swapped in by rename, so a runtime calling `multus` meanwhile finds either the old
 * tree or the new one, never half of one.
 */
export async function installThinRuntime(destDir: string): Promise<string> {
  const target = join(destDir, THIN_RUNTIME_DIR);
  if (!(await pathExists(join(BUNDLE_DIR, 'multus.mjs')))) throw new Error(`no thin plugin bundle in ${BUNDLE_DIR}: run npm run build`);
  const suffix = randomBytes(6).toString('hex');
  const staging = join(destDir, `.${THIN_RUNTIME_DIR}.tmp-${suffix}`);
  const retired = join(destDir, `.${THIN_RUNTIME_DIR}.old-${suffix}`);
  await mkdir(destDir, { recursive: true });
  try {
    await mkdir(staging);
    await copyFile(process.execPath, join(staging, 'node'));
    await cp(BUNDLE_DIR, staging, { recursive: true });
    await mkdir(join(staging, COMPILE_CACHE_DIR), { mode: 0o700 });
    const replacing = await pathExists(target);
    if (replacing) await rename(target, retired);
    await rename(staging, target);
    if (replacing) await rm(retired, { recursive: true, force: true });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  await writeFileAtomic(join(destDir, 'multus'), THIN_LAUNCHER, 0o755);
  return join(destDir, 'multus');
}
