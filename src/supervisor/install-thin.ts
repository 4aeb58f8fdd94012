import { randomBytes } from 'node:crypto';
import { cp, copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic-write.js';
import { pathExists } from '../util/path-exists.js';

/** The application root (package.json, dist/, node_modules/) this daemon runs from. */
const APP_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Directory under the CNI bin dir that holds the thin plugin's runtime. */
export const THIN_RUNTIME_DIR = 'multus-ts';

/**
 * The `multus` executable: a shell launcher. `${0%/*}` (no `dirname` fork) finds the runtime
 * beside it, so the same file works under /host/opt/cni/bin in the init container and under
 * /opt/cni/bin on the host.
 */
export const THIN_LAUNCHER = `#!/bin/sh
# multus-ts thin plugin, installed by \`multus-daemon install -t thin\`.
exec "\${0%/*}/${THIN_RUNTIME_DIR}/node" "\${0%/*}/${THIN_RUNTIME_DIR}/dist/thin/multus.js" "$@"
`;

/**
 * Top-level packages the app needs at run time: entries of npm's hidden lockfile
 * (node_modules/.package-lock.json, present in a checkout and in the pruned image alike) not
 * marked dev and present on disk.
 */
async function productionPackages(appRoot: string): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(appRoot, 'node_modules', '.package-lock.json'), 'utf8')) as { packages?: Record<string, { dev?: boolean }> };
  const wanted = Object.entries(lock.packages ?? {})
    .filter(([path, entry]) => path.startsWith('node_modules/') && path.lastIndexOf('node_modules/') === 0 && entry.dev !== true)
    .map(([path]) => path);
  const present = await Promise.all(wanted.map(async (path) => ((await pathExists(join(appRoot, path))) ? path : undefined)));
  return present.filter((p) => p !== undefined);
}

/**
 * The thin plugin runs on the host, outside any container, so it brings its own runtime: this
 * Node.js binary, the built app and its production packages, copied into
 * `<destDir>/multus-ts/`. The copy is staged beside the target and swapped in by rename, so a
 * runtime calling `multus` meanwhile finds either the old tree or the new one, never half of one.
 */
export async function installThinRuntime(destDir: string, appRoot = APP_ROOT): Promise<string> {
  const target = join(destDir, THIN_RUNTIME_DIR);
  const suffix = randomBytes(6).toString('hex');
  const staging = join(destDir, `.${THIN_RUNTIME_DIR}.tmp-${suffix}`);
  const retired = join(destDir, `.${THIN_RUNTIME_DIR}.old-${suffix}`);
  await mkdir(destDir, { recursive: true });
  try {
    await mkdir(staging);
    await copyFile(process.execPath, join(staging, 'node'));
    await copyFile(join(appRoot, 'package.json'), join(staging, 'package.json'));
    await cp(join(appRoot, 'dist'), join(staging, 'dist'), { recursive: true });
    for (const pkg of await productionPackages(appRoot)) await cp(join(appRoot, pkg), join(staging, pkg), { recursive: true, verbatimSymlinks: true });
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
