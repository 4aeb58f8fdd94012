import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { socketGet, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { podArgs, runShim } from '../helpers/shim.js';

/** The daemon as a process: the CNI config it writes for the runtime, and how it stops. */
let host: TestHost;
let daemon: TestDaemon | undefined;

afterEach(async () => {
  await daemon?.stop();
  host.cleanup();
});

async function startManaged(): Promise<{ d: TestDaemon; netDir: string }> {
  host = new TestHost();
  const netDir = join(host.dir, 'etc-cni-net.d');
  mkdirSync(netDir);
  writeFileSync(join(netDir, '10-slow.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'slow', type: 'cni-record', sleepMs: 1500 }));
  const run = join(host.dir, 'run');
  daemon = await startTestDaemon(host.dir, { cniVersion: '1.0.0', multusAutoconfigDir: netDir, cniConfigDir: netDir, daemonSocketDir: run });
  // The daemon serves its socket first and writes the runtime's config right after.
  const deadline = Date.now() + 5000;
  while (!existsSync(join(netDir, '00-multus.conf')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return { d: daemon, netDir };
}

function exited(d: TestDaemon): Promise<number | null> {
  return new Promise((resolve) => {
    if (d.process.exitCode !== null) resolve(d.process.exitCode);
    else d.process.once('exit', (code) => resolve(code));
  });
}

describe('daemon lifecycle', () => {
  it('writes 00-multus.conf for the runtime, and a runtime-style call with it as stdin works', async () => {
    const { d, netDir } = await startManaged();
    const conf = JSON.parse(readFileSync(join(netDir, '00-multus.conf'), 'utf8')) as Record<string, unknown>;
    expect(conf).toMatchObject({ type: 'multus-shim', clusterNetwork: join(netDir, '10-slow.conf'), daemonSocketDir: d.socketDir });
    const add = await runShim({ command: 'ADD', containerId: 'lifecycle1', netns: '/var/run/netns/none', args: podArgs('default', 'p'), stdin: readFileSync(join(netDir, '00-multus.conf'), 'utf8') });
    expect(add.code, add.stdout).toBe(0);
  });

  it('on SIGTERM: readyz answers 500 at once, the in-flight ADD finishes, it exits 0 and keeps 00-multus.conf', async () => {
    const { d, netDir } = await startManaged();
    const stdin = readFileSync(join(netDir, '00-multus.conf'), 'utf8');
    const inFlight = runShim({ command: 'ADD', containerId: 'lifecycle2', netns: '/var/run/netns/none', args: podArgs('default', 'p'), stdin });
    await new Promise((r) => setTimeout(r, 300));
    d.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    expect(await socketGet(d.socketDir, '/readyz')).toBe(500);
    expect(await socketGet(d.socketDir, '/healthz')).toBe(200);
    const add = await inFlight;
    expect(add.code, add.stdout).toBe(0);
    expect(await exited(d)).toBe(0);
    expect(existsSync(join(netDir, '00-multus.conf'))).toBe(true);
  });

  it('a second signal exits at once', async () => {
    const { d, netDir } = await startManaged();
    const stdin = readFileSync(join(netDir, '00-multus.conf'), 'utf8');
    void runShim({ command: 'ADD', containerId: 'lifecycle3', netns: '/var/run/netns/none', args: podArgs('default', 'p'), stdin, env: { MULTUS_SHIM_READY_TIMEOUT_MS: '0' } });
    await new Promise((r) => setTimeout(r, 300));
    d.process.kill('SIGTERM');
    // Standard signals do not queue: a second one sent before the first is handled would be lost.
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    d.process.kill('SIGTERM');
    expect(await exited(d)).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
