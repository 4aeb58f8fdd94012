#!/bin/sh
# Builds the static multus-shim binary (or, given its source, the passthru plugin).
#   usage: sh src/shim/build.sh <output-path> [source.c, default multus-shim.c]
# Honours $CC (default cc) and extra $CFLAGS. The version embedded in the binary
# is package.json's "version", read with sed so that no node is needed (the
# shim is built in minimal C toolchain images too).
set -eu

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ] || [ -z "$1" ]; then
    echo "usage: sh src/shim/build.sh <output-path> [source.c]" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source=${2:-$here/multus-shim.c}
cc=${CC:-cc}

# The first "version" key in package.json is the top-level one (npm writes it
# near the top). Only characters valid in a semver survive, so the value can
# never break out of the C string literal.
version=$(sed -n 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$root/package.json" | head -n 1 | tr -cd 'A-Za-z0-9.+-')
[ -n "$version" ] || version=unknown

flags="-std=c11 -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
-fstack-clash-protection -Wformat -Wformat-security -Wl,-z,relro,-z,now -s"

# Prefer a static PIE (ASLR for a binary that runs as root on every node);
# fall back to a plain static binary when the toolchain cannot link one.
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT INT TERM
printf 'int main(void){return 0;}\n' >"$probe_dir/p.c"
# shellcheck disable=SC2086 # $flags is a list of words on purpose
if $cc $flags -fPIE -static-pie -o "$probe_dir/p" "$probe_dir/p.c" >/dev/null 2>&1; then
    link="-fPIE -static-pie"
else
    link="-static"
fi

mkdir -p "$(dirname "$out")"
# Build next to the target, then rename: a concurrent reader (another test
# worker, a running daemon install) never sees a half-written binary.
tmp="$out.tmp.$$"
# shellcheck disable=SC2086
if ! $cc $flags $link ${CFLAGS:-} "-DMULTUS_SHIM_VERSION=\"$version\"" -o "$tmp" "$source"; then
    rm -f "$tmp"
    exit 1
fi
mv -f "$tmp" "$out"
echo "built $out ($(basename "$source" .c) $version, $link)"
