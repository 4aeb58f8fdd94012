import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

/** A short libFuzzer run over the shim's input handling (longer runs: `sh src/shim/fuzz/run.sh 600`). */
describe('multus-shim fuzzing', () => {
  it.skipIf(!existsSync('/usr/bin/clang'))('finds no crash in the stdin scanner or the response parser in 15 s', async () => {
    const { stdout } = await promisify(execFile)('sh', [`${ROOT}src/shim/fuzz/run.sh`, '15']);
    expect(stdout).toContain('fuzz: no crash');
  }, 120_000);
});
