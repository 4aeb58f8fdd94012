import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeStaleTempFiles, writeFileAtomic } from '../../src/util/atomic-write.js';

const dir = mkdtempSync('/tmp/atomic-write-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces a file whole, with its mode, creating the directory with dirMode, and leaves no temp file', async () => {
    const path = join(dir, 'sub', 'cache');
    await writeFileAtomic(path, 'old', 0o600, { dirMode: 0o750 });
    await writeFileAtomic(path, 'new', 0o640);
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o750);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['cache']);
  });

  it('with replace: false, never over an existing file (EEXIST), which keeps its content; no temp file left', async () => {
    const path = join(dir, 'device.json');
    writeFileSync(path, 'written by the plugin');
    await expect(writeFileAtomic(path, 'ours', 0o444, { replace: false, durable: false })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(path, 'utf8')).toBe('written by the plugin');
    await writeFileAtomic(join(dir, 'other.json'), 'ours', 0o444, { replace: false, durable: false });
    expect(readFileSync(join(dir, 'other.json'), 'utf8')).toBe('ours');
    expect(await removeStaleTempFiles(dir)).toBe(0);
  });

  it('skips temp names a crashed process with the same pid left behind, and the startup sweep removes those', async () => {
    const sub = join(dir, 'crashed');
    await writeFileAtomic(join(sub, 'cache'), 'first', 0o600);
    // Every name this process has used or will use next, up to its 32nd write, is taken.
    const prefix = (process.pid % 0x1000000).toString(16).padStart(6, '0');
    for (let n = 0; n < 32; n++) writeFileSync(join(sub, `cache.tmp-${prefix}${n.toString(16).padStart(6, '0')}`), 'stale');
    await writeFileAtomic(join(sub, 'cache'), 'second', 0o600);
    expect(readFileSync(join(sub, 'cache'), 'utf8')).toBe('second');
    expect(await removeStaleTempFiles(sub)).toBe(32);
    expect(readdirSync(sub)).toEqual(['cache']);
  });
});
