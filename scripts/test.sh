#!/usr/bin/env bash
# The whole test run: unit specs (real TLS, in-process) on this machine's node and on each maintained Node.js line
# (scripts/node-lines.sh), then the end-to-end specs and the
# conformance suite against a real etcd + kube-apiserver 1.37 and again against 1.20 (installed and cached
# by scripts/control-plane/install.sh). Prints one closing `N passed, N failed` line for all of it.
set -uo pipefail
cd "$(dirname "$0")/.."

summary=$(mktemp)
export KDA_SUMMARY_FILE="$summary"
status=0

# Unit specs under c8: coverage summary printed here, lcov written to coverage/.
npx c8 mocha || status=1

# The same unit specs on each maintained Node.js line (22, 24, 26); KDA_SKIP_NODE_LINES=1 skips them.
if [ "${KDA_SKIP_NODE_LINES:-${KDA_SKIP_SECOND_RUNTIME:-}}" != "1" ]; then
  bash scripts/node-lines.sh || status=1
fi

# End-to-end specs + conformance suite (spec/e2e/conformance.spec.ts), once per Kubernetes release:
# KDA_KUBERNETES_VERSION picks one (1.37 or 1.20); unset, both run, current first.
versions="${KDA_KUBERNETES_VERSION:-1.37 1.20}"
current="${versions%% *}"
# Specs that test the package and its speed, not the Kubernetes release (they build the tarball, run the benchmark):
# against the first release of the run only, said in the log; KDA_E2E_EVERY_RELEASE=1 runs them on each.
current_only=(spec/e2e/pack-install.spec.ts spec/e2e/bench-quick.spec.ts)
if [ "${KDA_SKIP_E2E:-}" = "1" ]; then
  echo "KDA_SKIP_E2E=1: end-to-end suite not run" >&2
else
  for v in $versions; do
    # A log of this run's own: runs at the same time (CI and a developer's, two worktrees) must not write one file.
    install_log=$(mktemp "${TMPDIR:-/tmp}/kda-control-plane-install-$v.XXXXXX")
    echo "== end-to-end + conformance against Kubernetes $v (install log: $install_log)"
    t0=$SECONDS
    if bin=$(KDA_KUBERNETES_VERSION=$v bash scripts/control-plane/install.sh 2>"$install_log" | tail -1); then
      echo "   control plane ready in $((SECONDS - t0)) s: $("$bin/kube-apiserver" --version) ($bin)"
      rm -f "$install_log"
      ignore=()
      if [ "$v" != "$current" ] && [ "${KDA_E2E_EVERY_RELEASE:-}" != "1" ]; then
        for f in "${current_only[@]}"; do ignore+=(--ignore "$f"); done
        echo "   ${current_only[*]}: run against Kubernetes $current only (release-independent; KDA_E2E_EVERY_RELEASE=1 runs them here too)"
      fi
      KDA_KUBERNETES_VERSION=$v npx mocha --config .mocharc.e2e.json "${ignore[@]}" || status=1
      echo "== Kubernetes $v: end-to-end + conformance done in $((SECONDS - t0)) s"
    else
      echo "control-plane install for Kubernetes $v failed; see $install_log" >&2
      tail -30 "$install_log" >&2
      echo '{"passed":0,"failed":1,"skipped":0}' >>"$summary"
      status=1
    fi
  done
fi

node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
const t = lines.reduce((a, l) => ({ p: a.p + l.passed, f: a.f + l.failed, s: a.s + l.skipped }), { p: 0, f: 0, s: 0 });
console.log("");
console.log(`${t.p} passed, ${t.f} failed` + (t.s ? `, ${t.s} skipped` : ""));
' "$summary"
rm -f "$summary"
exit $status
