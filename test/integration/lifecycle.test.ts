import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { socketGet, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/** The daemon as a process: the CNI config it writes for the runtime, and how it stops. */
let host: TestHost;
let daemon: TestDaemon | undefined;

afterEach(async () => {
  // A failed test may leave its ADD held, and the daemon drains it before it exits.
  rmSync(join(host.dir, 'hold'), { force: true });
  await daemon?.stop();
  host.cleanup();
});

/**
 * A daemon managing 00-multus.conf over a master whose plugin holds every call while `hold`
 * exists and notes in `started` each call it begins: a test knows an ADD is in flight.
 */
async function startManaged(): Promise<{ d: TestDaemon; netDir: string; hold: string; started: string }> {
  host = new TestHost();
  const netDir = join(host.dir, 'etc-cni-net.d');
  const hold = join(host.dir, 'hold');
  const started = join(host.dir, 'started');
  mkdirSync(netDir);
  writeFileSync(join(netDir, '10-held.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'held', type: 'cni-record', holdWhile: hold, startedFile: started }));
  const run = join(host.dir, 'run');
  daemon = await startTestDaemon(host.dir, { cniVersion: '1.0.0', multusAutoconfigDir: netDir, cniConfigDir: netDir, daemonSocketDir: run });
  // The daemon serves its socket first and writes the runtime's config right after.
  await until(() => existsSync(join(netDir, '00-multus.conf')), '00-multus.conf');
  return { d: daemon, netDir, hold, started };
}

/** Resolves once the plugin has begun the ADD of `containerId`. */
async function inPlugin(started: string, containerId: string): Promise<void> {
  await until(() => existsSync(started) && readFileSync(started, 'utf8').includes(`ADD ${containerId}`), `the ADD of ${containerId} in the plugin`);
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
    expect(conf).toMatchObject({ type: 'multus-shim', clusterNetwork: join(netDir, '10-held.conf'), daemonSocketDir: d.socketDir });
    const add = await runShim({ command: 'ADD', containerId: 'lifecycle1', netns: '/var/run/netns/none', args: podArgs('default', 'p'), stdin: readFileSync(join(netDir, '00-multus.conf'), 'utf8') });
    expect(add.code, add.stdout).toBe(0);
  });

  it('on SIGTERM: readyz answers 500 at once, the in-flight ADD finishes, it exits 0 and keeps 00-multus.conf', async () => {
    const { d, netDir, hold, started } = await startManaged();
    const stdin = readFileSync(join(netDir, '00-multus.conf'), 'utf8');
    writeFileSync(hold, '');
    const inFlight = runShim({ command: 'ADD', containerId: 'lifecycle2', netns: '/var/run/netns/none', args: podArgs('default', 'p'), stdin });
    await inPlugin(started, 'lifecycle2');
    d.process.kill('SIGTERM');
    // While the ADD is still held in the plugin: not ready, but alive.
    await until(async () => (await socketGet(d.socketDir, '/readyz')) === 500, 'readyz 500');
    expect(await socketGet(d.socketDir, '/healthz')).toBe(200);
    rmSync(hold);
    const add = await inFlight;
    expect(add.code, add.stdout).toBe(0);
    expect(await exited(d)).toBe(0);
    expect(existsSync(join(netDir, '00-multus.conf'))).toBe(true);
  });

  it('a second signal exits at once', async () => {
    const { d, netDir, hold, started } = await startManaged();
    const stdin = readFileSync(join(netDir, '00-multus.conf'), 'utf8');
    writeFileSync(hold, '');
    void runShim({ command: 'ADD', containerId: 'lifecycle3', netns: '/var/run/netns/none', args: podArgs('default', 'p'), stdin, env: { MULTUS_SHIM_READY_TIMEOUT_MS: '0' } });
    await inPlugin(started, 'lifecycle3');
    d.process.kill('SIGTERM');
    // Standard signals do not queue: a second one sent before the first is handled would be lost.
    await until(async () => (await socketGet(d.socketDir, '/readyz')) === 500, 'the first signal handled');
    d.process.kill('SIGTERM');
    // At once: the ADD is still held in the plugin, so a daemon waiting for it would not exit.
    expect(await exited(d)).toBe(1);
    rmSync(hold);
  });
});
