#!/bin/sh
# Bundles built entry points (and everything they import, @kubernetes/client-node included)
# into a few ES modules in <out-dir>, each entry named after itself (multus.js -> multus.mjs;
# with --js, main.js -> main.js). Loading ~900 files of client-node one by one is what costs,
# in time and in memory:
#   - the thin plugin, a process per CNI call: importing the Kubernetes client 720 -> 170 ms;
#   - the daemon's kube worker thread: idle daemon RSS 135 -> 115 MiB;
#   - the image (src/image-app.sh): no node_modules but piscina's.
# --splitting keeps dynamically imported parts (the thin plugin's Kubernetes client, grpc-js) in
# chunks of their own, loaded only when used. CommonJS dependencies call require(); the banner
# gives every chunk one. client-node 1.x (through node-fetch's whatwg-url) requires Node's
# deprecated `punycode`, which prints DEP0040 on stderr from Node 22 on: the alias bundles the
# userland package of the same API instead. piscina stays external: it starts its threads from
# a script file of its own (node_modules/piscina/dist/worker.js), found beside its index.
# Every output lands in <out-dir> itself, so paths a module builds from import.meta.url
# ('../thin-bundle/', './delegate.worker.js') mean the same bundled as in dist/.
#   usage: sh src/bundle.sh [--js] <out-dir> <built entry .js>...
set -eu
ext=.mjs
if [ "${1:-}" = --js ]; then
    ext=.js
    shift
fi
if [ "$#" -lt 2 ] || [ -z "$1" ]; then
    echo "usage: sh src/bundle.sh [--js] <out-dir> <built entry .js>..." >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
shift
rm -rf "$out"
exec "$root/node_modules/.bin/esbuild" "$@" \
    --bundle --splitting --format=esm --platform=node --target=node26 --alias:punycode=punycode/ \
    --external:piscina --outdir="$out" --entry-names='[name]' --out-extension:.js="$ext" --log-level=warning \
    --banner:js="import { createRequire as __multusCreateRequire } from 'node:module'; const require = __multusCreateRequire(import.meta.url);"
