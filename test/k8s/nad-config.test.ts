import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nadNetworkConfig, withCniArgs } from '../../src/k8s/nad-config.js';
import type { NadInfo } from '../../src/k8s/protocol.js';

const confDir = mkdtempSync('/tmp/nad-config-test-');
afterAll(() => rmSync(confDir, { recursive: true, force: true }));

function nad(name: string, config = ''): NadInfo {
  return { namespace: 'p', name, config, annotations: {} };
}

describe('NAD to CNI config', () => {
  it('uses spec.config over a same-name file on disk (MN-7a)', () => {
    writeFileSync(join(confDir, 'x.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'x', type: 'from-disk' }));
    const net = nadNetworkConfig(nad('x', '{"cniVersion":"1.0.0","name":"x","type":"from-spec"}'), confDir);
    expect(net.plugins[0]?.type).toBe('from-spec');
  });

  it('falls back to a conflist or conf on disk named like the NAD when there is no spec (MN-3, MN-4, MN-7b, MN-7c, NAD-34)', () => {
    writeFileSync(join(confDir, 'net-y.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'y', plugins: [{ type: 'listed' }] }));
    writeFileSync(join(confDir, 'z.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'z', type: 'single' }));
    expect((nadNetworkConfig(nad('y'), confDir)).plugins[0]?.type).toBe('listed');
    expect((nadNetworkConfig(nad('z', '  '), confDir)).plugins[0]?.type).toBe('single');
  });

  it('fails when there is neither a spec nor a file (MN-7d)', () => {
    expect(() => nadNetworkConfig(nad('nowhere'), confDir)).toThrow(expect.objectContaining({ code: 7, message: expect.stringContaining('p/nowhere') }) as Error);
  });

  it('injects the NAD name when the config has none or an empty one (MN-8, NAD-32)', () => {
    expect((nadNetworkConfig(nad('a-bridge-network', '{"cniVersion":"0.3.0","type":"awesome-plugin"}'), confDir)).name).toBe('a-bridge-network');
    expect((nadNetworkConfig(nad('named', '{"cniVersion":"0.3.0","name":"","type":"t"}'), confDir)).name).toBe('named');
  });

  it('keeps a config name that differs from the NAD name (MN-9)', () => {
    expect((nadNetworkConfig(nad('foo', '{"cniVersion":"1.0.0","name":"bar","type":"t"}'), confDir)).name).toBe('bar');
  });

  it('refuses a spec.config that is not a JSON object (NAD-33)', () => {
    expect(() => nadNetworkConfig(nad('bad', 'not json'), confDir)).toThrow(expect.objectContaining({ code: 7, message: expect.stringContaining('p/bad') }) as Error);
    expect(() => nadNetworkConfig(nad('bad', '[1]'), confDir)).toThrow(expect.objectContaining({ code: 7 }) as Error);
  });

  it('merges cni-args into args.cni of every plugin, the annotation winning (MN-18, MUL-7)', () => {
    const list = nadNetworkConfig(nad('l', '{"cniVersion":"1.0.0","plugins":[{"type":"a","args":{"cni":{"a":"1","b":"1"}}},{"type":"b"}]}'), confDir);
    const merged = withCniArgs(list, { b: '2', c: '3' });
    expect(merged.plugins.map((p) => (p.args as { cni: unknown }).cni)).toEqual([{ a: '1', b: '2', c: '3' }, { b: '2', c: '3' }]);
    expect(JSON.parse(merged.bytes)).toMatchObject({ plugins: [{ args: { cni: { b: '2' } } }, {}] });
  });
});
