import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { KdaError } from '../errors.js';
import type { AuthenticationResult, TokenAuthenticator } from './interfaces.js';
import { delegatingDefaults, reviewDefaults } from '../defaults.js';
import { systemClock, type Clock } from '../util/clock.js';

export interface CachedTokenAuthenticatorOptions {
  /**
   * How long an authenticated result is reused, ms. Default 10_000 (`--authentication-token-webhook-cache-ttl`,
   * Go `CacheTTL`: short, so a revoked token stops working quickly). `authenticationTokenWebhookCacheTtl` sets both.
   */
  readonly successTtl?: number;
  /** How long a not-authenticated result *without* error is reused, ms. Default 10_000 (same flag). */
  readonly failureTtl?: number;
  /** Sets `successTtl` and `failureTtl` together (the Go flag), ms. */
  readonly authenticationTokenWebhookCacheTtl?: number;
  /** LRU bound, entries. Default 32_768 (Go: 32 stripes of LRUs). */
  readonly maxEntries?: number;
  /**
   * Bound on a shared (coalesced) lookup, ms. Default 30_000 (Go runs it on a detached context with this timeout,
   * so one caller giving up does not fail the others).
   */
  readonly lookupTimeout?: number;
  /** Time source, ms. Default `Date.now`. */
  readonly clock?: Clock;
}

/** Counters for metrics (Go `authentication_token_cache_*`). */
export interface TokenCacheStats {
  /** Lookups answered from the cache. */
  readonly hits: number;
  /** Lookups that were not in the cache (they started or joined a fetch). */
  readonly misses: number;
  /** Fetches that finished without error. */
  readonly fetchOk: number;
  /** Fetches that finished with an error (never cached). */
  readonly fetchError: number;
  /** Distinct fetches running now (Go `active_fetch_count{status="in_flight"}`). */
  readonly inFlight: number;
  /** Callers waiting on a fetch someone else started (Go `active_fetch_count{status="blocked"}`). */
  readonly blocked: number;
  /** Entries held. */
  readonly size: number;
}

export interface CachedTokenAuthenticator extends TokenAuthenticator {
  stats(): TokenCacheStats;
  /** Drops every entry (e.g. after a trust change). */
  clear(): void;
}

interface Entry {
  readonly result: AuthenticationResult;
  readonly expiresAt: number;
}

/**
 * Go's `cache.New(authenticator, cacheErrs=false, successTTL, failureTTL)`: caches ok results and "not mine"
 * results for their TTL, never results with an error; keys are an HMAC-SHA256 (per-process random key) of the
 * audiences and the token, so raw tokens are never held as keys; identical lookups in flight share one review.
 */
export function cachedTokenAuthenticator(
  inner: TokenAuthenticator,
  opts: CachedTokenAuthenticatorOptions = {},
): CachedTokenAuthenticator {
  const ttl = opts.authenticationTokenWebhookCacheTtl;
  const successTtl = opts.successTtl ?? ttl ?? delegatingDefaults.authenticationTokenWebhookCacheTtl;
  const failureTtl = opts.failureTtl ?? ttl ?? delegatingDefaults.authenticationTokenWebhookCacheTtl;
  const lookupTimeout = opts.lookupTimeout ?? reviewDefaults.tokenCacheLookupTimeout;
  const clock = opts.clock ?? systemClock;
  const problems: string[] = [];
  if (!(successTtl >= 0)) problems.push(`"successTtl" must be >= 0 ms, got ${successTtl}`);
  if (!(failureTtl >= 0)) problems.push(`"failureTtl" must be >= 0 ms, got ${failureTtl}`);
  const maxEntries = opts.maxEntries ?? reviewDefaults.tokenCacheMaxEntries;
  if (!(maxEntries >= 1)) problems.push(`"maxEntries" must be >= 1, got ${maxEntries}`);
  if (problems.length > 0) throw new KdaError('ERR_KDA_INVALID_OPTION', problems.join('; '));

  const secret = randomBytes(32);
  const cache = new LRUCache<string, Entry>({ max: maxEntries });
  const inflight = new Map<string, Promise<AuthenticationResult>>();
  let hits = 0;
  let misses = 0;
  let fetchOk = 0;
  let fetchError = 0;
  let blocked = 0;

  const keyOf = (token: string, audiences: readonly string[] | undefined): string =>
    tokenCacheKey(secret, token, audiences);

  const fetch = async (key: string, token: string, audiences: readonly string[] | undefined) => {
    let result: AuthenticationResult;
    try {
      result = await inner.authenticateToken(token, {
        ...(audiences && { audiences }),
        signal: AbortSignal.timeout(lookupTimeout),
      });
    } catch (err) {
      // Go recovers a panic in the lookup into this error.
      result = {
        ok: false,
        error: new KdaError('ERR_KDA_REVIEW_FAILED', 'authentication failed unexpectedly', { cause: err }),
      };
    }
    if (!result.ok && result.error) {
      fetchError++;
    } else {
      fetchOk++;
      const ttlMs = result.ok ? successTtl : failureTtl;
      if (ttlMs > 0) cache.set(key, { result, expiresAt: clock.now() + ttlMs });
    }
    return result;
  };

  return {
    async authenticateToken(token, callOpts = {}) {
      const key = keyOf(token, callOpts.audiences);
      const hit = cache.get(key);
      if (hit) {
        if (clock.now() < hit.expiresAt) {
          hits++;
          return hit.result;
        }
        cache.delete(key);
      }
      misses++;
      let shared = inflight.get(key);
      const joined = shared !== undefined;
      if (!shared) {
        shared = fetch(key, token, callOpts.audiences).finally(() => inflight.delete(key));
        inflight.set(key, shared);
      }
      if (joined) blocked++;
      try {
        return await raceSignal(shared, callOpts.signal);
      } finally {
        if (joined) blocked--;
      }
    },
    // A fresh cached success only, counted as the hit the asynchronous call would count. Everything else (a miss, an
    // expired entry, a cached rejection) is left to `authenticateToken` untouched: a cached rejection does not end a
    // union (the websocket authenticator is asked next), and a union that then defers runs this lookup again, which
    // must not count twice.
    authenticateTokenSync(token, callOpts = {}) {
      const hit = cache.get(keyOf(token, callOpts.audiences));
      if (hit === undefined || !hit.result.ok || !(clock.now() < hit.expiresAt)) return undefined;
      hits++;
      return hit.result;
    },
    stats: () => ({ hits, misses, fetchOk, fetchError, inFlight: inflight.size, blocked, size: cache.size }),
    clear: () => cache.clear(),
  };
}

/**
 * The cache key: HMAC-SHA256 under a per-process random `secret` over the length-prefixed audiences and the token,
 * so neither the raw token nor an offline-guessable plain hash of it is kept in memory as a key.
 */
export function tokenCacheKey(secret: Buffer, token: string, audiences: readonly string[] | undefined): string {
  const h = createHmac('sha256', secret);
  // Length-prefixed so ["a","b"]+"c" and ["ab"]+"c" cannot collide.
  const len = Buffer.alloc(4);
  for (const a of audiences ?? []) {
    const b = Buffer.from(a, 'utf8');
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  h.update(Buffer.from([0xff])).update(token, 'utf8');
  return h.digest('base64');
}

/** The caller's signal ends only its own wait; the shared lookup keeps running for the others. */
function raceSignal(p: Promise<AuthenticationResult>, signal: AbortSignal | undefined): Promise<AuthenticationResult> {
  if (!signal) return p;
  const aborted = (): AuthenticationResult => ({
    ok: false,
    error: new KdaError('ERR_KDA_REVIEW_TIMEOUT', 'token authentication aborted', { cause: signal.reason }),
  });
  if (signal.aborted) return Promise.resolve(aborted());
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      () => {},
    );
  });
}
