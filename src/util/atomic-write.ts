import { closeSync, fchmodSync, fsync, linkSync, mkdirSync, openSync, renameSync, unlink, unlinkSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/*
 * Why synchronous calls: these files are small and local (caches, configs), and on the daemon's
 * hot path (the caches, several writes per pod) a promise round trip through libuv's thread pool
 * per open, write, chmod, close and rename cost more CPU than the calls themselves (measured:
 * `bench/profile-summary.ts` of the pod-add bench). Only fsync, which waits for the disk, stays
 * asynchronous so a slow disk never stalls the other pods' work.
 */

const TMP_MARK = '.tmp-';
const TMP_NAME = /\.tmp-[0-9a-f]{12}$/;
/**
 * Temp names: this process's pid and a counter, unique among the processes writing at the same
 * time (the daemon, thin plugins), with no crypto module to load for them. A name a crashed
 * process with the same pid left behind is skipped (see openTemp).
 */
const TMP_PREFIX = (process.pid % 0x1000000).toString(16).padStart(6, '0');
let tmpCount = 0;
/** Names tried before giving up: only leftovers of crashed processes with this pid collide. */
const MAX_TMP_ATTEMPTS = 64;

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
  const { fd, tmp } = openTemp(path, mode, dirMode);
  try {
    writeFileSync(fd, data);
    // Exactly `mode`, whatever the umask (an installed binary must be 0755).
    fchmodSync(fd, mode);
    if (durable) await fsyncFd(fd);
  } catch (err) {
    closeSync(fd);
    removeQuietly(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    if (replace) {
      renameSync(tmp, path);
    } else {
      linkSync(tmp, path);
      unlinkSync(tmp);
    }
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  if (durable) await syncDirectory(dir);
}

/** A new temp file beside `path`, created: its descriptor and name. */
function openTemp(path: string, mode: number, dirMode: number): { fd: number; tmp: string } {
  for (let attempt = 1; ; attempt++) {
    tmpCount = (tmpCount + 1) % 0x1000000;
    const tmp = `${path}${TMP_MARK}${TMP_PREFIX}${tmpCount.toString(16).padStart(6, '0')}`;
    try {
      return { fd: openCreating(tmp, mode, dirMode), tmp };
    } catch (err) {
      // Left by a crashed process that had this pid: take the next name.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= MAX_TMP_ATTEMPTS) throw err;
    }
  }
}

/** Create `file` (it must not exist), and its directory first when that is missing. */
function openCreating(file: string, mode: number, dirMode: number): number {
  try {
    return openSync(file, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(file), { recursive: true, mode: dirMode });
    return openSync(file, 'wx', mode);
  }
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err === null ? resolve() : reject(err))));
}

/** fsync a directory, so that a rename or unlink in it is on disk. */
async function syncDirectory(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone, or never made
  }
}

/**
 * Remove a file; a file that is already gone is success (DEL is idempotent). Off the main
 * thread: unlinking a file that was just fsync'd waits for the journal (measured on ext4: 0.2 ms
 * wall, 0.08 ms of it CPU).
 */
export function removeFile(path: string): Promise<void> {
  return new Promise((resolve, reject) => unlink(path, (err) => (err === null || err.code === 'ENOENT' ? resolve() : reject(err))));
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
