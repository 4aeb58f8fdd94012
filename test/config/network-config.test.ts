import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findNetworkConfigByName, parseNetworkConfig, resolveClusterNetwork } from '../../src/cni/network-config.js';

const dir = mkdtempSync('/tmp/netconf-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('network configs', () => {
  it('normalises a single conf into a one-plugin list (CNI-4)', () => {
    const net = parseNetworkConfig('{"cniVersion":"0.3.1","name":"n","type":"bridge"}', 'x');
    expect(net).toMatchObject({ cniVersion: '0.3.1', name: 'n', single: true, plugins: [{ type: 'bridge' }] });
  });
  it('picks the highest supported of cniVersion and cniVersions (CNI-2)', () => {
    const net = parseNetworkConfig('{"cniVersion":"0.4.0","cniVersions":["1.0.0","1.1.0","9.9.9"],"name":"n","plugins":[{"type":"a"}]}', 'x');
    expect(net.cniVersion).toBe('1.1.0');
  });
  it('accepts "true" strings for disableCheck, refuses other values (CNI-1)', () => {
    expect(parseNetworkConfig('{"cniVersion":"1.0.0","name":"n","disableCheck":"TRUE","plugins":[{"type":"a"}]}', 'x').disableCheck).toBe(true);
    expect(() => parseNetworkConfig('{"cniVersion":"1.0.0","name":"n","disableCheck":"yes","plugins":[{"type":"a"}]}', 'x')).toThrow(/disableCheck/);
  });
  it.each([
    ['{"cniVersion":"1.0.0","name":"bad/name","type":"a"}', '"name"'],
    ['{"cniVersion":"1.0.0","name":"n"}', 'no "type"'],
    ['{"cniVersion":"1.0.0","name":"n","plugins":[]}', 'non-empty'],
    ['[1]', 'not a JSON object'],
  ])('refuses %s with code 7 naming the problem', (text, what) => {
    expect(() => parseNetworkConfig(text, '/etc/x.conf')).toThrow(expect.objectContaining({ code: 7, message: expect.stringContaining(what) as string }) as Error);
  });
  it('finds a config by name in lexical file order, skipping broken files (MN-7)', () => {
    writeFileSync(join(dir, '00-broken.conf'), '{');
    writeFileSync(join(dir, '10-a.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'wanted', plugins: [{ type: 'first' }] }));
    writeFileSync(join(dir, '20-b.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'wanted', type: 'second' }));
    expect((findNetworkConfigByName(dir, 'wanted'))?.plugins[0]?.type).toBe('first');
    expect(findNetworkConfigByName(dir, 'absent')).toBeUndefined();
  });
  it('resolves clusterNetwork as a file, a directory or a name (upstream §4.3)', () => {
    expect((resolveClusterNetwork(join(dir, '20-b.conf'), '/nonexistent')).plugins[0]?.type).toBe('second');
    const sub = mkdtempSync(join(dir, 'sub-'));
    writeFileSync(join(sub, '50-z.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'z', type: 'zz' }));
    writeFileSync(join(sub, '40-y.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'y', plugins: [{ type: 'yy' }] }));
    expect((resolveClusterNetwork(sub, '/nonexistent')).name).toBe('y');
    expect((resolveClusterNetwork('wanted', dir)).plugins[0]?.type).toBe('first');
    expect(() => resolveClusterNetwork('absent', dir)).toThrow(expect.objectContaining({ code: 7 }) as Error);
  });
});
