// Child-process probe for spec/architecture/root-entry.spec.ts: imports the module named on the command line (then
// runs the optional `--then` expression against it) and prints, as JSON, every package under node_modules that was
// loaded, from both module systems: ESM resolutions seen by a loader resolve hook (module.register) and CommonJS files
// in require.cache (CommonJS packages loaded by require, and ESM packages loaded through require(esm)).
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const hooks = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage(r.url);
  return r;
}`;
const { port1, port2 } = new MessageChannel();
const resolved = [];
port1.on('message', (url) => resolved.push(url));
register('data:text/javascript,' + encodeURIComponent(hooks), import.meta.url, {
  data: { port: port2 },
  transferList: [port2],
});

const [target, then] = process.argv.slice(2);
const mod = await import(pathToFileURL(target).href);
if (then) await new Function('m', `return (async () => { ${then} })()`)(mod);
// Messages arrive in order: once the sentinel's resolution is seen, every earlier one has been delivered.
const sentinel = 'node:sea';
await import(sentinel).catch(() => undefined);
await new Promise((resolve) => {
  const check = () => {
    if (!resolved.includes(sentinel)) return;
    port1.off('message', check);
    resolve();
  };
  port1.on('message', check); // after the listener that records, so `check` sees the message it is woken by
  check();
});
port1.close();

const required = Object.keys(createRequire(import.meta.url).cache);
const packages = new Set();
for (const f of [...resolved, ...required]) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(decodeURIComponent(f));
  if (m) packages.add(m[1]);
}
process.stdout.write(JSON.stringify([...packages].sort()));
