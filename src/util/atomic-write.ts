import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const TMP_MARK = '.tmp-';
const TMP_NAME = /\.tmp-[0-9a-f]{12}$/;

/** How writeFileAtomic writes. */
export interface AtomicWriteOptions {
  /** Mode of the directories it creates (default 0700). */
  dirMode?: number;
  /**
   * Survive a power loss or kernel crash, not only a crash of this process: fsync the file before
   * the rename and the directory after it (default true). Without, as libcni writes its caches.
   */
  durable?: boolean;
  /** Replace an existing file (default true); false fails with EEXIST instead. */
  replace?: boolean;
}

/**
 * Write a file so that a reader sees either the old content or the complete new one, never an
 * empty or partial file (a crash mid-write must not corrupt a cache: upstream #1087, #1155):
 * temp file in the same directory, then rename over the target (or link, when it must not
 * replace one); durable, with fsync of the file and then of the directory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, { dirMode = 0o700, durable = true, replace = true }: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: dirMode });
  const tmp = `${path}${TMP_MARK}${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    // Exactly `mode`, whatever the umask (an installed binary must be 0755).
    await handle.chmod(mode);
    if (durable) await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    if (replace) {
      await rename(tmp, path);
    } else {
      await link(tmp, path);
      await unlink(tmp);
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (durable) await syncDirectory(dir);
}

/** fsync a directory, so that a rename or unlink in it is on disk. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Remove a file; a file that is already gone is success (DEL is idempotent). */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Remove the temp files of writes a crash interrupted (the daemon killed between open and
 * rename). Only safe while nothing writes in `dir`: at start-up. Returns how many were removed.
 */
export async function removeStaleTempFiles(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => []);
  const stale = names.filter((n) => TMP_NAME.test(n));
  await Promise.all(stale.map((n) => removeFile(join(dir, n))));
  return stale.length;
}
