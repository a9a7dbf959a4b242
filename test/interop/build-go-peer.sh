#!/usr/bin/env bash
# Build the Go interop peers against Debian packages, in GOPATH mode (GO111MODULE=off, no
# network):
#   test/interop/go-peer/muxado-peer         raw muxado v1 (golang-github-inconshreveable-muxado-dev, f693c7e)
#   test/interop/go-libp2p-peer/libp2p-peer  a minimal libp2p peer on the same muxado, with Noise
#                                            from golang-github-flynn-noise-dev (not go-libp2p)
#
# Installs nothing. Prerequisites (CI installs them via apt):
#   apt-get install -y golang-go golang-github-inconshreveable-muxado-dev \
#     golang-github-flynn-noise-dev golang-golang-x-crypto-dev
#
# Usage: test/interop/build-go-peer.sh   (from any directory)
set -euo pipefail

die() { echo "build-go-peer: ERROR: $*" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg=golang-github-inconshreveable-muxado-dev

command -v go >/dev/null 2>&1 ||
  die "'go' not found in PATH. Install it: apt-get install -y golang-go"
command -v dpkg >/dev/null 2>&1 ||
  die "'dpkg' not found: the muxado library is located through the Debian package $pkg"

# .../gocode/src/github.com/inconshreveable/muxado -> .../gocode
muxdir="$(dpkg -L "$pkg" 2>/dev/null | grep -m1 '/src/github\.com/inconshreveable/muxado$' || true)"
[ -n "$muxdir" ] ||
  die "Debian package $pkg is not installed. Install it: apt-get install -y $pkg"
[ -f "$muxdir/client.go" ] ||
  die "$pkg is registered but $muxdir/client.go is missing (broken install?)"
gopath="${muxdir%/src/github.com/inconshreveable/muxado}"
for dep in golang-github-flynn-noise-dev:github.com/flynn/noise golang-golang-x-crypto-dev:golang.org/x/crypto; do
  [ -d "$gopath/src/${dep#*:}" ] ||
    die "Debian package ${dep%%:*} is not installed. Install it: apt-get install -y ${dep%%:*}"
done

export GO111MODULE=off GOPATH="$gopath" GOFLAGS= CGO_ENABLED=0
# Keep the build cache writable even if HOME is not.
if [ -z "${GOCACHE:-}" ]; then
  cache_home="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}"
  if ! mkdir -p "$cache_home/go-build" 2>/dev/null; then cache_home="${TMPDIR:-/tmp}"; fi
  export GOCACHE="$cache_home/go-build"
fi

echo "build-go-peer: $(go version); GOPATH=$GOPATH" >&2
for program in go-peer/muxado-peer go-libp2p-peer/libp2p-peer; do
  src="$here/${program%/*}"
  out="$here/$program"
  (cd "$src" && go vet . && go build -o "$out" .) || die "building $program failed"
  echo "build-go-peer: built $out" >&2
done
