#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine (whatever its own Node.js), as
# root: the project's Node.js line at .toolchain/bin (scripts/install-node.sh), Debian's CNI
# plugins, iproute2 and a C toolchain (the shim is static C), containerd + runc (the end-to-end
# suite, test/e2e, runs pods through a private containerd with the CRI plugin), the openssl CLI
# (a test checks the per-node CSR with `openssl req -verify`), qemu-user-static and an arm64
# cross compiler with arm64 runtime libraries (test/arm64 runs the image's arm64 parts under
# emulation), then npm packages.
# Idempotent: a second run installs nothing. Callers put .toolchain/bin first on PATH
# (scripts/toolchain-path.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-node.sh
source scripts/toolchain-path.sh

missing=()
for pkg in containernetworking-plugins iproute2 gcc libc6-dev clang libclang-rt-14-dev containerd runc openssl \
  qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstdc++6-arm64-cross libatomic1-arm64-cross; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node_modules is reinstalled when the lock file changed or another Node.js installed it.
installed_by=node_modules/.installed-by-node
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ||
      $(cat "$installed_by" 2>/dev/null) != "$(node --version)" ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  node --version > "$installed_by"
fi
