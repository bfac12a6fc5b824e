/**
 * Every default the library takes from Go's k8s.io/apiserver (and client-go), once, with the reason Go gives for it.
 * Factories and the CLI read these instead of repeating the literals; the option docs name the default in words.
 * Durations are milliseconds unless the name says otherwise (the watch timeout is seconds on the wire).
 *
 * This module imports nothing, so every layer may use it.
 */

/** Go's `ClientTimeout`/`TokenRequestTimeout` and the webhook client timeout: a review call is bounded by 10 s. */
const tenSeconds = 10_000;

/**
 * The delegating authentication/authorization options (`NewDelegatingAuthenticationOptions`,
 * `NewDelegatingAuthorizationOptions`).
 */
export const delegatingDefaults = Object.freeze({
  /**
   * `--authentication-token-webhook-cache-ttl` and `--authorization-webhook-cache-{,un}authorized-ttl`: 10 s,
   * "very low for responsiveness, but high enough to handle storms" (Go's comment on these TTLs).
   */
  authenticationTokenWebhookCacheTtl: tenSeconds,
  authorizationWebhookCacheAuthorizedTtl: tenSeconds,
  authorizationWebhookCacheUnauthorizedTtl: tenSeconds,
  /**
   * `--authorization-always-allow-paths`: probes come without credentials, so Go stopped sending SARs for them in
   * 1.21 (kubernetes PR #98325).
   */
  authorizationAlwaysAllowPaths: Object.freeze(['/healthz', '/readyz', '/livez']) as readonly string[],
  /** `--authorization-always-allow-groups`: `system:masters` is cluster-admin by construction. */
  authorizationAlwaysAllowGroups: Object.freeze(['system:masters']) as readonly string[],
  /** `--requestheader-*` header lists: the names kube-apiserver's front proxy sends (`allowedNames` empty = any CN). */
  requestheaderUsernameHeaders: Object.freeze(['x-remote-user']) as readonly string[],
  requestheaderUidHeaders: Object.freeze([]) as readonly string[],
  requestheaderGroupHeaders: Object.freeze(['x-remote-group']) as readonly string[],
  requestheaderExtraHeadersPrefix: Object.freeze(['x-remote-extra-']) as readonly string[],
  requestheaderAllowedNames: Object.freeze([]) as readonly string[],
});

/** Review calls (TokenReview, SubjectAccessReview) and their caches. */
export const reviewDefaults = Object.freeze({
  /** Go's webhook `ClientTimeout` (SAR, per attempt) and `TokenRequestTimeout` (TokenReview, whole call, 1.22+). */
  clientTimeout: tenSeconds,
  tokenRequestTimeout: tenSeconds,
  /**
   * `webhook.DefaultRetryBackoff`: 500 ms ×1.5 with 0.2 jitter, 5 calls — about 4 s of retries, inside the 10 s
   * timeout, so a kube-apiserver restart or a dropped keep-alive connection does not fail a request.
   */
  retryBackoff: Object.freeze({ initialDelay: 500, factor: 1.5, jitter: 0.2, steps: 5 }),
  /** Token cache bound: Go keeps 32 striped LRUs of 1024 entries. */
  tokenCacheMaxEntries: 32_768,
  /**
   * A coalesced token lookup runs on a detached context so one caller giving up does not fail the others; Go bounds
   * it with 30 s.
   */
  tokenCacheLookupTimeout: 30_000,
});

/** The client of kube-apiserver (client-go's defaults for the delegating clients). */
export const clientDefaults = Object.freeze({
  /** Per-request timeout: Go's `ClientTimeout`, 10 s. */
  timeout: tenSeconds,
  /** `rest.Config.QPS`/`Burst` of the delegating clients: 200/400 (raised from client-go's 5/10 in 1.19). */
  qps: 200,
  burst: 400,
  /** A service-account token file is re-read every minute (client-go's `cachingTokenSource` refresh). */
  tokenFileRefreshInterval: 60_000,
});

/** Watching `kube-system/extension-apiserver-authentication` (Go's ConfigMapCAController + informer). */
export const trustDefaults = Object.freeze({
  namespace: 'kube-system',
  configMapName: 'extension-apiserver-authentication',
  /** Go's dynamic CA controllers re-read their source every minute besides any watch. */
  pollInterval: 60_000,
  /** Server-side watch timeout, seconds (the reflector picks 5–10 min; the watch is resumed from its resourceVersion). */
  watchTimeoutSeconds: 300,
  /** The reflector's backoff when a watch fails: from 1 s, doubling, capped at 30 s. */
  retryDelay: 1_000,
  maxRetryDelay: 30_000,
  /** A watch that ends sooner than this without an event counts as a failure (backoff), not a server-side timeout. */
  minWatchDuration: 1_000,
});
