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
app.use((ctx) => {
  ctx.type = 'application/json';
  ctx.body = trivialBody;
});
serve(createServer(tlsOptions(cfg), app.callback()));
