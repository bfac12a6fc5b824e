#!/usr/bin/env bash
# Installs what the end-to-end tests need: etcd and Go from Debian, and kube-apiserver
# (plus the Go sample-apiserver, for comparisons) built from Debian's `kubernetes` source
# package. Binaries are cached outside the checkout and rebuilt only when missing.
#
#   KDA_CACHE_DIR   cache root (default: ~/.cache/kube-delegated-auth)
#
# Prints the bin directory on its last line.
set -euo pipefail

CACHE="${KDA_CACHE_DIR:-$HOME/.cache/kube-delegated-auth}"
BIN="$CACHE/bin"
SRC="$CACHE/src"
mkdir -p "$BIN" "$SRC"

log() { echo "[control-plane] $*" >&2; }

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

apt_install etcd-server
[ -x "$BIN/etcd" ] || ln -sf /usr/bin/etcd "$BIN/etcd"

if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/sample-apiserver" ]; then
  log "kube-apiserver and sample-apiserver cached in $BIN"
  echo "$BIN"
  exit 0
fi

# One build at a time (test.sh, `npm run cluster -- up` and a developer may all get here); whoever waited
# finds the binaries built.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.install.lock"
  if ! flock -n 9; then
    log "another install is running; waiting for it"
    flock 9
  fi
  if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/sample-apiserver" ]; then
    log "kube-apiserver and sample-apiserver cached in $BIN"
    echo "$BIN"
    exit 0
  fi
fi

apt_install golang-go rsync make dpkg-dev

# deb-src entry for the same archive as the existing deb entry.
if ! ls /etc/apt/sources.list.d/ 2>/dev/null | grep -q '^kda-src.sources$'; then
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  uri=${uri:-http://deb.debian.org/debian}
  cat > /etc/apt/sources.list.d/kda-src.sources <<SRC
Types: deb-src
URIs: $uri
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_updated=0
fi

TREE="$SRC/kubernetes"
if [ ! -f "$TREE/Makefile" ]; then
  log "fetching Debian's kubernetes source package"
  if [ $apt_updated -eq 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2; apt_updated=1; fi
  dl="$SRC/dl"; rm -rf "$dl"; mkdir -p "$dl"
  (cd "$dl" && apt-get source --download-only kubernetes >&2)
  orig=$(ls "$dl"/kubernetes_*.orig.tar.* | head -1)
  rm -rf "$TREE.tmp"; mkdir -p "$TREE.tmp"
  tar -xf "$orig" -C "$TREE.tmp" --strip-components=1
  mv "$TREE.tmp" "$TREE"
  rm -rf "$dl"
fi

log "building kube-apiserver (about 4 minutes on 2 cores)"
mkdir -p "$TREE/.go/src/k8s.io"
ln -sfn "$TREE" "$TREE/.go/src/k8s.io/kubernetes"
cd "$TREE/.go/src/k8s.io/kubernetes"
export GOPATH="$TREE/.go" GO111MODULE=off CGO_ENABLED=0 GOFLAGS= GOCACHE="$CACHE/gocache"
if [ ! -x "$BIN/kube-apiserver" ]; then
  make WHAT=cmd/kube-apiserver >&2
  cp _output/bin/kube-apiserver "$BIN/kube-apiserver.tmp" && mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
fi
if [ ! -x "$BIN/sample-apiserver" ]; then
  make WHAT=vendor/k8s.io/sample-apiserver >&2
  cp _output/bin/sample-apiserver "$BIN/sample-apiserver.tmp" && mv "$BIN/sample-apiserver.tmp" "$BIN/sample-apiserver"
fi
"$BIN/kube-apiserver" --version >&2
log "built into $BIN"
echo "$BIN"
