#!/bin/sh
# Bundles one built entry point (and everything it imports, @kubernetes/client-node included)
# into a few ES modules in <out-dir>, named after the entry (multus.js -> multus.mjs). Loading
# ~900 files of client-node one by one is what costs, in time and in memory:
#   - the thin plugin, a process per CNI call: importing the Kubernetes client 720 -> 170 ms;
#   - the daemon's kube worker thread: idle daemon RSS 135 -> 115 MiB.
# --splitting keeps dynamically imported parts (the thin plugin's Kubernetes client, grpc-js) in
# chunks of their own, loaded only when used. CommonJS dependencies call require(); the banner
# gives every chunk one. client-node 1.x (through node-fetch's whatwg-url) requires Node's
# deprecated `punycode`, which prints DEP0040 on stderr from Node 22 on: the alias bundles the
# userland package of the same API instead.
#   usage: sh src/bundle.sh <built entry .js> <out-dir>
set -eu
if [ "$#" -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
    echo "usage: sh src/bundle.sh <built entry .js> <out-dir>" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$2"
exec "$root/node_modules/.bin/esbuild" "$1" \
    --bundle --splitting --format=esm --platform=node --target=node26 --alias:punycode=punycode/ \
    --outdir="$2" --out-extension:.js=.mjs --log-level=warning \
    --banner:js="import { createRequire as __multusCreateRequire } from 'node:module'; const require = __multusCreateRequire(import.meta.url);"
