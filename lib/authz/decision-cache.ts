import { LRUCache } from 'lru-cache';
import { InvalidOptionError } from '../errors.js';
import type { SubjectAccessReviewStatus } from './interfaces.js';
import { delegatingDefaults } from '../defaults.js';
import { systemClock, type Clock } from '../util/clock.js';

/** Milliseconds since an arbitrary epoch; injected by tests (Go's `newWithClock`). The library's one clock shape. */
export type { Clock } from '../util/clock.js';

export interface DecisionCacheOptions {
  /**
   * How long an `allowed: true` review is reused, in ms (--authorization-webhook-cache-authorized-ttl).
   * Default 10_000: short for responsiveness to RBAC changes, long enough to absorb request storms. 0 = not cached.
   */
  readonly authorizationWebhookCacheAuthorizedTtl?: number;
  /**
   * How long any other review (denied or no opinion) is reused, in ms
   * (--authorization-webhook-cache-unauthorized-ttl). Default 10_000. 0 = not cached.
   */
  readonly authorizationWebhookCacheUnauthorizedTtl?: number;
  /** LRU bound, entries. Default 8192 (Go's webhook authorizer). */
  readonly maxEntries?: number;
  /**
   * After an *allowed* entry expires, how long it may still be served when the SubjectAccessReview call fails,
   * in ms. Default 0 (off, Go behaviour); at most 300_000. Denials are never served stale.
   */
  readonly staleIfErrorTtl?: number;
  /** Default: `Date.now`. */
  readonly clock?: Clock;
}

export interface DecisionCacheStats {
  /** Entries currently held (fresh or stale-eligible). */
  readonly size: number;
  /** Lookups answered from a fresh entry. */
  readonly hits: number;
  /** Lookups with no fresh entry. */
  readonly misses: number;
  /** Entries pushed out by the LRU bound. */
  readonly evictions: number;
}

interface Entry {
  readonly status: SubjectAccessReviewStatus;
  readonly expiresAt: number;
  readonly staleUntil: number;
}

/** Upper bound of `staleIfErrorTtl`: stale authorizations must not outlive an RBAC revocation for long. */
export const maxStaleIfErrorTtl = 300_000;

function checkMs(problems: string[], name: string, value: number | undefined, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    problems.push(`"${name}" must be a number of milliseconds between 0 and ${max}, got ${String(value)}`);
  }
}

/**
 * The SubjectAccessReview decision cache of Go's webhook authorizer: an LRU keyed by a string that identifies the
 * review spec, holding the returned status for the authorized or unauthorized TTL. Errors are never stored here (the
 * caller only calls `set` with a status). Expiry is checked against the injected clock on read.
 */
export class DecisionCache {
  readonly #authorizedTtl: number;
  readonly #unauthorizedTtl: number;
  readonly #staleIfErrorTtl: number;
  readonly #clock: Clock;
  readonly #lru: LRUCache<string, Entry>;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: DecisionCacheOptions = {}) {
    const problems: string[] = [];
    checkMs(problems, 'authorizationWebhookCacheAuthorizedTtl', options.authorizationWebhookCacheAuthorizedTtl);
    checkMs(problems, 'authorizationWebhookCacheUnauthorizedTtl', options.authorizationWebhookCacheUnauthorizedTtl);
    checkMs(problems, 'staleIfErrorTtl', options.staleIfErrorTtl, maxStaleIfErrorTtl);
    const maxEntries = options.maxEntries ?? 8192;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      problems.push(`"maxEntries" must be a positive integer, got ${String(maxEntries)}`);
    if (problems.length > 0) throw new InvalidOptionError(problems);
    this.#authorizedTtl =
      options.authorizationWebhookCacheAuthorizedTtl ?? delegatingDefaults.authorizationWebhookCacheAuthorizedTtl;
    this.#unauthorizedTtl =
      options.authorizationWebhookCacheUnauthorizedTtl ?? delegatingDefaults.authorizationWebhookCacheUnauthorizedTtl;
    this.#staleIfErrorTtl = options.staleIfErrorTtl ?? 0;
    this.#clock = options.clock ?? systemClock;
    this.#lru = new LRUCache<string, Entry>({
      max: maxEntries,
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') this.#evictions++;
      },
    });
  }

  /** A fresh status for `key`, or undefined (counted as a miss). */
  get(key: string): SubjectAccessReviewStatus | undefined {
    const e = this.#lru.get(key);
    const now = this.#clock.now();
    if (e && now < e.expiresAt) {
      this.#hits++;
      return e.status;
    }
    this.#misses++;
    if (e && now >= e.staleUntil) this.#lru.delete(key);
    return undefined;
  }

  /**
   * A fresh status for `key` (counted as a hit), or undefined without counting a miss or dropping anything: the
   * caller's fast path, which falls back to {@link get} when it finds nothing.
   */
  getFresh(key: string): SubjectAccessReviewStatus | undefined {
    const e = this.#lru.get(key);
    if (e === undefined || !(this.#clock.now() < e.expiresAt)) return undefined;
    this.#hits++;
    return e.status;
  }

  /** An expired *allowed* status still inside the stale-if-error window, for use when the review call failed. */
  getStale(key: string): SubjectAccessReviewStatus | undefined {
    if (this.#staleIfErrorTtl === 0) return undefined;
    const e = this.#lru.peek(key);
    if (!e || !e.status.allowed) return undefined;
    const now = this.#clock.now();
    return now < e.staleUntil ? e.status : undefined;
  }

  /** Stores a review result: allowed → authorized TTL; denied or no opinion → unauthorized TTL. */
  set(key: string, status: SubjectAccessReviewStatus): void {
    const ttl = status.allowed ? this.#authorizedTtl : this.#unauthorizedTtl;
    if (ttl <= 0) return;
    const expiresAt = this.#clock.now() + ttl;
    const staleUntil = status.allowed ? expiresAt + this.#staleIfErrorTtl : expiresAt;
    this.#lru.set(key, { status, expiresAt, staleUntil });
  }

  stats(): DecisionCacheStats {
    return { size: this.#lru.size, hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }

  clear(): void {
    this.#lru.clear();
  }
}
