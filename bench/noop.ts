import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./fixtures/noop.c', import.meta.url));

/** The no-op plugin's `type`. */
export const NOOP_TYPE = 'noop';

/**
 * Compile bench/fixtures/noop.c with `cc -O2 -static` into `<dir>/bin/noop` and return that bin
 * dir. Static, like the shim, so its start-up cost is a bare exec.
 */
export function buildNoopPlugin(dir: string): string {
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  execFileSync(process.env.CC ?? 'cc', ['-O2', '-static', '-o', join(binDir, NOOP_TYPE), SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
  return binDir;
}
