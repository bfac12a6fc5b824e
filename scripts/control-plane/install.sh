#!/usr/bin/env bash
# Installs the control plane the end-to-end tests, the conformance suite, `npm run cluster` and the benchmarks run
# against, for ONE Kubernetes minor, and caches it outside the checkout. Rebuilt only when missing; concurrent runs
# of the same version wait for each other (flock).
#
#   KDA_KUBERNETES_VERSION  1.37 (default) or 1.20
#   KDA_CACHE_DIR           cache root (default: ~/.cache/kube-delegated-auth)
#
# 1.37: kube-apiserver v1.37.2, kubectl v1.37.2 and the Go sample-apiserver v0.37.2 built from Go modules pinned by
#       harness/go/kubernetes/go.mod (+ go.sum), etcd v3.6.16 from harness/go/etcd/go.mod. Go toolchain: the go on
#       PATH (>= 1.26); modules from the Go module proxy.
# 1.20: kube-apiserver v1.20.2 and the Go sample-apiserver built from Debian's `kubernetes` source package with
#       Debian's own Go (golang-go, 1.19: newer Go toolchains refuse that tree), etcd 3.4 from Debian.
#
# Cache layout (<cache> = KDA_CACHE_DIR):
#   <cache>/k8s-<version>/bin/   etcd, kube-apiserver, sample-apiserver (+ kubectl for 1.37)
#   <cache>/k8s-1.20.2/src/      Debian's source tree (1.20 only)
#   <cache>/go/mod, <cache>/go/build   GOMODCACHE and GOCACHE for these builds (a warm machine downloads nothing)
# A cache made before the per-version layout (<cache>/bin, <cache>/src: 1.20.2) is reused through symlinks.
#
# Prints the bin directory on its last line.
set -euo pipefail

MINOR="${KDA_KUBERNETES_VERSION:-1.37}"
case "$MINOR" in
  1.37) VERSION=1.37.2 ;;
  1.20) VERSION=1.20.2 ;;
  *)
    echo "[control-plane] KDA_KUBERNETES_VERSION=$MINOR is not supported; use 1.37 or 1.20" >&2
    exit 2
    ;;
esac

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${KDA_CACHE_DIR:-$HOME/.cache/kube-delegated-auth}"
DIR="$CACHE/k8s-$VERSION"
BIN="$DIR/bin"
mkdir -p "$CACHE"

log() { echo "[control-plane] $*" >&2; }
die() {
  echo "[control-plane] $*" >&2
  exit 1
}

# Before the per-version layout, 1.20.2 lived in <cache>/bin and <cache>/src: keep using them (no copy, no move: a
# run of the old script may be using them right now). The old script built with whatever go came first on PATH (on
# some machines Go 1.26, whose 1.20.2 build also passed the whole e2e suite); the log says which.
if [ "$VERSION" = 1.20.2 ] && [ ! -e "$DIR" ] && { [ -d "$CACHE/bin" ] || [ -d "$CACHE/src" ]; }; then
  mkdir -p "$DIR" "$CACHE/bin" "$CACHE/src"
  ln -sfn ../bin "$DIR/bin"
  ln -sfn ../src "$DIR/src"
  log "reusing the 1.20.2 cache in $CACHE/bin and $CACHE/src"
fi
mkdir -p "$BIN"

WANT=(etcd kube-apiserver sample-apiserver)
# The specs' kubectl, for both releases: v1.37.2 from Go modules (the machine's own kubectl may be anything).
KUBECTL="$CACHE/k8s-1.37.2/bin/kubectl"
all_built() {
  local n
  for n in "${WANT[@]}"; do [ -x "$BIN/$n" ] || return 1; done
  [ -x "$KUBECTL" ]
}
done_here() {
  "$BIN/kube-apiserver" --version >&2
  command -v go >/dev/null 2>&1 && log "kube-apiserver built with $(go version "$BIN/kube-apiserver" 2>/dev/null | awk '{print $2}')"
  echo "$BIN"
  exit 0
}
if all_built; then
  log "Kubernetes $VERSION cached in $BIN"
  done_here
fi

# One build per version at a time (test.sh, `npm run cluster -- up` and a developer may all get here); whoever
# waited finds the binaries built. 1.20.2 keeps the lock name the old script used.
lock="$CACHE/.install-k8s-$VERSION.lock"
[ "$VERSION" = 1.20.2 ] && lock="$CACHE/.install.lock"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$lock"
  if ! flock -n 9; then
    log "another install of Kubernetes $VERSION is running; waiting for it"
    flock 9
  fi
  if all_built; then
    log "Kubernetes $VERSION cached in $BIN"
    done_here
  fi
fi

apt_updated=0
apt_update() {
  [ $apt_updated -eq 1 ] && return 0
  log "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 ||
    die "apt-get update failed: Debian's package archive cannot be reached (see the lines above); retry when it can"
  apt_updated=1
}
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt_update
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed (see the lines above)"
}

# ---------------------------------------------------------------------------------------------------------------
# Go modules (1.37 binaries, and kubectl for both releases).
modules_ready=0
modules_setup() {
  [ $modules_ready -eq 1 ] && return 0
  command -v go >/dev/null 2>&1 || die "go not found on PATH: Kubernetes 1.37.2 and kubectl are built with Go >= 1.26"
  local gov
  gov=$(go env GOVERSION)
  case "$gov" in
    go1.2[6-9]* | go1.[3-9]*) ;;
    *) die "$(command -v go) is $gov; Kubernetes 1.37.2 and kubectl need Go >= 1.26 first on PATH" ;;
  esac
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" CGO_ENABLED=0
  # Exact versions from go.mod/go.sum only: a build never edits them.
  export GOFLAGS="-buildvcs=false -mod=readonly"
  LDFLAGS="-s -w"
  local p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDFLAGS="$LDFLAGS -X $p.gitVersion=v1.37.2 -X $p.gitMajor=1 -X $p.gitMinor=37 -X $p.gitTreeState=clean"
    LDFLAGS="$LDFLAGS -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  local mod
  for mod in etcd kubernetes; do
    log "downloading the modules of harness/go/$mod (Go module proxy; once per machine)"
    (cd "$REPO/harness/go/$mod" && go mod download >&2) ||
      die "go mod download failed for harness/go/$mod: the Go module proxy ($(go env GOPROXY)) cannot be reached or refused a module (see the lines above); retry when it can"
  done
  modules_ready=1
}
build_one() { # output path, module dir, package, ldflags
  [ -x "$1" ] && return 0
  modules_setup
  local t0=$SECONDS name
  name=$(basename "$1")
  mkdir -p "$(dirname "$1")"
  log "building $name ($3)"
  (cd "$REPO/harness/go/$2" && nice go build -trimpath -ldflags "$4" -o "$1.tmp.$$" "$3" >&2) ||
    die "building $name failed (see the lines above)"
  mv "$1.tmp.$$" "$1"
  log "built $name in $((SECONDS - t0)) s"
}
build_from_modules() {
  modules_setup
  build_one "$BIN/etcd" etcd go.etcd.io/etcd/server/v3 "-s -w"
  build_one "$BIN/kube-apiserver" kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$LDFLAGS"
  build_one "$BIN/sample-apiserver" kubernetes k8s.io/sample-apiserver "$LDFLAGS"
}
build_kubectl() {
  [ -x "$KUBECTL" ] && return 0
  modules_setup
  build_one "$KUBECTL" kubernetes k8s.io/kubernetes/cmd/kubectl "$LDFLAGS"
}

# ---------------------------------------------------------------------------------------------------------------
# 1.20: Debian's source package, Debian's Go.
build_from_debian() {
  apt_install etcd-server
  [ -x "$BIN/etcd" ] || ln -sf /usr/bin/etcd "$BIN/etcd"
  apt_install golang-go rsync make dpkg-dev
  local src="$DIR/src"
  mkdir -p "$src"

  # deb-src entry for the same archive as the existing deb entry.
  if ! ls /etc/apt/sources.list.d/ 2>/dev/null | grep -q '^kda-src.sources$'; then
    local uri
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    uri=${uri:-http://deb.debian.org/debian}
    cat >/etc/apt/sources.list.d/kda-src.sources <<SRC
Types: deb-src
URIs: $uri
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_updated=0
  fi

  local tree="$src/kubernetes"
  if [ ! -f "$tree/Makefile" ]; then
    log "fetching Debian's kubernetes source package"
    apt_update
    local dl="$src/dl"
    rm -rf "$dl"
    mkdir -p "$dl"
    (cd "$dl" && apt-get source --download-only kubernetes >&2) ||
      die "apt-get source kubernetes failed: Debian's package archive cannot be reached (see the lines above); retry when it can"
    local orig
    orig=$(ls "$dl"/kubernetes_*.orig.tar.* | head -1)
    rm -rf "$tree.tmp"
    mkdir -p "$tree.tmp"
    tar -xf "$orig" -C "$tree.tmp" --strip-components=1
    mv "$tree.tmp" "$tree"
    rm -rf "$dl"
  fi

  # Debian's Go (1.19) first on PATH: this GOPATH-mode tree does not build with newer toolchains (linkname
  # restrictions, removed GOPATH defaults), whatever go the machine puts first.
  local debgo=/usr/lib/go/bin
  [ -x "$debgo/go" ] || die "$debgo/go missing after installing golang-go"
  export PATH="$debgo:$PATH"
  log "building kube-apiserver $VERSION with $(go version) (about 5 minutes on 2 cores)"
  mkdir -p "$tree/.go/src/k8s.io"
  ln -sfn "$tree" "$tree/.go/src/k8s.io/kubernetes"
  cd "$tree/.go/src/k8s.io/kubernetes"
  export GOPATH="$tree/.go" GO111MODULE=off CGO_ENABLED=0 GOFLAGS= GOCACHE="$CACHE/go/build-debian" GOTOOLCHAIN=local
  if [ ! -x "$BIN/kube-apiserver" ]; then
    make WHAT=cmd/kube-apiserver >&2 || die "building kube-apiserver $VERSION failed (see the lines above)"
    cp _output/bin/kube-apiserver "$BIN/kube-apiserver.tmp" && mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
  fi
  if [ ! -x "$BIN/sample-apiserver" ]; then
    make WHAT=vendor/k8s.io/sample-apiserver >&2 || die "building sample-apiserver $VERSION failed (see the lines above)"
    cp _output/bin/sample-apiserver "$BIN/sample-apiserver.tmp" && mv "$BIN/sample-apiserver.tmp" "$BIN/sample-apiserver"
  fi
}

t0=$SECONDS
if [ "$VERSION" = 1.37.2 ]; then build_from_modules; else (build_from_debian); fi
build_kubectl
log "Kubernetes $VERSION built into $BIN in $((SECONDS - t0)) s"
done_here
