// Baseline the 0.85x target is measured against: Koa 3 with the shared TLS setup and the same trivial handler.
import { createServer } from 'node:https';
import Koa from 'koa';
import { readConfig, serve, tlsOptions, trivialBody } from './child.js';

const cfg = readConfig();
const app = new Koa();
app.silent = true;
app.use((ctx) => {
  ctx.type = 'application/json';
  ctx.body = trivialBody;
});
serve(createServer(tlsOptions(cfg), app.callback()));
