import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic-write.js';
import { installThinRuntime } from './install-thin.js';

/** The binaries built next to the daemon: the shim, and passthru (the auxiliary chain's head). */
export const BUILT_BINARIES = ['multus-shim', 'passthru'].map((name) => fileURLToPath(new URL(`../bin/${name}`, import.meta.url)));

/**
 * Install a binary into the host's CNI bin dir the way the DaemonSet's init container needs:
 * written atomically (temp file in the same directory, fsync, mode 0755, rename). A
 * runtime may be executing the old shim right now (after a reboot it blocks waiting for the
 * daemon): overwriting it in place fails with "Text file busy" (upstream #1221); a rename
 * swaps the directory entry and leaves the running process its own inode.
 */
export async function installBinary(source: string, destDir: string): Promise<string> {
  const target = join(destDir, basename(source));
  await writeFileAtomic(target, await readFile(source), 0o755, { dirMode: 0o755 });
  return target;
}

/**
 * `multus-daemon install [-d <dir>] [-t thick|thin] [-s <binary>]`: the init container's command
 * (upstream's install_multus flags; `-d` defaults to /host/opt/cni/bin as there).
 * thick (default): the shim and passthru. thin: the `multus` plugin with its runtime, and passthru.
 */
export async function runInstall(argv: readonly string[]): Promise<void> {
  let destDir = '';
  let type = 'thick';
  let sources: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if ((flag === '-d' || flag === '--dest-dir') && value !== undefined) {
      destDir = value;
    } else if ((flag === '-s' || flag === '--source') && value !== undefined) {
      sources = [value];
    } else if ((flag === '-t' || flag === '--type') && (value === 'thick' || value === 'thin')) {
      type = value;
    } else {
      throw new Error(`unknown install argument ${JSON.stringify(flag)}; usage: multus-daemon install [-d <cni bin dir, default /host/opt/cni/bin>] [-t thick|thin] [-s <binary>]`);
    }
    i++;
  }
  // Upstream's install_multus default: the host's bin dir as the DaemonSet mounts it.
  if (destDir === '') destDir = '/host/opt/cni/bin';
  const [shim, passthru] = BUILT_BINARIES as [string, string];
  for (const source of sources ?? (type === 'thin' ? [passthru] : [shim, passthru])) {
    const target = await installBinary(source, destDir);
    process.stdout.write(`installed ${target}\n`);
  }
  if (type === 'thin' && sources === undefined) process.stdout.write(`installed ${await installThinRuntime(destDir)}\n`);
}
