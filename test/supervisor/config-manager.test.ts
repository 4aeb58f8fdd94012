import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startConfigManager, type ConfigManager } from '../../src/supervisor/config-manager.js';
import { until } from '../helpers/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dirs() {
  const root = mkdtempSync('/tmp/config-manager-test-');
  const auto = join(root, 'net.d');
  mkdirSync(auto);
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return { root, auto, conf: join(auto, '00-multus.conf') };
}

/** A logger that keeps its lines, for a test to wait on what the manager decided. */
function recordingLog(): { log: Logger; messages: string[] } {
  const messages: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { log, messages };
}

async function start(daemon: Record<string, unknown>, extra: { masterWaitMs?: number; onReadinessLost?: () => void; log?: Logger } = {}): Promise<ConfigManager> {
  const manager = await startConfigManager({ daemon, log: extra.log ?? pino({ level: 'silent' }), masterWaitMs: extra.masterWaitMs ?? 2000, readinessWaitMs: 2000, onReadinessLost: extra.onReadinessLost ?? (() => undefined) });
  cleanups.push(() => manager.stop());
  return manager;
}

function read(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}


describe('00-multus.conf', () => {
  it('is generated from the first master config by name, with its capabilities and the pass-through keys (upstream §2.4)', async () => {
    const d = dirs();
    writeFileSync(join(d.auto, '10-calico.conflist'), JSON.stringify({ cniVersion: '0.4.0', name: 'k8s-pod-network', plugins: [{ type: 'calico' }, { type: 'portmap', capabilities: { portMappings: true } }, { type: 'bandwidth', capabilities: { bandwidth: true, other: false } }] }));
    writeFileSync(join(d.auto, '20-other.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'other', type: 'bridge' }));
    writeFileSync(join(d.auto, '00-multus-old.conf'), '{}');
    await start({ cniVersion: '0.4.0', multusAutoconfigDir: d.auto, cniConfigDir: d.auto, daemonSocketDir: '/host/run/multus/', socketDir: '/not/passed', logLevel: 'verbose' });
    expect(read(d.conf)).toEqual({
      cniVersion: '0.4.0',
      name: 'multus-cni-network',
      type: 'multus-shim',
      clusterNetwork: join(d.auto, '10-calico.conflist'),
      capabilities: { portMappings: true, bandwidth: true },
      daemonSocketDir: '/host/run/multus/',
      logLevel: 'verbose',
    });
    expect(statSync(d.conf).mode & 0o777).toBe(0o600);
  });

  it('uses the master\'s name with overrideNetworkName, and refuses incompatible versions', async () => {
    const d = dirs();
    writeFileSync(join(d.auto, '10-a.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'primary', type: 'bridge' }));
    await expect(start({ cniVersion: '0.4.0', multusAutoconfigDir: d.auto, cniConfigDir: d.auto })).rejects.toThrow(/incompatible/);
    expect(existsSync(d.conf)).toBe(false);
    await start({ cniVersion: '0.3.1', overrideNetworkName: true, multusAutoconfigDir: d.auto, cniConfigDir: d.auto });
    expect(read(d.conf).name).toBe('primary');
  });

  it('forceCNIVersion rewrites the master with the multus version', async () => {
    const d = dirs();
    writeFileSync(join(d.auto, '10-a.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'primary', type: 'bridge', keep: 'me' }));
    await start({ cniVersion: '1.0.0', forceCNIVersion: true, multusAutoconfigDir: d.auto, cniConfigDir: d.auto });
    expect(read(join(d.auto, '10-a.conf'))).toMatchObject({ cniVersion: '1.0.0', keep: 'me' });
    expect(read(d.conf).cniVersion).toBe('1.0.0');
  });

  it('waits (bounded) for a master to appear, and fails clearly when none does', async () => {
    const d = dirs();
    // A master that appears late is the behaviour under test, not a synchronisation.
    setTimeout(() => writeFileSync(join(d.auto, '10-late.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'late', type: 'bridge' })), 300);
    await start({ cniVersion: '1.0.0', multusAutoconfigDir: d.auto, cniConfigDir: d.auto }, { masterWaitMs: 5000 });
    expect(read(d.conf).clusterNetwork).toBe(join(d.auto, '10-late.conf'));
    const empty = dirs();
    await expect(start({ multusAutoconfigDir: empty.auto, cniConfigDir: empty.auto }, { masterWaitMs: 500 })).rejects.toThrow(/master CNI config.*did not appear within 500 ms/);
  });

  it('follows master changes and a new, earlier master; never writes an empty or broken file (upstream #1155)', async () => {
    const d = dirs();
    const { log, messages } = recordingLog();
    writeFileSync(join(d.auto, '20-b.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'b', type: 'bridge' }));
    await start({ cniVersion: '1.0.0', multusAutoconfigDir: d.auto, cniConfigDir: d.auto }, { log });
    writeFileSync(join(d.auto, '20-b.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'b', type: 'bridge', capabilities: { portMappings: true } }));
    await until(() => read(d.conf).capabilities !== undefined, 'the changed master capabilities');
    writeFileSync(join(d.auto, '10-a.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'a', type: 'ptp' }));
    await until(() => read(d.conf).clusterNetwork === join(d.auto, '10-a.conf'), 'the new master');
    writeFileSync(join(d.auto, '10-a.conf'), '{"cniVersion":');
    // The watcher saw the broken master and decided: keep the file as it is.
    await until(() => messages.includes('cannot regenerate the multus CNI config; keeping the current one'), 'the broken master being refused');
    expect(read(d.conf).clusterNetwork).toBe(join(d.auto, '10-a.conf'));
    expect(readFileSync(d.conf, 'utf8').length).toBeGreaterThan(10);
  });

  it('stays on shutdown by default and is removed with cleanupConfigOnExit (upstream #1468, #1527)', async () => {
    const d = dirs();
    writeFileSync(join(d.auto, '10-a.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'a', type: 'bridge' }));
    const kept = await startConfigManager({ daemon: { multusAutoconfigDir: d.auto, cniConfigDir: d.auto }, log: pino({ level: 'silent' }), masterWaitMs: 1000, readinessWaitMs: 1000, onReadinessLost: () => undefined });
    await kept.stop();
    expect(existsSync(d.conf)).toBe(true);
    const removed = await startConfigManager({ daemon: { multusAutoconfigDir: d.auto, cniConfigDir: d.auto, cleanupConfigOnExit: true }, log: pino({ level: 'silent' }), masterWaitMs: 1000, readinessWaitMs: 1000, onReadinessLost: () => undefined });
    await removed.stop();
    expect(existsSync(d.conf)).toBe(false);
  });

  it('waits for the readiness indicator, and reacts to its disappearance as upstream does (MN-39)', async () => {
    const d = dirs();
    const indicator = join(d.root, 'ready');
    writeFileSync(join(d.auto, '10-a.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'a', type: 'bridge' }));
    // An indicator that appears late is the behaviour under test, not a synchronisation.
    setTimeout(() => writeFileSync(indicator, ''), 300);
    let lost = false;
    await start({ multusAutoconfigDir: d.auto, cniConfigDir: d.auto, readinessindicatorfile: indicator }, { onReadinessLost: () => (lost = true) });
    expect(existsSync(d.conf)).toBe(true);
    unlinkSync(indicator);
    await until(() => lost, 'onReadinessLost');
    expect(existsSync(d.conf)).toBe(false);
  });

  it('copies a user-provided file when multusConfigFile is not "auto"', async () => {
    const d = dirs();
    const own = join(d.root, '05-mine.conf');
    writeFileSync(own, '{"cniVersion":"1.0.0","name":"mine","type":"multus-shim"}');
    const manager = await start({ multusConfigFile: own, cniConfigDir: d.auto });
    expect(manager.confPath).toBe(join(d.auto, '05-mine.conf'));
    expect(readFileSync(manager.confPath, 'utf8')).toBe(readFileSync(own, 'utf8'));
  });
});
