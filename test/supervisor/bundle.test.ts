import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

/**
 * src/bundle.mjs's built-ins: named imports read when a chunk is evaluated, and those of
 * node:net (and fs/promises, child_process) taken only when first called or constructed.
 */
const dir = mkdtempSync('/tmp/multus-bundle-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bundles `source` as an entry and runs it; its stdout. */
function bundleAndRun(source: string): string {
  writeFileSync(join(dir, 'entry.js'), source);
  execFileSync(process.execPath, [join(ROOT, 'src/bundle.mjs'), join(dir, 'out'), join(dir, 'entry.js')], { stdio: 'pipe' });
  return execFileSync(process.execPath, [join(dir, 'out', 'entry.mjs')], { encoding: 'utf8' });
}

describe('src/bundle.mjs', () => {
  it('takes node:net on first use: its functions and classes work through the wrappers, a default import too', () => {
    const out = bundleAndRun(`
      import net, { BlockList, SocketAddress, isIPv6 } from 'node:net';
      const loaded = () => process.moduleLoadList.includes('NativeModule net');
      const before = loaded();
      const list = new BlockList();
      list.addSubnet('::ffff:0:0', 96, 'ipv6');
      console.log(JSON.stringify({
        before,
        after: loaded(),
        mapped: list.check('::ffff:10.0.0.1', 'ipv6'),
        canonical: new SocketAddress({ address: '2001:db8:0:0:0:0:0:1', family: 'ipv6' }).address,
        isIPv6: isIPv6('fe80::1'),
        viaDefault: net.isIPv4('10.0.0.1'),
        realInstance: list instanceof net.BlockList,
      }));
    `);
    expect(JSON.parse(out)).toEqual({ before: false, after: true, mapped: true, canonical: '2001:db8::1', isIPv6: true, viaDefault: true, realInstance: true });
  });
});
