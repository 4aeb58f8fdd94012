#!/usr/bin/env bash
# Puts the project's Node.js line at .toolchain/bin/node (and npm, npx beside it), the Node that
# every script, test, bench and CI step runs (they put .toolchain/bin first on PATH).
#   - The machine's own `node` is used (symlinked) when it is of the pinned major and at least
#     the pinned version.
#   - Otherwise the official binary is taken from the npm registry package node-linux-<arch> at
#     the exact pinned version, its tarball checked against the pinned SHA-512, and npm (also
#     pinned and checked) is unpacked beside it. Fetching needs some npm: the machine's, or
#     Debian's `npm` package installed for the purpose.
# Idempotent: a toolchain that already answers the pinned version is left alone.
# Called by scripts/setup.sh; runs as root on a fresh Debian 12 machine.
#   usage: bash scripts/install-node.sh
#          bash scripts/install-node.sh --prefix <dir> --arch x64|arm64
# The second form always unpacks the pinned official build for that architecture into <dir>
# (bin/node, bin/npm, lib/node_modules/npm: /usr/local's layout), never the machine's Node: for
# the image's stand-in bases (scripts/build-image.sh) and the arm64 checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned line. Changing it: the version here, the SHA-512s (hex of the registry's
# `dist.integrity`), package.json `engines` (which the daemon checks: src/supervisor/node-line.ts),
# the Dockerfile's FROM lines, src/bundle.mjs's target, @types/node (test/supervisor/node-line.test.ts
# checks they agree).
NODE_VERSION=26.12.1
declare -A NODE_SHA512=(
  [x64]=8e4e4b3009a01e53e53cc5a9b14ad23aa35a1191bed7550d777e61590fa9e7f5c669e956b93a89ebd21c032ff9c6d3cf37877965104d38607a80b30287690bf4
  [arm64]=f0ec6ce98eeb0dc2ae7d520cff36114b0cad8f8e963ab664ef21422d328372cd7b6c18c0783f47300aa8f7b84c7cccb1a3322e7744b8bd90ace5607fde26af35
)
NPM_VERSION=11.19.1
NPM_SHA512=cedb312b1b7f92421a02cfb68b4194e88f8346651dacd6acc5364a25ef5309d4a32b19616a1ff8aff865e7280c0fa5c0835a99f5cd93368991e2a80ec9da75d2

toolchain=$PWD/.toolchain
major=${NODE_VERSION%%.*}
prefix=
arch=
while (($#)); do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --arch) arch=${2:?--arch needs x64 or arm64}; shift 2 ;;
    *) echo "usage: bash scripts/install-node.sh [--prefix <dir> --arch x64|arm64]" >&2; exit 2 ;;
  esac
done

# True when $1 is a Node binary of the pinned major, at least the pinned version.
fits() {
  "$1" -e '
    const [want, have] = [process.argv[1], process.versions.node].map((v) => v.split(".").map(Number));
    process.exit(have[0] === want[0] && (have[1] > want[1] || (have[1] === want[1] && have[2] >= want[2])) ? 0 : 1);
  ' "$NODE_VERSION" 2>/dev/null
}

if [[ -z $prefix ]]; then
  if [[ -x $toolchain/bin/node ]] && fits "$toolchain/bin/node" && [[ -x $toolchain/bin/npm ]]; then
    exit 0
  fi
  rm -rf "$toolchain"
  mkdir -p "$toolchain/bin"
  system_node=$(command -v node || true)
  if [[ -n $system_node ]] && fits "$system_node" && command -v npm >/dev/null; then
    echo "setup: using this machine's Node.js $("$system_node" --version) ($system_node)"
    ln -s "$system_node" "$toolchain/bin/node"
    ln -s "$(command -v npm)" "$toolchain/bin/npm"
    ln -s "$(command -v npx)" "$toolchain/bin/npx"
    exit 0
  fi
  prefix=$toolchain
  case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "setup: no official Node.js $major build for $(uname -m)" >&2; exit 1 ;;
  esac
fi
[[ -n ${NODE_SHA512[$arch]:-} ]] || { echo "setup: no pinned Node.js build for architecture ${arch:-(none)}; use --arch x64 or arm64" >&2; exit 2; }
if ! command -v npm >/dev/null; then
  echo "setup: installing Debian's npm, only to fetch Node.js $NODE_VERSION"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# fetch <package@version> <sha512 hex>: the package's tarball in $scratch, checked, unpacked.
fetch() {
  local tarball
  tarball=$(cd "$scratch" && npm pack --silent "$1" | tail -n 1)
  if [[ $(sha512sum "$scratch/$tarball" | cut -d' ' -f1) != "$2" ]]; then
    echo "setup: $1 does not match its pinned SHA-512; refusing to install it" >&2
    exit 1
  fi
  mkdir -p "$scratch/${1%@*}"
  tar -xzf "$scratch/$tarball" -C "$scratch/${1%@*}" --strip-components=1
}
# Node.js >= 24 links libatomic.so.1, which a minimal Debian lacks.
if [[ $prefix == "$toolchain" ]] && ! dpkg-query -W -f='${Status}' libatomic1 2>/dev/null | grep -q 'install ok installed'; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libatomic1 >/dev/null
fi
echo "setup: installing Node.js $NODE_VERSION ($arch) and npm $NPM_VERSION into $prefix"
fetch "node-linux-$arch@$NODE_VERSION" "${NODE_SHA512[$arch]}"
fetch "npm@$NPM_VERSION" "$NPM_SHA512"
mkdir -p "$prefix/bin" "$prefix/lib/node_modules"
install -m 0755 "$scratch/node-linux-$arch/bin/node" "$prefix/bin/node"
rm -rf "$prefix/lib/node_modules/npm"
mv "$scratch/npm" "$prefix/lib/node_modules/npm"
ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$prefix/bin/npm"
ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$prefix/bin/npx"
if [[ $prefix == "$toolchain" ]]; then
  fits "$toolchain/bin/node" || { echo "setup: the installed Node.js does not run" >&2; exit 1; }
  echo "setup: $("$toolchain/bin/node" --version) at .toolchain/bin/node"
fi
