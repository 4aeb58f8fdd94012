#!/bin/sh
# Lays out what the image ships under /usr/src/multus-ts, from a built tree (npm run build:ts &&
# npm run build:bundles), in <out-dir>:
#   package.json                 (the version, and engines for the Node.js line check)
#   node_modules/piscina         (external to the bundles: see src/bundle.mjs)
#   dist/supervisor/main.js      the daemon with every dependency bundled, and beside it the
#                                delegate pool's thread (delegate.worker.js) and the shared chunks
#   dist/kube-bundle, dist/thin-bundle
# The shim and passthru (dist/bin) are the caller's to add: the Dockerfile cross-compiles them.
# Every other dependency is inside the bundles, so the production node_modules (client-node
# alone is 57 MB) stays out of the image.
#   usage: sh src/image-app.sh <out-dir>
set -eu
if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: sh src/image-app.sh <out-dir>" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
rm -rf "$out"
mkdir -p "$out/node_modules" "$out/dist"
cp "$root/package.json" "$out/"
cp -R "$root/node_modules/piscina" "$out/node_modules/"
node "$root/src/bundle.mjs" --js "$out/dist/supervisor" "$root/dist/supervisor/main.js" "$root/dist/workers/delegate.worker.js"
cp -R "$root/dist/kube-bundle" "$root/dist/thin-bundle" "$out/dist/"
