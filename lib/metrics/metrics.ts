// `createMetrics()`: the Prometheus registry of a delegated-auth server, composed of the per-request metrics fed by
// diagnostics channels (request-metrics.ts), the review-call metrics (review-metrics.ts) and the scrape-time mirrors
// of the caches and trust sources (scrape-mirrors.ts).
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { SubjectAccessReview, SubjectAccessReviewClient } from '../authz/interfaces.js';
import type { TokenCacheStats } from '../authn/token-cache.js';
import type { SubjectAccessReviewAuthorizerStats } from '../authz/subject-access-review.js';
import type { CABundleProvider, TrustStatus } from '../trust/interfaces.js';
import { channelNames } from '../diagnostics.js';
import { subscribeRequestMetrics } from './request-metrics.js';
import { reviewRequestMetrics } from './review-metrics.js';
import { registerScrapeMirrors, type ScrapeSources } from './scrape-mirrors.js';

/** The diagnostics_channel names subscribed here, declared once in lib/diagnostics (re-exported for compatibility). */
export { channelNames };
export { compressUsername, type AuthenticationEventLike, type AuthorizationEventLike } from './request-metrics.js';

/** The TokenReview client shape of lib/cluster (`tokenReviewClient`). */
export interface TokenReviewClientLike<Spec, Status> {
  create(spec: Spec, signal?: AbortSignal): Promise<Status>;
}

/** Sources read at scrape time; each may be given more than once across `instrument()` calls (values add up). */
export interface InstrumentTargets {
  /** `cachedTokenAuthenticator(...)` / `delegatedTokenAuthenticator(...)`: Go's `authentication_token_cache_*`. */
  readonly tokenCache?: { stats(): TokenCacheStats };
  /** The SubjectAccessReview authorizer (or `newDelegatingAuthorizer`): decision cache and single-flight counters. */
  readonly authorizer?: { stats(): SubjectAccessReviewAuthorizerStats | undefined };
  /** A trust source with `status()` (the cluster ConfigMap source): loaded, age and last error per source name. */
  readonly trustSource?: { status(): readonly TrustStatus[] };
  /** Plain CA bundle providers (e.g. file bundles in standalone mode): loaded or not, by provider name. */
  readonly caProviders?: readonly CABundleProvider[];
}

export interface CreateMetricsOptions {
  /** Registry to register into. Default: a new one owned by this object (the prom-client global is never touched). */
  readonly registry?: Registry;
  /** Also collect prom-client's process metrics (RSS, heap, event-loop lag) into the registry. Default false. */
  readonly defaultMetrics?: boolean;
  /** Time source for trust-source ages, ms since epoch. Default `Date.now`. */
  readonly clock?: { now(): number };
}

export interface KdaMetrics {
  readonly registry: Registry;
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** Exposition text of the registry. */
  metrics(): Promise<string>;
  /** Adds sources read at scrape time. Returns a function that removes them again. */
  instrument(targets: InstrumentTargets): () => void;
  /** Wraps a TokenReview client so each call counts in `apiserver_delegated_authn_request_*` (Go: every attempt). */
  instrumentTokenReviewClient<S, R>(client: TokenReviewClientLike<S, R>): TokenReviewClientLike<S, R>;
  /** Wraps a SubjectAccessReview client so each call counts in `apiserver_delegated_authz_request_*`. */
  instrumentSubjectAccessReviewClient(client: SubjectAccessReviewClient): SubjectAccessReviewClient;
  /** Hook form for `TokenReviewAuthenticatorOptions.onRequest`: one TokenReview call, `code` = HTTP status or `<error>`. */
  readonly onTokenReviewRequest: (code: string, durationMs: number) => void;
  /** Hook form of the SubjectAccessReview request metrics (same labels). */
  readonly onSubjectAccessReviewRequest: (code: string, durationMs: number) => void;
  /** Stops listening on the diagnostics channels and drops the sources. Idempotent. */
  close(): Promise<void>;
}

/**
 * Prometheus metrics for a delegated-auth server, with Go's names where Go has them (k8s.io/apiserver) and a
 * `kube_delegated_auth_` prefix for the rest. Per-request figures arrive through diagnostics_channel (nothing is
 * paid on the request path when nobody subscribes); cache and trust figures are read from `stats()`/`status()`
 * at scrape time. The constructor does no I/O.
 */
export function createMetrics(options: CreateMetricsOptions = {}): KdaMetrics {
  const registry = options.registry ?? new Registry();
  const clock = options.clock ?? { now: Date.now };
  const registers = [registry];
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });

  const sources: ScrapeSources = {
    tokenCaches: new Set(),
    authorizers: new Set(),
    trustSources: new Set(),
    caProviders: new Set(),
  };
  const { tokenCaches, authorizers, trustSources, caProviders } = sources;
  const { authnRequests, authnRequestDuration, authzRequests, authzRequestDuration, timed } =
    reviewRequestMetrics(registers);
  registerScrapeMirrors(registers, sources, clock);
  const unsubscribeRequestMetrics = subscribeRequestMetrics(registers, clock);

  let closed = false;
  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    instrument(t) {
      if (t.tokenCache) tokenCaches.add(t.tokenCache);
      if (t.authorizer) authorizers.add(t.authorizer);
      if (t.trustSource) trustSources.add(t.trustSource);
      for (const p of t.caProviders ?? []) caProviders.add(p);
      return () => {
        if (t.tokenCache) tokenCaches.delete(t.tokenCache);
        if (t.authorizer) authorizers.delete(t.authorizer);
        if (t.trustSource) trustSources.delete(t.trustSource);
        for (const p of t.caProviders ?? []) caProviders.delete(p);
      };
    },
    instrumentTokenReviewClient(client) {
      // kube-apiserver answers a created review with 201; Go labels it with that status.
      return {
        create: (spec, signal) => timed(authnRequests, authnRequestDuration, () => client.create(spec, signal)),
      };
    },
    instrumentSubjectAccessReviewClient(client) {
      return {
        create: (sar: SubjectAccessReview, signal?: AbortSignal) =>
          timed(authzRequests, authzRequestDuration, () => client.create(sar, signal)),
      };
    },
    onTokenReviewRequest(code, durationMs) {
      authnRequests.inc({ code });
      authnRequestDuration.observe({ code }, durationMs / 1000);
    },
    onSubjectAccessReviewRequest(code, durationMs) {
      authzRequests.inc({ code });
      authzRequestDuration.observe({ code }, durationMs / 1000);
    },
    async close() {
      if (closed) return;
      closed = true;
      unsubscribeRequestMetrics();
      tokenCaches.clear();
      authorizers.clear();
      trustSources.clear();
      caProviders.clear();
    },
  };
}
