// The one shape every block of kube-delegated-auth/apiserver answers in: a function from the request's method, URL and
// headers to an HttpResponse, or undefined for "not mine". node:http's IncomingMessage, Express's req, Fastify's
// request and Koa's ctx.req all have these three fields, so the blocks need no adapter and import no framework.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { writeNodeResponse } from '../http/respond.js';
import type { HttpResponse } from '../http/status.js';

export type { HttpResponse } from '../http/status.js';

/** What a block reads of a request: node:http's `req`, Express's `req`, Fastify's `request`, Koa's `ctx.req`. */
export interface BlockRequest {
  /** Default GET. */
  readonly method?: string | undefined;
  /** Path and query as sent (`/readyz?verbose&exclude=etcd`). */
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** A block: the response for a request it serves, undefined for a path it does not serve (the caller goes on). */
export type BlockHandler = (request: BlockRequest) => HttpResponse | undefined | Promise<HttpResponse | undefined>;

/** The path and query of a request URL (the URL is relative, as servers receive it). */
export function splitUrl(url: string | undefined): { readonly path: string; readonly query: URLSearchParams } {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q < 0
    ? { path: raw, query: new URLSearchParams() }
    : { path: raw.slice(0, q), query: new URLSearchParams(raw.slice(q + 1)) };
}

/** The first block's answer (in order), or undefined when none serves the request. */
export function firstBlock(...blocks: readonly BlockHandler[]): BlockHandler {
  return async (request) => {
    for (const block of blocks) {
      const response = await block(request);
      if (response !== undefined) return response;
    }
    return undefined;
  };
}

/**
 * The blocks as a node:http handler step: writes the first block's answer and resolves true, or resolves false
 * without touching `res` so the caller serves the request itself (e.g. after `withDelegatedAuth`).
 */
export function serveBlocks(
  ...blocks: readonly BlockHandler[]
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const first = firstBlock(...blocks);
  return async (req, res) => {
    const response = await first(req);
    if (response === undefined) return false;
    writeNodeResponse(res, response);
    return true;
  };
}
