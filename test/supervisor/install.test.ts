import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DAEMON, SHIM } from '../helpers/paths.js';
import { until } from '../helpers/wait.js';

const dir = mkdtempSync('/tmp/install-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('multus-daemon install', () => {
  it('replaces a shim that is running right now, without "Text file busy" (upstream #1221)', async () => {
    const bin = join(dir, 'bin');
    await promisify(execFile)(process.execPath, [DAEMON, 'install', '-d', bin]);
    const installed = join(bin, 'multus-shim');
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    // A runtime is executing the installed shim: it waits for a daemon that is not there.
    const running = spawn(installed, [], { env: { CNI_COMMAND: 'ADD', MULTUS_SHIM_READY_TIMEOUT_MS: '3000' }, stdio: ['pipe', 'pipe', 'ignore'] });
    running.stdin.end(JSON.stringify({ cniVersion: '1.0.0', daemonSocketDir: join(dir, 'nowhere') }));
    // Executing once the kernel has exec'ed the installed file (before that, /proc shows node or nothing).
    const exe = (): string => {
      try {
        return readlinkSync(`/proc/${String(running.pid)}/exe`);
      } catch {
        return '';
      }
    };
    await until(() => exe() === installed, 'the installed shim running');
    // Overwriting in place is what fails upstream:
    await expect(copyFile(SHIM, installed)).rejects.toMatchObject({ code: 'ETXTBSY' });
    const { stdout } = await promisify(execFile)(process.execPath, [DAEMON, 'install', '-d', bin]);
    expect(stdout).toContain(`installed ${installed}`);
    expect(readFileSync(installed).equals(readFileSync(SHIM))).toBe(true);
    expect(stdout).toContain(`installed ${join(bin, 'passthru')}`);
    expect(statSync(join(bin, 'passthru')).mode & 0o777).toBe(0o755);
    running.kill();
  });

  it('refuses an unknown flag with its usage (upstream install_multus flags; -d defaults to /host/opt/cni/bin)', async () => {
    await expect(promisify(execFile)(process.execPath, [DAEMON, 'install', '--bogus'])).rejects.toMatchObject({ stderr: expect.stringContaining('[-d <cni bin dir, default /host/opt/cni/bin>] [-t thick|thin]') });
  });
});
