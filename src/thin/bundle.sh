#!/bin/sh
# Bundles the thin plugin (dist/thin/multus.js and everything it imports, client-node
# included) into a few ES modules, so each CNI call loads a handful of files instead of
# resolving and reading ~900: measured 720 -> 170 ms for the Kubernetes client alone.
# --splitting keeps the dynamically imported parts (the Kubernetes client, grpc-js) in chunks of
# their own: VERSION, DEL, CHECK, STATUS and GC never load them. CommonJS dependencies call
# require(); the banner gives every chunk one.
#   usage: sh src/thin/bundle.sh <output-dir>
set -eu
if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: sh src/thin/bundle.sh <output-dir>" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$1"
exec "$root/node_modules/.bin/esbuild" "$root/dist/thin/multus.js" \
    --bundle --splitting --format=esm --platform=node --target=node20 \
    --outdir="$1" --out-extension:.js=.mjs --log-level=warning \
    --banner:js="import { createRequire as __multusCreateRequire } from 'node:module'; const require = __multusCreateRequire(import.meta.url);"
