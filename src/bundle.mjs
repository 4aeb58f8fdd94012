#!/usr/bin/env node
// Bundles built entry points (and everything they import, @kubernetes/client-node included)
// into a few ES modules in <out-dir>, each entry named after itself (multus.js -> multus.mjs;
// with --js, main.js -> main.js). Loading ~900 files of client-node one by one is what costs,
// in time and in memory:
//   - the thin plugin, a process per CNI call: importing the Kubernetes client 720 -> 170 ms;
//   - the daemon's kube worker thread: idle daemon RSS 135 -> 115 MiB;
//   - the image (src/image-app.sh): no node_modules but piscina's.
// Splitting keeps dynamically imported parts (the thin plugin's Kubernetes client, grpc-js) in
// chunks of their own, loaded only when used. CommonJS dependencies call require(); the banner
// gives every chunk one. client-node 1.x (through node-fetch's whatwg-url) requires Node's
// deprecated `punycode`, which prints DEP0040 on stderr from Node 22 on: the alias bundles the
// userland package of the same API instead. piscina stays external: it starts its threads from
// a script file of its own (node_modules/piscina/dist/worker.js), found beside its index.
// Every output lands in <out-dir> itself, so paths a module builds from import.meta.url
// ('../thin-bundle/', './delegate.worker.js') mean the same bundled as in dist/.
// Node's built-ins are not imported as ES modules: an import of one builds its ESM facade, which
// reads every export, getters included (node:fs's `promises` loads fs/promises, readline and the
// REPL's history; node:http's fetch exports load undici). Each `import { x } from 'node:y'`
// becomes `process.getBuiltinModule('node:y').x`, read when the chunk is evaluated; exports
// nothing uses are dropped, so their getters never run.
//   usage: node src/bundle.mjs [--js] <out-dir> <built entry .js>...
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const args = process.argv.slice(2);
const ext = args[0] === '--js' ? (args.shift(), '.js') : '.mjs';
const [out, ...entries] = args;
if (out === undefined || out === '' || entries.length === 0) {
  process.stderr.write('usage: node src/bundle.mjs [--js] <out-dir> <built entry .js>...\n');
  process.exit(2);
}

/**
 * Built-ins taken on the first call of one of their functions rather than when a chunk is
 * evaluated, each for a thin ADD or DEL that calls none of its functions: fs/promises's module
 * loads readline and the REPL's history (3-5 ms of a thin call here); child_process (with dgram)
 * is only the fallback when the thin plugin has no spawner; net (with the streams under it, 5-10
 * ms) only serves the daemon's sockets and two IPv6 helpers of an ADD. Their exports are
 * functions and classes (wrapped: a call or `new` reaches the built-in's own, but the wrapper
 * has none of its properties and `instanceof` it fails) and constants (read at once, if anything
 * imports them); a default import is a proxy that reads the built-in's properties when they are
 * used.
 */
const TAKEN_ON_FIRST_CALL = new Set(['node:fs/promises', 'node:child_process', 'node:net']);

/** The module that stands for built-in `specifier`: its exports, each read from the built-in on its own. */
async function builtinModule(specifier) {
  const builtin = await import(specifier);
  const names = Object.keys(builtin).filter((name) => name !== 'default');
  const onFirstCall = TAKEN_ON_FIRST_CALL.has(specifier);
  // Local names with a `$`, which no built-in exports (fs has a `read`). Pure: esbuild drops an
  // export no chunk imports, and with it the read.
  const value = (name, i) =>
    onFirstCall && typeof builtin[name] === 'function'
      ? `const $${i} = function (...args) { const own = $builtin()[${JSON.stringify(name)}]; return new.target === undefined ? own.apply(this, args) : Reflect.construct(own, args); };`
      : `const $${i} = /* @__PURE__ */ $read(${JSON.stringify(name)});`;
  return [
    onFirstCall
      ? `let $module; const $builtin = () => ($module ??= process.getBuiltinModule(${JSON.stringify(specifier)}));`
      : `const $module = process.getBuiltinModule(${JSON.stringify(specifier)}); const $builtin = () => $module;`,
    'const $read = (name) => $builtin()[name];',
    ...names.map(value),
    `export { ${names.map((name, i) => `$${i} as ${name}`).join(', ')} };`,
    // A default import reads the built-in's properties when it uses them.
    onFirstCall ? 'export default new Proxy({}, { get: (_, name) => $builtin()[name] });' : 'export default $module;',
  ].join('\n');
}

const builtinsWithoutFacades = {
  name: 'builtins-without-facades',
  setup(bundle) {
    bundle.onResolve({ filter: /^node:/ }, ({ path, kind }) => (kind === 'import-statement' ? { path, namespace: 'node-builtin' } : undefined));
    bundle.onLoad({ filter: /.*/, namespace: 'node-builtin' }, async ({ path }) => ({ contents: await builtinModule(path), loader: 'js' }));
  },
};

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: entries,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node26',
  alias: { punycode: 'punycode/' },
  external: ['piscina'],
  outdir: out,
  entryNames: '[name]',
  outExtension: { '.js': ext },
  logLevel: 'warning',
  banner: { js: "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);" },
  plugins: [builtinsWithoutFacades],
});
