import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Write a file so that a reader sees either the old content or the complete new one, never an
 * empty or partial file (a crash mid-write must not corrupt a cache: upstream #1087, #1155):
 * temp file in the same directory, fsync, rename over the target.
 */
export async function writeFileAtomic(path: string, data: string, mode: number, dirMode = 0o700): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: dirMode });
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
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
