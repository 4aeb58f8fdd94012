#!/usr/bin/env bash
# Quick start, command 1: install what is needed, build, and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/toolchain-path.sh
npm run demo
