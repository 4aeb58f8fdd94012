import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unsupportedNode } from '../../src/supervisor/node-line.js';
import { TestHost } from '../helpers/host.js';
import { DAEMON, ROOT } from '../helpers/paths.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };
const ENGINES = pkg.engines.node;
const MAJOR = Number(/^\^(\d+)\./.exec(ENGINES)?.[1]);

describe('the Node.js line', () => {
  it('accepts the pinned release and later ones of its major, nothing else', () => {
    expect(unsupportedNode('^26.12.1', '26.12.1')).toBeUndefined();
    expect(unsupportedNode('^26.12.1', '26.13.0')).toBeUndefined();
    expect(unsupportedNode('^26.12.1', '26.12.10')).toBeUndefined();
    expect(unsupportedNode('^26.12.1', '26.12.0')).toMatch(/needs Node\.js 26 \(26\.12\.1 or a later 26\.x\), but runs on Node\.js 26\.12\.0/);
    expect(unsupportedNode('^26.12.1', '26.9.9')).toBeDefined();
    expect(unsupportedNode('^26.12.1', '20.20.2')).toMatch(/runs on Node\.js 20\.20\.2\. .*scripts\/setup\.sh/);
    expect(unsupportedNode('^26.12.1', '27.0.0')).toBeDefined();
    expect(unsupportedNode('>=26', '26.12.1')).toMatch(/not of the form \^MAJOR\.MINOR\.PATCH/);
  });

  it('is the one everything names: engines, the toolchain pin, the image, the bundles, the types, and the Node running this test', () => {
    expect(unsupportedNode(ENGINES, process.versions.node)).toBeUndefined();
    const pinned = /^NODE_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, 'scripts/install-node.sh'), 'utf8'))?.[1] ?? '';
    expect(unsupportedNode(ENGINES, pinned)).toBeUndefined();
    const froms = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM (?:--platform=\S+ )?node:(\S+)/gm)].map((m) => m[1]);
    expect(froms).toEqual([`${MAJOR}-bookworm`, `${MAJOR}-bookworm-slim`]);
    expect(readFileSync(join(ROOT, 'src/bundle.mjs'), 'utf8')).toContain(`target: 'node${MAJOR}',`);
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^${MAJOR}\\.`));
  });

  // The machine's own Node (Debian 12 here: 20) is the older runtime an operator may start it with.
  const systemNode = '/usr/bin/node';
  const systemVersion = spawnSync(systemNode, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  it.skipIf(systemVersion === '' || unsupportedNode(ENGINES, systemVersion) === undefined)(`the daemon refuses an older Node.js (${systemNode}, ${systemVersion || 'absent'}) and names the one it needs`, () => {
    for (const args of [['-version'], ['-config', '/nonexistent'], ['install', '-d', '/nonexistent']]) {
      const run = spawnSync(systemNode, [DAEMON, ...args], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(`multus-daemon: needs Node.js ${MAJOR} (${ENGINES.slice(1)} or a later ${MAJOR}.x), but runs on Node.js ${systemVersion}. Use the multus-ts image, or the project's own Node.js: bash scripts/setup.sh installs it at .toolchain/bin/node\n`);
    }
  });
});

describe('the compile cache', () => {
  const host = new TestHost();
  afterAll(() => host.cleanup());
  const COMPILE_CACHE = join(ROOT, 'dist/util/compile-cache.js');
  /** enableCompileCacheIn(dir) in a fresh Node, loading a module afterwards; its status line. */
  const enableIn = (dir: string, env: Record<string, string> = {}): string =>
    execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(COMPILE_CACHE)}); console.log(m.enableCompileCacheIn(process.argv[1])); await import(${JSON.stringify(join(ROOT, 'dist/supervisor/node-line.js'))});`, dir], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', ...env },
    }).trim();

  it('is made 0700 when missing, and filled', () => {
    const dir = join(host.dir, 'cache-new');
    expect(enableIn(dir)).toBe(`compile cache in ${dir}`);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).not.toEqual([]);
  });

  it('is not used when others can write it or it is not ours: a root process would run what they put there', () => {
    const open = join(host.dir, 'cache-open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(enableIn(open)).toBe(`compile cache not used: ${open} is not a directory of this user's that only it can write`);
    expect(readdirSync(open)).toEqual([]);
    const foreign = join(host.dir, 'cache-foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    expect(enableIn(foreign)).toMatch(/^compile cache not used: /);
  });

  it('gives way to NODE_DISABLE_COMPILE_CACHE', () => {
    expect(enableIn(join(host.dir, 'cache-disabled'), { NODE_DISABLE_COMPILE_CACHE: '1' })).toBe('compile cache disabled by NODE_DISABLE_COMPILE_CACHE');
  });
});
