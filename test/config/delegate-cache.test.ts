import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listCachedContainers, loadDelegates, removeDelegates, saveDelegates, startedUpTo } from '../../src/cni/delegate-cache.js';
import type { Delegate } from '../../src/cni/delegate.js';
import { parseNetworkConfig } from '../../src/cni/network-config.js';

const dir = mkdtempSync('/tmp/delegate-cache-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('delegate cache (upstream format)', () => {
  it('round-trips, in upstream\'s field names, file mode 0600', async () => {
    const single = parseNetworkConfig('{"cniVersion":"0.3.1","name":"cbr0","type":"bridge","ipam":{"type":"host-local"}}', 'a');
    const list = parseNetworkConfig('{"cniVersion":"1.0.0","name":"l","plugins":[{"type":"bridge","calico-ish":{"keep":"me"}},{"type":"tuning"}]}', 'b');
    const delegates = [{ name: 'cbr0', net: single, master: true }, { name: 'ns/l', net: list, master: false, ifnameRequest: 'data0', resourceName: 'example.com/vf', requests: { deviceID: '0000:03:00.1' } }];
    await saveDelegates(dir, 'c1', startedUpTo(delegates, 2));
    const raw = JSON.parse(readFileSync(join(dir, 'c1'), 'utf8')) as Array<Record<string, unknown>>;
    expect(Object.keys(raw[0] ?? {})).toEqual(expect.arrayContaining(['Conf', 'ConfList', 'Name', 'Bytes', 'IsFilterV4Gateway']));
    expect(raw[1]).toMatchObject({ ifnameRequest: 'data0', resourceName: 'example.com/vf', deviceID: '0000:03:00.1' });
    expect(statSync(join(dir, 'c1')).mode & 0o777).toBe(0o600);
    const loaded = loadDelegates(dir, 'c1');
    expect(loaded.kind).toBe('found');
    if (loaded.kind !== 'found') return;
    expect(loaded.entries.map((e) => e.started)).toEqual([true, true]);
    expect(loaded.entries.map(({ delegate: d }) => [d.name, d.master, d.net.single, d.ifnameRequest, d.resourceName, d.requests?.deviceID])).toEqual([
      ['cbr0', true, true, undefined, undefined, undefined],
      ['ns/l', false, false, 'data0', 'example.com/vf', '0000:03:00.1'],
    ]);
    // Plugin-specific keys survive into the DEL config (upstream's conflist cache bug).
    expect(loaded.entries[1]?.delegate.net.plugins[0]).toMatchObject({ 'calico-ish': { keep: 'me' } });
  });

  it('reads a file upstream wrote', () => {
    const bytes = Buffer.from('{"cniVersion":"0.3.1","name":"cbr0","type":"bridge","bridge":"cni0"}').toString('base64');
    writeFileSync(join(dir, 'upstream1'), JSON.stringify([{ Conf: { cniVersion: '0.3.1', name: 'cbr0', type: 'bridge', ipam: {}, dns: {} }, ConfList: { cniVersion: '', name: '', plugins: null }, Name: 'cbr0', IsFilterV4Gateway: false, IsFilterV6Gateway: false, Bytes: bytes }]));
    const loaded = loadDelegates(dir, 'upstream1');
    expect(loaded.kind === 'found' && loaded.entries[0]?.delegate.net.plugins[0]).toMatchObject({ type: 'bridge', bridge: 'cni0' });
    // No "started" key, as upstream and our older versions write: every delegate counts as started.
    expect(loaded.kind === 'found' && loaded.entries.map((e) => e.started)).toEqual([true]);
  });

  it('records which delegates the ADD started, as an extra key upstream ignores', async () => {
    const net = (name: string): ReturnType<typeof parseNetworkConfig> => parseNetworkConfig(`{"cniVersion":"1.0.0","name":"${name}","type":"bridge"}`, name);
    const delegates = ['a', 'b', 'c'].map((name, i) => ({ name, net: net(name), master: i === 0 }));
    await saveDelegates(dir, 'partial', startedUpTo(delegates, 2));
    const raw = JSON.parse(readFileSync(join(dir, 'partial'), 'utf8')) as Array<Record<string, unknown>>;
    expect(raw.map((e) => e.started)).toEqual([true, true, false]);
    const loaded = loadDelegates(dir, 'partial');
    expect(loaded.kind === 'found' && loaded.entries.map((e) => e.started)).toEqual([true, true, false]);
    // Only an explicit false means "nothing to undo".
    writeFileSync(join(dir, 'partial'), JSON.stringify([{ ...raw[0], started: false }, { ...raw[1], started: 'yes' }, raw[2]]));
    const edited = loadDelegates(dir, 'partial');
    expect(edited.kind === 'found' && edited.entries.map((e) => e.started)).toEqual([false, true, false]);
  });

  it('keeps the attempt count and last error of a failed DEL, only on the entries that failed', async () => {
    const net = (name: string): ReturnType<typeof parseNetworkConfig> => parseNetworkConfig(`{"cniVersion":"1.0.0","name":"${name}","type":"bridge"}`, name);
    const [a, b] = ['a', 'b'].map((name, i) => ({ name, net: net(name), master: i === 0 })) as [Delegate, Delegate];
    await saveDelegates(dir, 'retry', { entries: [{ delegate: a, started: false, deleteAttempts: 0 }, { delegate: b, started: true, deleteAttempts: 2, deleteError: 'plugin b: busy' }] });
    const raw = JSON.parse(readFileSync(join(dir, 'retry'), 'utf8')) as Array<Record<string, unknown>>;
    expect(raw.map((e) => [e.started, e.deleteAttempts, e.deleteError])).toEqual([[false, undefined, undefined], [true, 2, 'plugin b: busy']]);
    const loaded = loadDelegates(dir, 'retry');
    expect(loaded.kind === 'found' && loaded.entries.map((e) => [e.started, e.deleteAttempts, e.deleteError])).toEqual([[false, 0, undefined], [true, 2, 'plugin b: busy']]);
  });

  it('reports a corrupt or missing file instead of throwing, and removal is idempotent', async () => {
    writeFileSync(join(dir, 'broken'), '[{"Bytes":');
    expect((loadDelegates(dir, 'broken')).kind).toBe('corrupt');
    expect((loadDelegates(dir, 'absent')).kind).toBe('missing');
    await removeDelegates(dir, 'absent');
    expect(await listCachedContainers(dir)).toEqual(expect.arrayContaining(['c1', 'upstream1', 'broken']));
  });
});
