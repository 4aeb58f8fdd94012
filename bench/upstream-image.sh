#!/usr/bin/env bash
# Builds upstream Multus's thick image from its source, for the benches' side-by-side rows
# (BENCH_UPSTREAM_IMAGE): its multus-daemon, multus-shim and thin multus binaries, built with
# Debian's Go from the source's own vendor/ (no network beyond Debian's archive), at the paths
# upstream's image has them (/usr/src/multus-cni/bin), on the Debian bookworm rootfs that
# scripts/build-image.sh makes (run that first: upstream's v4.1.4 manifest needs `cp` for its init
# container). Not part of CI: upstream's source is not in this repository.
#
#   bash bench/upstream-image.sh --src <upstream checkout at v4.1.4> [--out <file.oci.tar>]
#
# e.g. with a bare mirror: git --git-dir=<mirror> archive v4.1.4 | tar x -C /tmp/upstream-src
# Writes the archive (default .image/upstream-multus-amd64.oci.tar) and leaves the binaries in
# <out dir>/upstream-bin (the thin bench can time upstream's thin `multus` from there).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

src=
out=$root/.image/upstream-multus-amd64.oci.tar
while (($#)); do
  case $1 in
    --src) src=${2:?--src needs the upstream source dir}; shift 2 ;;
    --out) out=${2:?--out needs a file}; shift 2 ;;
    *) echo "usage: bash bench/upstream-image.sh --src <dir> [--out <file.oci.tar>]" >&2; exit 2 ;;
  esac
done
[[ -f $src/go.mod && -d $src/vendor && -d $src/cmd/multus-daemon ]] || { echo "upstream-image: $src is not upstream Multus's source with its vendor/ (v4.1.x has one)" >&2; exit 2; }
say() { echo "upstream-image: $*"; }

state=$root/.image
rootfs=$state/rootfs-bookworm-amd64.tar
[[ -s $rootfs ]] || { say "no $rootfs: run scripts/build-image.sh first"; exit 2; }

# v4.1.4's go.mod asks for Go 1.21; bookworm's own Go is 1.19, its backports have newer ones.
go=$(ls -d /usr/lib/go-1.2[1-9]/bin/go 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z $go ]]; then
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding Debian's bookworm-backports suite to apt's sources (for its Go)"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > /etc/apt/sources.list.d/bookworm-backports.sources
  fi
  say "installing golang-1.22-go from bookworm-backports"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports golang-1.22-go >/dev/null
  go=/usr/lib/go-1.22/bin/go
fi

bin=$(dirname "$out")/upstream-bin
mkdir -p "$bin"
# The API stand-in (test/apiserver) speaks JSON only. Upstream's client asks for protobuf and gets
# JSON answers (client-go decodes what comes), but sends its writes (the pod status update, events)
# as protobuf, which the stand-in refuses: the build gives it JSON for those (a go build -overlay of
# its kubeconfig.go; the source tree is not touched). The content type is all that changes.
kubeconfig_go=$src/pkg/k8sclient/kubeconfig.go
grep -q 'ContentType = "application/vnd.kubernetes.protobuf"' "$kubeconfig_go" || { say "$kubeconfig_go does not set the protobuf content type where v4.1.4 does"; exit 2; }
overlay=$state/upstream-overlay
mkdir -p "$overlay"
sed 's|ContentType\( *[:=] *\)"application/vnd.kubernetes.protobuf"|ContentType\1"application/json"|' "$kubeconfig_go" > "$overlay/kubeconfig.go"
printf '{"Replace":{"%s":"%s"}}\n' "$kubeconfig_go" "$overlay/kubeconfig.go" > "$overlay/overlay.json"
say "building upstream's binaries with $($go version | cut -d' ' -f3)"
(cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=vendor GOTOOLCHAIN=local GOCACHE=$state/go-cache GOPATH=$state/go-path \
  "$go" build -overlay "$overlay/overlay.json" -o "$bin/" ./cmd/multus-daemon ./cmd/multus-shim ./cmd/multus)

# The buildah storage scripts/build-image.sh chose (overlay, or vfs where overlay is unavailable).
driver=overlay
bh() { buildah --root "$state/storage-$driver" --runroot "$state/run-$driver" --storage-driver "$driver" "$@"; }
bh images >/dev/null 2>&1 || driver=vfs
tag=localhost/upstream-multus:bench
c=$(bh from --arch amd64 scratch)
bh add "$c" "$rootfs" / >/dev/null
bh copy "$c" "$bin/multus-daemon" "$bin/multus-shim" "$bin/multus" /usr/src/multus-cni/bin/ >/dev/null
bh config --arch amd64 --os linux --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --entrypoint '["/usr/src/multus-cni/bin/multus-daemon"]' "$c"
bh commit --quiet --rm "$c" "$tag" >/dev/null
rm -f "$out"
bh push --quiet "$tag" "oci-archive:$out:$tag" >/dev/null
say "wrote $out ($(du -h "$out" | cut -f1)); binaries in $bin"
