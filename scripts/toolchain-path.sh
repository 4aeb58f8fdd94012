# Sourced (`source scripts/toolchain-path.sh`, from the repository root or anywhere): puts the
# project's Node.js, .toolchain/bin (made by scripts/install-node.sh), first on PATH, so `node`,
# `npm` and every script, test and bench run on the pinned line.
PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.toolchain/bin:$PATH"
export PATH
