#!/usr/bin/env bash
# Packs the library, installs the tarball into an empty project (production dependencies only) and checks that
# every public entry point imports and that the `kube-delegated-auth` bin runs.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tgz=$(npm pack --silent --pack-destination "$work" 2>/dev/null | tail -1)
cd "$work"
npm init -y >/dev/null 2>&1
npm pkg set type=module >/dev/null
npm install --no-audit --no-fund --omit=dev "./$tgz" >/dev/null 2>&1
node --input-type=module -e '
const entries = ["kube-delegated-auth", "kube-delegated-auth/koa", "kube-delegated-auth/webhook",
  "kube-delegated-auth/node-http", "kube-delegated-auth/doctor", "kube-delegated-auth/metrics"];
for (const e of entries) {
  const m = await import(e);
  if (Object.keys(m).length === 0) throw new Error(`${e} exports nothing`);
}
const { delegatedAuth } = await import("kube-delegated-auth/koa");
if (typeof delegatedAuth !== "function") throw new Error("delegatedAuth missing");
console.log(`pack-check: ${entries.length} entry points import from the installed tarball`);
'
npx --no-install kube-delegated-auth --help | head -1
npx --no-install kube-delegated-auth certs --dir "$work/certs" >/dev/null
test -s "$work/certs/front-proxy-client.crt"
echo "pack-check: bin runs (help, certs)"
