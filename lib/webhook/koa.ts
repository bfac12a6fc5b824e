import type { Context, Next } from 'koa';
import type { ReviewWebhook } from './token-review-webhook.js';

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
  return async function reviewWebhook(ctx: Context, next: Next): Promise<void> {
    if (path !== undefined && ctx.path !== path) return next();
    const res = await webhook.handle(ctx.req);
    ctx.status = res.status;
    // Headers first: Koa keeps an existing Content-Type when a string body is assigned.
    ctx.set(res.headers);
    ctx.body = res.body;
  };
}
