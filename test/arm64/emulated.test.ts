import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestHost } from '../helpers/host.js';
import { ROOT } from '../helpers/paths.js';

/**
 * The arm64 parts of the image, run under user-mode emulation (qemu-aarch64-static) on this
 * x86_64 machine: the shim and passthru cross-compiled as the Dockerfile's shim stage does, and
 * the official arm64 Node.js (MULTUS_ARM64_NODE, fetched by scripts/test.sh with
 * install-node.sh --arch arm64) running the image's own layout (dist/app): the daemon's entry and
 * the thin plugin's bundle. The whole arm64 image needs a binfmt handler registered in the kernel
 * (scripts/build-image.sh --arch arm64 does that for the build only); this needs none.
 */
const QEMU = '/usr/bin/qemu-aarch64-static';
const CC = 'aarch64-linux-gnu-gcc';
/** Where Debian's cross packages put the arm64 loader and libraries, for `qemu -L`. */
const SYSROOT = '/usr/aarch64-linux-gnu';
const node = process.env.MULTUS_ARM64_NODE ?? '';
const ccFound = spawnSync(CC, ['--version']).status === 0;
const skip = !existsSync(QEMU) ? `${QEMU} is not installed (scripts/setup.sh installs qemu-user-static)` : !ccFound ? `${CC} is not installed (scripts/setup.sh installs it)` : node === '' ? 'MULTUS_ARM64_NODE is not set (scripts/test.sh fetches the arm64 Node.js and sets it)' : undefined;
if (skip !== undefined) process.stderr.write(`test/arm64: SKIPPING: ${skip}\n`);

/** Run an arm64 executable under emulation with CNI's environment; its stdout. */
function emulated(args: string[], env: Record<string, string> = {}): string {
  return execFileSync(QEMU, ['-L', SYSROOT, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env }, input: '{"cniVersion":"1.0.0"}' });
}

describe.skipIf(skip !== undefined)(`arm64 under qemu-aarch64-static${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  // Made in beforeAll, not while collecting: a skipped suite runs no hooks, and would leave its dir.
  let host: TestHost;
  beforeAll(() => {
    host = new TestHost();
  });
  afterAll(() => host.cleanup());

  it('the shim and passthru cross-compile (static-pie, as in the Dockerfile) and answer VERSION', () => {
    for (const [name, source] of [['multus-shim', undefined], ['passthru', 'src/shim/passthru.c']] as const) {
      const out = join(host.dir, name);
      execFileSync('sh', ['src/shim/build.sh', out, ...(source === undefined ? [] : [source])], { cwd: ROOT, env: { ...process.env, CC }, stdio: 'pipe' });
      expect(execFileSync('file', ['-b', out], { encoding: 'utf8' })).toMatch(/ARM aarch64/);
      expect(JSON.parse(emulated([out], { CNI_COMMAND: 'VERSION' }))).toMatchObject({ supportedVersions: expect.arrayContaining(['1.0.0']) as unknown });
    }
  });

  it('the spawner cross-compiles too, says how to run it, and runs the thin plugin\'s program with its socket (--thin)', () => {
    const out = join(host.dir, 'multus-spawner');
    execFileSync('sh', ['src/shim/build.sh', out, 'src/shim/spawner.c'], { cwd: ROOT, env: { ...process.env, CC }, stdio: 'pipe' });
    expect(execFileSync('file', ['-b', out], { encoding: 'utf8' })).toMatch(/ARM aarch64/);
    expect(() => emulated([out])).toThrow(/usage: multus-spawner <socket path>/);
    expect(emulated([out, '--thin', '/bin/sh', '-c', 'echo "fd $MULTUS_SPAWNER_FD"'])).toBe('fd 3\n');
  });

  it('the arm64 Node.js runs the daemon entry and the thin plugin of the image layout', () => {
    expect(execFileSync('file', ['-b', node], { encoding: 'utf8' })).toMatch(/ARM aarch64/);
    expect(emulated([node, join(ROOT, 'dist/app/dist/supervisor/main.js'), '-version'])).toMatch(/^multus-daemon: version:\d+\.\d+\.\d+\n$/);
    const version = JSON.parse(emulated([node, join(ROOT, 'dist/app/dist/thin-bundle/multus.mjs')], { CNI_COMMAND: 'VERSION' })) as { supportedVersions: string[] };
    expect(version.supportedVersions).toContain('1.1.0');
  }, 120_000);
});
