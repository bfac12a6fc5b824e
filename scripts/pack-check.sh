#!/usr/bin/env bash
# Packs the library, installs the tarball into an empty project (production dependencies only) and checks that
# every public entry point imports (with the optional framework peers a user adds), that the root entry loads no heavy
# dependency, and that the `kube-delegated-auth` bin runs.
set -euo pipefail
cd "$(dirname "$0")/.."
probe="$PWD/spec/architecture/loaded-packages.mjs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tgz=$(npm pack --silent --pack-destination "$work" 2>/dev/null | tail -1)
cd "$work"
npm init -y >/dev/null 2>&1
npm pkg set type=module >/dev/null
npm install --no-audit --no-fund --omit=dev "./$tgz" >/dev/null 2>&1
# The root entry, before any framework is installed: contracts and core only.
root=$(node "$probe" "$work/node_modules/kube-delegated-auth/dist/index.js")
for heavy in @kubernetes/client-node pino node-forge koa prom-client express fastify; do
  if echo "$root" | grep -q "\"$heavy\""; then echo "pack-check: the root entry loads $heavy: $root" >&2; exit 1; fi
done
echo "pack-check: the root entry loads none of client-node, pino, node-forge, koa, prom-client, express, fastify"
# Without koa, `serve` (a Koa app) says what to install in one line, exit 1, no stack.
if out=$(npx --no-install kube-delegated-auth serve --secure-port 0 2>&1); then
  echo "pack-check: serve without koa exited 0" >&2; exit 1
fi
if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] || ! printf '%s' "$out" | grep -q 'npm install koa'; then
  echo "pack-check: serve without koa did not print the one install line: $out" >&2; exit 1
fi
echo "pack-check: serve without koa: $out"
# koa, express and fastify are optional peers: a user installs the one they use.
npm install --no-audit --no-fund --omit=dev koa express fastify >/dev/null 2>&1
node --input-type=module -e '
const entries = ["", "/cluster", "/server", "/pino", "/dev-pki", "/startup", "/koa", "/express", "/fastify", "/node-http",
  "/webhook", "/doctor", "/metrics", "/apiserver"].map((s) => "kube-delegated-auth" + s);
for (const e of entries) {
  const m = await import(e);
  if (Object.keys(m).length === 0) throw new Error(`${e} exports nothing`);
}
const { delegatedAuth } = await import("kube-delegated-auth/koa");
if (typeof delegatedAuth !== "function") throw new Error("delegatedAuth missing");
console.log(`pack-check: ${entries.length} entry points import from the installed tarball`);
'
npx --no-install kube-delegated-auth --help | head -1
version=$(npx --no-install kube-delegated-auth --version)
test "$version" = "kube-delegated-auth $(node -p 'require("./node_modules/kube-delegated-auth/package.json").version')"
npx --no-install kube-delegated-auth certs --dir "$work/certs" >/dev/null
test -s "$work/certs/front-proxy-client.crt"
for command in serve doctor webhook conformance; do
  npx --no-install kube-delegated-auth "$command" --help >/dev/null
done
echo "pack-check: bin runs ($version: --help of every command, certs)"
