import type { X509Certificate } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UserInfo } from '../authn/interfaces.js';
import type { TokenCacheStats } from '../authn/token-cache.js';
import type { SubjectAccessReview, SubjectAccessReviewClient } from '../authz/interfaces.js';
import type { SubjectAccessReviewAuthorizerStats } from '../authz/subject-access-review.js';
import type { CABundleProvider, TrustStatus } from '../trust/interfaces.js';
import { channelNames } from '../diagnostics.js';

/** The diagnostics_channel names subscribed here, declared once in lib/diagnostics (re-exported for compatibility). */
export { channelNames };

/** What `authenticate()` publishes on `kube-delegated-auth:authn` (fields read here; extra fields are ignored). */
export interface AuthenticationEventLike {
  /** Go's `authentication_attempts` label. */
  readonly result: 'success' | 'failure' | 'error';
  readonly durationSeconds: number;
  readonly authenticator?: string;
  readonly user?: UserInfo;
  /** Leaf first; [] without a client certificate. */
  readonly peerCertificates?: readonly X509Certificate[];
}

/** What `authorize()` publishes on `kube-delegated-auth:authz`. */
export interface AuthorizationEventLike {
  /** Go's `authorization_attempts_total` label. */
  readonly result: 'allowed' | 'denied' | 'no-opinion' | 'error';
  readonly durationSeconds: number;
}

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

// Go's delegated authn/authz webhook request buckets (authenticatorfactory/metrics.go, authorizerfactory/metrics.go).
const requestBuckets = [0.25, 0.5, 0.7, 1, 1.5, 3, 5, 10];
// Go's endpoints/filters/metrics.go: ExponentialBuckets(0.001, 2, 15).
const attemptBuckets = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);
// Go's x509 authenticator: 0, 30m, 1h, 2h, 6h, 12h, 1d, 2d, 4d, 1w, 30d, 90d, 180d, 365d (seconds).
const hour = 3600;
const day = 24 * hour;
const certificateExpirationBuckets = [
  0,
  1800,
  hour,
  2 * hour,
  6 * hour,
  12 * hour,
  day,
  2 * day,
  4 * day,
  7 * day,
  30 * day,
  90 * day,
  180 * day,
  365 * day,
];

// Go's compressUsername (endpoints/filters/metrics.go): keeps the label set bounded.
const knownUsers = new Set(['admin', 'client', 'kube_proxy', 'kubelet', 'system:serviceaccount:kube-system:default']);
export function compressUsername(name: string): string {
  if (knownUsers.has(name)) return name;
  if (name.includes('@')) return 'email_id';
  return 'other';
}

/** Go labels a completed review with its HTTP status and a transport failure with `<error>`. */
function reviewCode(err: unknown): string {
  const status = (err as { details?: { status?: unknown } } | undefined)?.details?.status;
  return typeof status === 'number' && status > 0 ? String(status) : '<error>';
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

  const tokenCaches = new Set<{ stats(): TokenCacheStats }>();
  const authorizers = new Set<{ stats(): SubjectAccessReviewAuthorizerStats | undefined }>();
  const trustSources = new Set<{ status(): readonly TrustStatus[] }>();
  const caProviders = new Set<CABundleProvider>();

  const authnRequests = new Counter({
    name: 'apiserver_delegated_authn_request_total',
    help: 'Number of HTTP requests partitioned by status code.',
    labelNames: ['code'],
    registers,
  });
  const authnRequestDuration = new Histogram({
    name: 'apiserver_delegated_authn_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by status code.',
    labelNames: ['code'],
    buckets: requestBuckets,
    registers,
  });
  const authzRequests = new Counter({
    name: 'apiserver_delegated_authz_request_total',
    help: 'Number of HTTP requests partitioned by status code.',
    labelNames: ['code'],
    registers,
  });
  const authzRequestDuration = new Histogram({
    name: 'apiserver_delegated_authz_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by status code.',
    labelNames: ['code'],
    buckets: requestBuckets,
    registers,
  });
  const authnAttempts = new Counter({
    name: 'authentication_attempts',
    help: 'Counter of authenticated attempts.',
    labelNames: ['result'],
    registers,
  });
  const authnDuration = new Histogram({
    name: 'authentication_duration_seconds',
    help: 'Authentication duration in seconds broken out by result.',
    labelNames: ['result'],
    buckets: attemptBuckets,
    registers,
  });
  const authenticatedUsers = new Counter({
    name: 'authenticated_user_requests',
    help: 'Counter of authenticated requests broken out by username.',
    labelNames: ['username'],
    registers,
  });
  const authzAttempts = new Counter({
    name: 'authorization_attempts_total',
    help: 'Counter of authorization attempts broken down by result. It can be either allowed, denied, no-opinion or error.',
    labelNames: ['result'],
    registers,
  });
  const authzDuration = new Histogram({
    name: 'authorization_duration_seconds',
    help: 'Authorization duration in seconds broken out by result.',
    labelNames: ['result'],
    buckets: attemptBuckets,
    registers,
  });
  const certificateExpiration = new Histogram({
    name: 'apiserver_client_certificate_expiration_seconds',
    help: 'Distribution of the remaining lifetime on the certificate used to authenticate a request.',
    buckets: certificateExpirationBuckets,
    registers,
  });

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

  const onAuthn = (message: unknown): void => {
    const e = message as AuthenticationEventLike;
    authnAttempts.inc({ result: e.result });
    authnDuration.observe({ result: e.result }, e.durationSeconds);
    if (e.result === 'success' && e.user) authenticatedUsers.inc({ username: compressUsername(e.user.name) });
    // Go observes in the client-certificate authenticator, which runs unless the front proxy already authenticated.
    const leaf = e.peerCertificates?.[0];
    if (leaf && !(e.result === 'success' && e.authenticator === 'requestheader')) {
      const notAfter = Date.parse(leaf.validTo);
      if (Number.isFinite(notAfter)) certificateExpiration.observe((notAfter - clock.now()) / 1000);
    }
  };
  const onAuthz = (message: unknown): void => {
    const e = message as AuthorizationEventLike;
    authzAttempts.inc({ result: e.result });
    authzDuration.observe({ result: e.result }, e.durationSeconds);
  };
  const suppressedLogLines = new Counter({
    name: 'kube_delegated_auth_suppressed_log_lines_total',
    help: 'Refusal log lines not written because their cause exceeded the per-cause rate limit, by category.',
    labelNames: ['category'],
    registers,
  });
  const onLogSuppressed = (message: unknown): void => {
    suppressedLogLines.inc({ category: (message as { category: string }).category });
  };
  subscribe(channelNames.authn, onAuthn);
  subscribe(channelNames.authz, onAuthz);
  subscribe(channelNames.logSuppressed, onLogSuppressed);

  const timed = async <T>(total: Counter, duration: Histogram, call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let code = '201';
    try {
      return await call();
    } catch (err) {
      code = reviewCode(err);
      throw err;
    } finally {
      total.inc({ code });
      duration.observe({ code }, (performance.now() - started) / 1000);
    }
  };

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
      unsubscribe(channelNames.authn, onAuthn);
      unsubscribe(channelNames.authz, onAuthz);
      unsubscribe(channelNames.logSuppressed, onLogSuppressed);
      tokenCaches.clear();
      authorizers.clear();
      trustSources.clear();
      caProviders.clear();
    },
  };
}
