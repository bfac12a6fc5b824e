// Baseline the 0.85x target is measured against: Koa 3 with the shared TLS setup and the same trivial handler.
import { createServer } from 'node:https';
import Koa from 'koa';
import { readConfig, serve, tlsOptions, trivialBody } from './child.js';

const cfg = readConfig();
const app = new Koa();
app.silent = true;
// Profiling aid: BENCH_AWAIT=microtask|immediate adds one await before the handler (is async itself the cost?).
const pause = process.env.BENCH_AWAIT;
if (pause === 'microtask')
  app.use(async (_ctx, next) => {
    await Promise.resolve();
    await next();
  });
if (pause === 'immediate')
  app.use(async (_ctx, next) => {
    await new Promise((r) => setImmediate(r));
    await next();
  });
// Profiling aid: BENCH_BURN_US=<µs> busy-waits in the handler (does the per-write kernel cost depend on the rate?).
const burnUs = Number(process.env.BENCH_BURN_US ?? 0);
app.use((ctx) => {
  if (burnUs > 0) {
    const until = process.hrtime.bigint() + BigInt(burnUs * 1000);
    while (process.hrtime.bigint() < until);
  }
  ctx.type = 'application/json';
  ctx.body = trivialBody;
});
serve(createServer(tlsOptions(cfg), app.callback()));
