// kube-delegated-auth/apiserver's blocks in Koa, Express and Fastify: each block takes anything with method, url and
// headers and answers an HttpResponse (or undefined: not its path), written here without framework defaults (no
// added ETag, charset or HTML). Mount them after your delegatedAuth middleware, as Go's handler chain authenticates
// and authorizes first (/healthz, /livez, /readyz are always allowed). docs/apiserver.md shows them in place.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type Koa from 'koa';
import type { Express } from 'express';
import {
  discoveryEndpoints,
  firstBlock,
  healthEndpoints,
  openApiEndpoints,
  type HttpResponse,
} from 'kube-delegated-auth/apiserver';
import { widgetsApi } from './widgets-api.js';

export const blocks = firstBlock(healthEndpoints(), discoveryEndpoints([widgetsApi]), openApiEndpoints([widgetsApi]));

function write(res: ServerResponse, r: HttpResponse): void {
  res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
  res.end(r.body);
}

/** Koa: a middleware; unanswered requests go on to your routes. */
export function mountOnKoa(app: Koa): void {
  app.use(async (ctx, next) => {
    const r = await blocks(ctx.req);
    if (!r) return next();
    ctx.respond = false; // written as is: Koa would set its own content-type for a string body
    write(ctx.res, r);
  });
}

/** Express (4 and 5): a middleware; unanswered requests go on to your routes. */
export function mountOnExpress(app: Express): void {
  app.use((req, res, next) => {
    Promise.resolve(blocks(req)).then((r) => (r ? write(res, r) : next()), next);
  });
}

/** Fastify (4 and 5): an onRequest hook; unanswered requests go on to your routes. */
export function mountOnFastify(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const r = await blocks(request.raw);
    if (!r) return;
    reply.hijack(); // written as is: Fastify's send() would add "; charset=utf-8" to application/json
    write(reply.raw, r);
  });
}
