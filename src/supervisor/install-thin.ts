import { randomBytes } from 'node:crypto';
import { cp, copyFile, lstat, mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic-write.js';
import { pathExists } from '../util/path-exists.js';

/** The thin plugin's bundle, built beside this module by src/bundle.mjs (dist/thin-bundle). */
const BUNDLE_DIR = fileURLToPath(new URL('../thin-bundle/', import.meta.url));

/** multus-spawner (src/shim/spawner.c), built for this machine beside the shim. */
const SPAWNER_BINARY = fileURLToPath(new URL('../bin/multus-spawner', import.meta.url));

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
 * Node is started by `multus-spawner --thin`, which then starts the plugins Node asks for: a
 * fork of that small process instead of one of Node's, and neither child_process nor streams over
 * pipes in Node (measured: 15-20 ms less CPU per ADD or DEL). VERSION starts no plugin, so Node
 * answers it without the spawner in front.
 */
const THIN_LAUNCHER = `#!/bin/sh
# multus-ts thin plugin, installed by \`multus-daemon install -t thin\`.
runtime=\${0%/*}/${THIN_RUNTIME_DIR}
set -- "$runtime/node" --min-semi-space-size=4 --disable-warning=DEP0169 "$runtime/multus.mjs" "$@"
[ "$CNI_COMMAND" = VERSION ] || set -- "$runtime/multus-spawner" --thin "$@"
NODE_COMPILE_CACHE="$runtime/${COMPILE_CACHE_DIR}" exec "$@"
`;

/** The runtime trees an install makes, `.multus-ts-<12 hex>`: the only ones it ever removes. */
const TREE_NAME = new RegExp(`^\\.${THIN_RUNTIME_DIR}-[0-9a-f]{12}$`);

/**
 * The thin plugin runs on the host, outside any container, so it brings its own runtime: this
 * Node.js binary and the plugin's bundle (`dist/thin-bundle`, built by src/bundle.mjs: no
 * node_modules needed), copied into a new tree `<destDir>/.multus-ts-<random>/`. `multus-ts` is a
 * symlink to the current tree, swapped by one rename of a new symlink over it, so a runtime
 * calling `multus` meanwhile always finds a runtime: the old tree or the new one, never none and
 * never half of one. The old tree goes once nothing can newly resolve to it.
 */
export async function installThinRuntime(destDir: string): Promise<string> {
  if (!(await pathExists(join(BUNDLE_DIR, 'multus.mjs')))) throw new Error(`no thin plugin bundle in ${BUNDLE_DIR}: run npm run build`);
  const suffix = randomBytes(6).toString('hex');
  const treeName = `.${THIN_RUNTIME_DIR}-${suffix}`;
  const tree = join(destDir, treeName);
  const link = join(destDir, `.${THIN_RUNTIME_DIR}.link-${suffix}`);
  await mkdir(destDir, { recursive: true });
  let replaced: string | undefined;
  try {
    await mkdir(tree);
    await copyFile(process.execPath, join(tree, 'node'));
    await copyFile(SPAWNER_BINARY, join(tree, 'multus-spawner'));
    await cp(BUNDLE_DIR, tree, { recursive: true });
    await mkdir(join(tree, COMPILE_CACHE_DIR), { mode: 0o700 });
    // Relative, so that the same link works under /host/opt/cni/bin and under /opt/cni/bin.
    await symlink(treeName, link);
    replaced = await swapIn(link, join(destDir, THIN_RUNTIME_DIR), suffix);
  } catch (err) {
    await rm(link, { force: true });
    await rm(tree, { recursive: true, force: true });
    throw err;
  }
  if (replaced !== undefined) await rm(replaced, { recursive: true, force: true });
  await writeFileAtomic(join(destDir, 'multus'), THIN_LAUNCHER, 0o755);
  return join(destDir, 'multus');
}

/**
 * Rename `link` over `target`; returns the tree it replaced, to remove. Only a tree an install
 * made: a `multus-ts` symlink someone pointed elsewhere is replaced but what it named is left.
 * A real directory (installed by a release before the symlink) cannot be replaced by a rename,
 * so it moves aside first, once: a call in that instant finds no runtime and is retried.
 */
async function swapIn(link: string, target: string, suffix: string): Promise<string | undefined> {
  const current = await lstat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (current?.isDirectory() === true) {
    const retired = join(dirname(target), `.${THIN_RUNTIME_DIR}.old-${suffix}`);
    await rename(target, retired);
    try {
      await rename(link, target);
    } catch (err) {
      await rename(retired, target);
      throw err;
    }
    return retired;
  }
  const previous = current?.isSymbolicLink() === true ? await readlink(target) : undefined;
  await rename(link, target);
  return previous !== undefined && TREE_NAME.test(previous) ? join(dirname(target), previous) : undefined;
}
