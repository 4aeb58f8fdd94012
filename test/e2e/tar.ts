/** One file in a tar archive. */
export interface TarEntry {
  /** Path inside the archive, without a leading slash; ends with `/` for a directory. */
  name: string;
  /** Contents (empty for a directory). */
  data?: Buffer;
  /** Permission bits; 0o644 for files and 0o755 for directories unless given. */
  mode?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits then NUL, as POSIX ustar asks.
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(entry: TarEntry, size: number): Buffer {
  const dir = entry.name.endsWith('/');
  const h = Buffer.alloc(BLOCK, 0);
  if (Buffer.byteLength(entry.name) > 100) throw new Error(`tar: name too long for ustar: ${entry.name}`);
  h.write(entry.name, 0, 100, 'utf8');
  h.write(octal(entry.mode ?? (dir ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime: fixed, so the same input gives the same digest
  h.write('        ', 148, 'ascii'); // checksum placeholder: eight spaces while summing
  h.write(dir ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/**
 * A POSIX ustar archive, uncompressed and byte-for-byte reproducible (mtime 0, uid/gid 0). Enough
 * for an OCI image layer and an OCI image layout tarball without a tar dependency.
 */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.name.endsWith('/') ? Buffer.alloc(0) : (entry.data ?? Buffer.alloc(0));
    parts.push(header(entry, data.length), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0)); // end-of-archive marker
  return Buffer.concat(parts);
}
