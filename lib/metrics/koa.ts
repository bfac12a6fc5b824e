import type { Middleware } from 'koa';
import type { KdaMetrics } from './metrics.js';

export interface MetricsEndpointOptions {
  /** The path served. Default `/metrics` (a non-resource path, authorized like any other: `get` on `/metrics`). */
  readonly path?: string;
}

/**
 * Koa middleware answering `GET`/`HEAD <path>` with the Prometheus exposition of `metrics`; other requests pass on.
 * Mount it after `authorize()`: scraping is authorized like any non-resource path (Go serves /metrics the same way,
 * and Prometheus' service account gets `get` on `nonResourceURLs: ["/metrics"]`).
 */
export function metricsEndpoint(metrics: KdaMetrics, options: MetricsEndpointOptions = {}): Middleware {
  const path = options.path ?? '/metrics';
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError('"path" must start with /');
  return async function metricsEndpoint(ctx, next) {
    if (ctx.path !== path || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const body = await metrics.metrics();
    ctx.status = 200;
    ctx.set('content-type', metrics.contentType);
    ctx.body = body;
  };
}
