#!/usr/bin/env bash
# Builds the multus-ts image from the Dockerfile, unchanged, with buildah (no Docker daemon), on
# a machine that reaches no container registry, only Debian's archive and the npm registry. The
# Dockerfile's bases are made here first, as local stand-ins under the names its FROM lines use:
#   docker.io/library/debian:bookworm          a minbase rootfs from Debian's archive (mmdebstrap,
#                                              with this machine's apt sources, plus libatomic1)
#   docker.io/library/node:26-bookworm(-slim)  that rootfs plus the official Node.js binary and
#                                              npm (scripts/install-node.sh: pinned, SHA-512 checked)
# The stand-ins are for building on machines like this one. Users build the same Dockerfile with
# `docker buildx` against the official images.
#
#   usage: bash scripts/build-image.sh [--arch amd64|arm64] [--out <file.oci.tar>] [--tag <name>]
#
# Prints the build time and the image's size (and what it adds on top of its base), and writes
# the image as an OCI archive (default: .image/multus-ts-<arch>.oci.tar) for `ctr images import`.
# State lives in .image/ (git-ignored): buildah's storage, the rootfs and Node for each
# architecture, kept between runs so that a second build only rebuilds what changed. An arm64
# build on an x86_64 machine needs qemu-user-static: a binfmt handler is registered for the build
# only and always removed afterwards.
# Env: MULTUS_IMAGE_APT_SOURCES (apt sources for the rootfs; default this machine's Debian ones).
# Exit status 3: this machine cannot build images at all (buildah or mmdebstrap not installable,
# no usable container storage, no qemu for a foreign architecture); any other failure is 1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

arch=$(dpkg --print-architecture)
tag=localhost/multus-ts:dev
out=
while (($#)); do
  case $1 in
    --arch) arch=${2:?--arch needs amd64 or arm64}; shift 2 ;;
    --out) out=${2:?--out needs a file}; shift 2 ;;
    --tag) tag=${2:?--tag needs an image name}; shift 2 ;;
    *) echo "usage: bash scripts/build-image.sh [--arch amd64|arm64] [--out <file.oci.tar>] [--tag <name>]" >&2; exit 2 ;;
  esac
done
case $arch in
  amd64) node_arch=x64 ;;
  arm64) node_arch=arm64 ;;
  *) echo "build-image: unsupported architecture $arch (amd64 or arm64)" >&2; exit 2 ;;
esac
state=$root/.image
out=${out:-$state/multus-ts-$arch.oci.tar}
major=$(sed -n 's/^NODE_VERSION=\([0-9]*\)\..*/\1/p' scripts/install-node.sh)
started=$(date +%s)
say() { echo "build-image: $*"; }

# --- tools ------------------------------------------------------------------------------------
needed=(buildah mmdebstrap)
[[ $arch != "$(dpkg --print-architecture)" ]] && needed+=(qemu-user-static arch-test)
missing=()
for pkg in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
cannot() {
  say "cannot build images on this machine: $*"
  exit 3
}
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
    cannot "installing ${missing[*]} failed"
fi

# buildah with private storage: nothing of the machine's own container state is touched. overlay
# is much faster than vfs (which copies every layer); vfs is the fallback where overlay fails.
mkdir -p "$state"
driver=overlay
bh() { buildah --root "$state/storage-$driver" --runroot "$state/run-$driver" --storage-driver "$driver" "$@"; }
if ! bh images >/dev/null 2>&1; then
  driver=vfs
  say "overlay storage unavailable here; using vfs (slower)"
  bh images >/dev/null 2>&1 || cannot "buildah has no usable storage (overlay or vfs) under $state"
fi

# --- emulation for a foreign architecture -------------------------------------------------------
binfmt=/proc/sys/fs/binfmt_misc
handler=
cleanup() {
  if [[ -n $handler && -e $binfmt/$handler ]]; then echo -1 > "$binfmt/$handler"; fi
}
trap cleanup EXIT
if [[ $arch == arm64 && $(uname -m) != aarch64 ]]; then
  [[ -e $binfmt/register ]] || mount -t binfmt_misc binfmt_misc "$binfmt"
  if [[ ! -e $binfmt/qemu-aarch64 ]]; then
    # The handler Debian ships (flags F: the interpreter is opened now, so it works in chroots).
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [[ -f $conf ]] || cannot "no $conf from qemu-user-static"
    cat "$conf" > "$binfmt/register"
    handler=qemu-aarch64
    say "registered the qemu-aarch64 binfmt handler for this build (removed at exit)"
  fi
fi

# --- stand-in bases -----------------------------------------------------------------------------
sources=${MULTUS_IMAGE_APT_SOURCES:-}
if [[ -z $sources ]]; then
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -s $f ]] && { sources=$f; break; }
  done
fi
[[ -n $sources ]] || { say "no apt sources found; set MULTUS_IMAGE_APT_SOURCES"; exit 1; }
rootfs=$state/rootfs-bookworm-$arch.tar
if [[ ! -s $rootfs ]]; then
  say "making a Debian bookworm minbase rootfs ($arch) with the apt sources of $sources"
  # libatomic1: Node.js >= 24 links it, and the official node images carry it.
  mmdebstrap --quiet --variant=minbase --mode=root --architectures="$arch" --include=libatomic1 bookworm "$rootfs.tmp.tar" "$sources"
  mv "$rootfs.tmp.tar" "$rootfs"
fi
node_prefix=$state/node-$major-$arch
if [[ ! -x $node_prefix/bin/node ]]; then
  bash scripts/install-node.sh --prefix "$node_prefix" --arch "$node_arch"
fi

# commit_base <name> <extra layer dir or ''>: scratch + the rootfs (+ /usr/local from the dir).
commit_base() {
  local c
  c=$(bh from --arch "$arch" scratch)
  bh add "$c" "$rootfs" / >/dev/null
  [[ -n $2 ]] && bh add "$c" "$2" /usr/local >/dev/null
  bh config --arch "$arch" --os linux --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["bash"]' "$c"
  [[ -n $2 ]] && bh config --cmd '["node"]' "$c"
  bh commit --quiet --rm "$c" "$1" >/dev/null
}
say "committing the stand-in bases"
commit_base docker.io/library/debian:bookworm ''
commit_base "docker.io/library/node:$major-bookworm" "$node_prefix"
bh tag "docker.io/library/node:$major-bookworm" "docker.io/library/node:$major-bookworm-slim"

# --- the real Dockerfile --------------------------------------------------------------------------
# HTTPS from RUN steps goes through whatever this machine trusts: its CA bundle and an npmrc
# naming it are mounted for the build only, so the image itself carries neither.
npmrc=$state/npmrc
echo "cafile=/etc/ssl/certs/ca-certificates.crt" > "$npmrc"
say "building the Dockerfile for linux/$arch"
bud_started=$(date +%s)
# runc's state for the RUN steps under $state too (its default root, /run/runc, would stay behind).
bh bud --quiet --network host --pull-never --force-rm --layers \
  --runtime-flag "root=$state/runc" \
  --platform "linux/$arch" --build-arg "TARGETARCH=$arch" \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -v "$npmrc:/usr/local/etc/npmrc:ro" \
  -t "$tag" -f Dockerfile . >/dev/null
bud_seconds=$(($(date +%s) - bud_started))

mkdir -p "$(dirname "$out")"
rm -f "$out"
bh push --quiet "$tag" "oci-archive:$out:$tag" >/dev/null

# Uncompressed sizes, as `buildah images` reports them: the image, and its runtime base.
image_size=$(bh images --noheading --format '{{.Size}}' "$tag" | sed -n 1p)
base_size=$(bh images --noheading --format '{{.Size}}' "docker.io/library/node:$major-bookworm-slim" | sed -n 1p)
say "built $tag ($arch) in $(($(date +%s) - started)) s (the Dockerfile: $bud_seconds s): $image_size, on a base of $base_size"
say "wrote $out ($(du -h "$out" | cut -f1))"
