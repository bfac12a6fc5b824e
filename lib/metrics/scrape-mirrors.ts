// Metrics read at scrape time from the stack's own bookkeeping (Go's authentication_token_cache_* and the library's
// SubjectAccessReview cache and trust-source figures): counters and gauges reset and refilled from `stats()`/`status()`
// on every collection, so nothing is counted on the request path.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TokenCacheStats } from '../authn/token-cache.js';
import type { SubjectAccessReviewAuthorizerStats } from '../authz/subject-access-review.js';
import type { CABundleProvider, TrustStatus } from '../trust/interfaces.js';

/** The sources read at scrape time; `createMetrics().instrument()` adds to and removes from these sets. */
export interface ScrapeSources {
  readonly tokenCaches: Set<{ stats(): TokenCacheStats }>;
  readonly authorizers: Set<{ stats(): SubjectAccessReviewAuthorizerStats | undefined }>;
  readonly trustSources: Set<{ status(): readonly TrustStatus[] }>;
  readonly caProviders: Set<CABundleProvider>;
}

/** Registers the scrape-time mirrors of `sources` in `registers`. */
export function registerScrapeMirrors(registers: Registry[], sources: ScrapeSources, clock: { now(): number }): void {
  const { tokenCaches, authorizers, trustSources, caProviders } = sources;
  const sum = <T>(items: Iterable<T>, pick: (t: T) => number | undefined): number => {
    let n = 0;
    for (const t of items) n += pick(t) ?? 0;
    return n;
  };
  // Counters that mirror monotonically growing stats: reset and re-add at scrape time.
  const mirrorCounter = (
    name: string,
    help: string,
    labels: readonly string[],
    read: () => readonly (readonly [Record<string, string>, number])[],
  ) =>
    new Counter({
      name,
      help,
      labelNames: labels,
      registers,
      collect(this: Counter) {
        this.reset();
        for (const [l, v] of read()) this.inc(l, v);
      },
    });
  const mirrorGauge = (
    name: string,
    help: string,
    labels: readonly string[],
    read: () => readonly (readonly [Record<string, string>, number])[],
  ) =>
    new Gauge({
      name,
      help,
      labelNames: labels,
      registers,
      collect(this: Gauge) {
        this.reset();
        for (const [l, v] of read()) this.set(l, v);
      },
    });

  const tokenStats = () => [...tokenCaches].map((c) => c.stats());
  mirrorCounter('authentication_token_cache_request_total', 'Number of token cache requests.', ['status'], () => {
    const s = tokenStats();
    return [
      [{ status: 'hit' }, sum(s, (x) => x.hits)],
      [{ status: 'miss' }, sum(s, (x) => x.misses)],
    ];
  });
  mirrorCounter('authentication_token_cache_fetch_total', 'Number of token cache fetches.', ['status'], () => {
    const s = tokenStats();
    return [
      [{ status: 'ok' }, sum(s, (x) => x.fetchOk)],
      [{ status: 'error' }, sum(s, (x) => x.fetchError)],
    ];
  });
  mirrorGauge(
    'authentication_token_cache_active_fetch_count',
    'Number of in-flight token cache fetches and callers blocked on them.',
    ['status'],
    () => {
      const s = tokenStats();
      return [
        [{ status: 'in_flight' }, sum(s, (x) => x.inFlight)],
        [{ status: 'blocked' }, sum(s, (x) => x.blocked)],
      ];
    },
  );

  const authzStats = () =>
    [...authorizers].map((a) => a.stats()).filter((s): s is SubjectAccessReviewAuthorizerStats => s !== undefined);
  const authzCounter = (suffix: string, help: string, pick: (s: SubjectAccessReviewAuthorizerStats) => number) =>
    mirrorCounter(`kube_delegated_auth_${suffix}`, help, [], () => [[{}, sum(authzStats(), pick)]]);
  authzCounter('authz_cache_hits_total', 'SubjectAccessReview decisions answered from the cache.', (s) => s.hits);
  authzCounter('authz_cache_misses_total', 'SubjectAccessReview lookups not answered from the cache.', (s) => s.misses);
  authzCounter(
    'authz_cache_evictions_total',
    'SubjectAccessReview cache entries pushed out by the size bound.',
    (s) => s.evictions,
  );
  authzCounter(
    'authz_singleflight_joins_total',
    'Authorizations that joined an identical SubjectAccessReview already in flight.',
    (s) => s.joins,
  );
  authzCounter(
    'authz_stale_if_error_served_total',
    'Failed SubjectAccessReviews answered from an expired allowed decision (stale-if-error).',
    (s) => s.staleServed,
  );
  authzCounter(
    'authz_review_failures_total',
    'SubjectAccessReviews that failed after retries (a shared failure counts once).',
    (s) => s.failures,
  );
  mirrorGauge('kube_delegated_auth_authz_cache_entries', 'SubjectAccessReview decisions held in the cache.', [], () => [
    [{}, sum(authzStats(), (s) => s.size)],
  ]);
  mirrorGauge('kube_delegated_auth_authz_reviews_in_flight', 'Distinct SubjectAccessReviews in flight.', [], () => [
    [{}, sum(authzStats(), (s) => s.inFlight)],
  ]);
  mirrorGauge('kube_delegated_auth_token_cache_entries', 'TokenReview results held in the token cache.', [], () => [
    [{}, sum(tokenStats(), (s) => s.size)],
  ]);

  const trustStatuses = (): TrustStatus[] => {
    const out: TrustStatus[] = [];
    for (const t of trustSources) out.push(...t.status());
    for (const p of caProviders) out.push({ name: p.name, loaded: p.current() !== undefined });
    return out;
  };
  mirrorGauge(
    'kube_delegated_auth_trust_loaded',
    '1 when the trust source (CA bundle, front-proxy header settings) has a loaded value, else 0.',
    ['name'],
    () => trustStatuses().map((s) => [{ name: s.name }, s.loaded ? 1 : 0] as const),
  );
  mirrorGauge(
    'kube_delegated_auth_trust_source_age_seconds',
    'Seconds since the trust source last loaded successfully (absent when never loaded or not tracked).',
    ['name'],
    () =>
      trustStatuses()
        .filter((s) => s.loaded && s.lastLoadedAt !== undefined)
        .map((s) => [{ name: s.name }, Math.max(0, (clock.now() - s.lastLoadedAt!) / 1000)] as const),
  );
  mirrorGauge(
    'kube_delegated_auth_trust_source_last_error',
    '1 while the trust source is failing (serving its last-known-good value, or nothing), else 0.',
    ['name'],
    () => trustStatuses().map((s) => [{ name: s.name }, s.lastError !== undefined ? 1 : 0] as const),
  );
}
