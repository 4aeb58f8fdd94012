import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ROOT, ROOT } from '../helpers/paths.js';

/** No container engine runs here: check the Dockerfile against what the manifest executes. */
describe('Dockerfile', () => {
  const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');

  it('builds the shim for each target architecture and ships it where the daemon and installer expect it', () => {
    expect(dockerfile).toMatch(/ARG TARGETARCH/);
    expect(dockerfile).toMatch(/amd64\)/);
    expect(dockerfile).toMatch(/arm64\)/);
    expect(dockerfile).toContain('COPY --from=shim /out/multus-shim ./dist/bin/multus-shim');
    // The daemon starts its plugins through it (src/workers/spawner.ts looks for it there).
    expect(dockerfile).toContain('COPY --from=shim /out/multus-spawner ./dist/bin/multus-spawner');
  });

  it('puts the daemon entry at the path the DaemonSet runs', () => {
    const docs = parseAllDocuments(readFileSync(`${ROOT}deployments/multus-daemonset-thick.yml`, 'utf8')).map((d) => d.toJS() as { kind?: string; spec?: { template: { spec: { containers: Array<{ command: string[] }>; initContainers: Array<{ command: string[] }> } } } });
    const pod = docs.find((d) => d.kind === 'DaemonSet')?.spec?.template.spec;
    const entries = [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])].map((c) => c.command[1]);
    expect(entries.length).toBe(2);
    expect(dockerfile).toContain('WORKDIR /usr/src/multus-ts');
    expect(dockerfile).toContain('COPY --from=build /app ./');
    for (const entry of entries) expect(entry).toBe('/usr/src/multus-ts/dist/supervisor/main.js');
  });
});

/**
 * Upstream's manifests call /usr/src/multus-cni/bin/{multus-daemon,install_multus},
 * /install_multus and /thin_entrypoint, or `cp` multus-shim from there. The Dockerfile's step
 * that lays these out is run here against a scratch root (paths rewritten), then the wrappers
 * are called as those manifests call them.
 */
describe('upstream image layout', () => {
  const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
  const step = /^RUN set -eu; \\\n(\s+mkdir -p \/usr\/src\/multus-cni\/bin;[\s\S]*?)\nENV NODE_ENV/m.exec(dockerfile)?.[1] ?? '';
  const scratch = mkdtempSync(join(tmpdir(), 'image-layout-'));
  const bin = `${scratch}/usr/src/multus-cni/bin`;
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  beforeAll(() => {
    const script = step
      .replaceAll('/usr/src/multus-ts/', APP_ROOT)
      .replaceAll('/usr/src/multus-cni', `${scratch}/usr/src/multus-cni`)
      .replaceAll(' /install_multus', ` ${scratch}/install_multus`)
      .replaceAll(' /thin_entrypoint', ` ${scratch}/thin_entrypoint`)
      .replaceAll('node ', `${process.execPath} `);
    execFileSync('sh', ['-c', `set -eu; ${script.replaceAll('\\\n', '\n')}`]);
  });

  it('runs the daemon, the installer and the thin entrypoint from upstream\'s paths', () => {
    expect(execFileSync(`${bin}/multus-daemon`, ['-version'], { encoding: 'utf8' })).toMatch(/^multus-daemon: version:/);
    const dest = join(scratch, 'host-bin');
    expect(execFileSync(`${scratch}/install_multus`, ['-d', dest, '-t', 'thick'], { encoding: 'utf8' })).toContain(`installed ${dest}/multus-shim`);
    expect(statSync(join(dest, 'passthru')).mode & 0o111).not.toBe(0);
    expect(() => execFileSync(`${scratch}/thin_entrypoint`, ['--no-such-flag'], { stdio: 'pipe' })).toThrow(/unknown thin entrypoint flag --no-such-flag/);
  });

  it('keeps multus-shim where upstream\'s older manifests `cp` it from', () => {
    expect(readFileSync(`${bin}/multus-shim`).equals(readFileSync(`${ROOT}dist/bin/multus-shim`))).toBe(true);
  });
});
