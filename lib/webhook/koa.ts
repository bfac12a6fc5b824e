import type { IncomingMessage } from 'node:http';
import type { ReviewWebhook } from './token-review-webhook.js';

/**
 * The part of a Koa context {@link reviewWebhookMiddleware} uses. Written out instead of importing Koa's types, so the
 * declarations of `kube-delegated-auth/webhook` compile without `koa`/`@types/koa` installed (Koa is an optional peer:
 * a node:http user's `tsc` with `skipLibCheck: false` failed with TS2307). A Koa context is one.
 */
export interface ReviewWebhookContext {
  readonly path: string;
  readonly req: IncomingMessage;
  status: number;
  body: unknown;
  set(headers: Record<string, string>): void;
}

export interface ReviewWebhookMiddlewareOptions {
  /** Only requests to exactly this path are answered; others go to `next`. Default: every request. */
  readonly path?: string;
}

/**
 * Mounts a TokenReview/SubjectAccessReview webhook handler in Koa. It reads the raw request stream, so it must run
 * before any body parser (a consumed body is answered with 500 naming the cause).
 */
export function reviewWebhookMiddleware(webhook: ReviewWebhook, options: ReviewWebhookMiddlewareOptions = {}) {
  if (!webhook || typeof webhook.handle !== 'function') throw new TypeError('webhook must have a handle() method');
  const { path } = options;
  return async function reviewWebhook(ctx: ReviewWebhookContext, next: () => Promise<unknown>): Promise<void> {
    if (path !== undefined && ctx.path !== path) {
      await next();
      return;
    }
    const res = await webhook.handle(ctx.req);
    ctx.status = res.status;
    // Headers first: Koa keeps an existing Content-Type when a string body is assigned.
    ctx.set(res.headers);
    ctx.body = res.body;
  };
}
