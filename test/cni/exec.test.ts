import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execPlugin, findPlugin } from '../../src/cni/exec.js';
import { DEBIAN_PLUGINS } from '../helpers/paths.js';

const root = mkdtempSync('/tmp/exec-test-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('plugin lookup and exec', () => {
  it('finds the first regular file in the bin dirs, following a symlinked plugin (LIB-2)', () => {
    mkdirSync(join(root, 'd1', 'x'), { recursive: true });
    mkdirSync(join(root, 'd2'));
    writeFileSync(join(root, 'd2', 'x'), '');
    symlinkSync(join(root, 'd2', 'x'), join(root, 'd2', 'linked'));
    expect(findPlugin('x', [join(root, 'd1'), join(root, 'd2')])).toBe(join(root, 'd2', 'x'));
    expect(findPlugin('linked', [join(root, 'd2')])).toBe(join(root, 'd2', 'linked'));
  });

  it.each(['', '..', '.', '../x', 'a/b', '/bin/sh', 'x;rm', 'x y'])('refuses the plugin name %j before anything runs', (name) => {
    expect(() => findPlugin(name, [root])).toThrow(expect.objectContaining({ body: { code: 7, msg: expect.stringContaining('invalid plugin type') } }) as Error);
  });

  it('looks plugins up inside chrootDir and runs them there', async () => {
    mkdirSync(join(root, 'host', 'opt', 'cni', 'bin'), { recursive: true });
    writeFileSync(join(root, 'host', 'opt', 'cni', 'bin', 'p'), '');
    expect(findPlugin('p', ['/opt/cni/bin'], join(root, 'host'))).toBe('/opt/cni/bin/p');
    expect(() => findPlugin('p', ['/opt/cni/bin'])).toThrow(expect.objectContaining({ body: expect.objectContaining({ msg: expect.stringContaining('failed to find plugin "p"') }) }) as Error);
    const outcome = await execPlugin({ pluginType: 'bridge', binDirs: [DEBIAN_PLUGINS], env: { CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"1.0.0"}', timeoutMs: 5000, chrootDir: '/' });
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && JSON.parse(outcome.stdout)).toMatchObject({ supportedVersions: expect.arrayContaining(['1.0.0']) });
  });
});
