import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const TMP_MARK = '.tmp-';
const TMP_NAME = /\.tmp-[0-9a-f]{12}$/;

/**
 * Write a file so that a reader sees either the old content or the complete new one, never an
 * empty or partial file (a crash mid-write must not corrupt a cache: upstream #1087, #1155):
 * temp file in the same directory, fsync, rename over the target.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, dirMode = 0o700): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: dirMode });
  const tmp = `${path}${TMP_MARK}${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    // Exactly `mode`, whatever the umask (an installed binary must be 0755).
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
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
