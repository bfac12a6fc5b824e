import type { KdaMetrics } from './metrics.js';

/**
 * The part of a Koa context {@link metricsEndpoint} uses. Written out instead of importing Koa's types, so the
 * declarations of `kube-delegated-auth/metrics` compile without `koa`/`@types/koa` installed (Koa is an optional peer:
 * an Express or node:http user's `tsc` with `skipLibCheck: false` failed with TS2307). A Koa context is one.
 */
export interface MetricsEndpointContext {
  readonly path: string;
  readonly method: string;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
}

/** A Koa middleware (`app.use()` takes it) over {@link MetricsEndpointContext}. */
export type MetricsEndpointMiddleware = (ctx: MetricsEndpointContext, next: () => Promise<unknown>) => Promise<void>;

export interface MetricsEndpointOptions {
  /** The path served. Default `/metrics` (a non-resource path, authorized like any other: `get` on `/metrics`). */
  readonly path?: string;
}

/**
 * Koa middleware answering `GET`/`HEAD <path>` with the Prometheus exposition of `metrics`; other requests pass on.
 * Mount it after `authorize()`: scraping is authorized like any non-resource path (Go serves /metrics the same way,
 * and Prometheus' service account gets `get` on `nonResourceURLs: ["/metrics"]`).
 */
export function metricsEndpoint(metrics: KdaMetrics, options: MetricsEndpointOptions = {}): MetricsEndpointMiddleware {
  const path = options.path ?? '/metrics';
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError('"path" must start with /');
  return async function metricsEndpoint(ctx, next) {
    if (ctx.path !== path || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) {
      await next();
      return;
    }
    const body = await metrics.metrics();
    ctx.status = 200;
    ctx.set('content-type', metrics.contentType);
    ctx.body = body;
  };
}
