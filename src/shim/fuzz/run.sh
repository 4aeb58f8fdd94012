#!/bin/sh
# Build the libFuzzer harness (clang, Debian's clang + libclang-rt-14-dev) with ASan and UBSan,
# and fuzz the shim's input handling for a bounded time, starting from the corpus kept in the
# repository (new interesting inputs go to a scratch dir; crashes are written under it).
# Usage: sh src/shim/fuzz/run.sh [seconds]   (default 60)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-60}
work=$(mktemp -d /tmp/multus-shim-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -DMULTUS_SHIM_VERSION='"fuzz"' -o "$work/fuzz-input" "$here/fuzz-input.c"
mkdir -p "$work/corpus" "$work/crashes"
cp "$here"/corpus/* "$work/corpus/"
"$work/fuzz-input" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$work/crashes/" "$work/corpus" 2>&1 | tail -n 5
if [ -n "$(ls -A "$work/crashes")" ]; then
  echo "fuzz: crashes found:" >&2
  ls "$work/crashes" >&2
  cp -r "$work/crashes" "$here/crashes-$(date +%s)"
  exit 1
fi
echo "fuzz: no crash in ${seconds}s"
