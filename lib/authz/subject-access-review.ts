// Go's webhook authorizer (SubjectAccessReview): spec building, the decision-cache key and the authorizer itself.
// Longer than ~350 lines because the three are one cohesive port (review §3.1); the retry loop is lib/util/review-retry.
import { InvalidOptionError, KdaError } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import {
  defaultShouldRetry,
  webhookError,
  withExponentialBackoff,
  type BackoffOptions,
  type WebhookErrorDetails,
} from '../util/review-retry.js';
import { SingleFlight } from '../util/single-flight.js';
import { DecisionCache, type DecisionCacheOptions, type DecisionCacheStats } from './decision-cache.js';
import {
  Decision,
  type AuthorizationResult,
  type Authorizer,
  type RequestAttributes,
  type SelectorRequirement,
  type SubjectAccessReview,
  type SubjectAccessReviewClient,
  type SubjectAccessReviewResourceAttributes,
  type SubjectAccessReviewSpec,
  type SubjectAccessReviewStatus,
} from './interfaces.js';
import { reviewDefaults } from '../defaults.js';

export interface SubjectAccessReviewAuthorizerOptions extends DecisionCacheOptions {
  /** Sends one SubjectAccessReview per call (lib/cluster `subjectAccessReviewClient`). Required. */
  readonly client: SubjectAccessReviewClient;
  /**
   * Per-attempt timeout of a review call, in ms (Go's `ClientTimeout`). Default 10_000. A timed-out attempt is
   * not retried (as in Go, where a client timeout is not a `DefaultShouldRetry` error).
   */
  readonly clientTimeout?: number;
  /** Retry schedule (Go `WebhookRetryBackoff`): default 500ms ×1.5, jitter 0.2, 5 calls. Tests inject `sleep`. */
  readonly retryBackoff?: Omit<BackoffOptions, 'signal'>;
  /** Which failures are transient. Default: lib/util/review-retry `defaultShouldRetry` (Go `DefaultShouldRetry`). */
  readonly shouldRetry?: (err: unknown) => boolean;
  /** Failures log at error (`Failed to make webhook authorizer request`), stale answers at warn. Default: silent. */
  readonly logger?: Logger;
}

export interface SubjectAccessReviewAuthorizerStats extends DecisionCacheStats {
  /** Callers that shared an identical review already in flight instead of sending their own. */
  readonly joins: number;
  /** Failed reviews answered from an expired allowed entry (`staleIfErrorTtl`). */
  readonly staleServed: number;
  /** SubjectAccessReview calls made (every attempt, retries included). */
  readonly reviews: number;
  /** Reviews that failed after retries (each shared failure counted once). */
  readonly failures: number;
  /** Distinct reviews in flight now. */
  readonly inFlight: number;
}

/**
 * Reviews whose cache key is this large (UTF-8 bytes) or larger are sent every time, never cached. Go's
 * `maxControlledAttrCacheSize`, applied to the whole key as kubernetes/kubernetes#141458 proposes: Go measures only
 * eight scalar attributes, while its key (the spec's JSON) also holds the user, the groups, the extra and the
 * field/label selector requirements parsed from the URL, so 8192 cheap list requests with huge selectors can fill its
 * LRU with ~250 KB keys and evict every legitimate entry (kubernetes/kubernetes#141457). Measuring the key itself
 * bounds every entry, whatever part of the request made it large.
 */
export const maxCacheKeySize = 10_000;

/** @deprecated Since 0.2.0: {@link maxCacheKeySize}, which now bounds the whole cache key. Same value. */
export const maxControlledAttrCacheSize = maxCacheKeySize;

/** The ResourceAttributes/NonResourceAttributes + user part of a SubjectAccessReview, exactly as Go builds it (§7.3). */
export function subjectAccessReviewSpec(attrs: RequestAttributes): SubjectAccessReviewSpec {
  const spec: {
    resourceAttributes?: SubjectAccessReviewResourceAttributes;
    nonResourceAttributes?: { path?: string; verb?: string };
    user?: string;
    groups?: readonly string[];
    extra?: Record<string, readonly string[]>;
    uid?: string;
  } = {};
  if (attrs.resourceRequest) {
    const ra: {
      -readonly [K in keyof SubjectAccessReviewResourceAttributes]: SubjectAccessReviewResourceAttributes[K];
    } = {};
    if (attrs.namespace) ra.namespace = attrs.namespace;
    if (attrs.verb) ra.verb = attrs.verb;
    if (attrs.apiGroup) ra.group = attrs.apiGroup;
    if (attrs.apiVersion) ra.version = attrs.apiVersion;
    if (attrs.resource) ra.resource = attrs.resource;
    if (attrs.subresource) ra.subresource = attrs.subresource;
    if (attrs.name) ra.name = attrs.name;
    const field = wireRequirements(attrs.fieldSelectorRequirements);
    if (field) ra.fieldSelector = { requirements: field };
    const label = wireRequirements(attrs.labelSelectorRequirements);
    if (label) ra.labelSelector = { requirements: label };
    spec.resourceAttributes = ra;
  } else {
    const nra: { path?: string; verb?: string } = {};
    if (attrs.path) nra.path = attrs.path;
    if (attrs.verb) nra.verb = attrs.verb;
    spec.nonResourceAttributes = nra;
  }
  const user = (attrs as { user?: RequestAttributes['user'] }).user;
  if (user?.name) spec.user = user.name;
  if (user && user.groups.length > 0) spec.groups = [...user.groups];
  if (user) {
    // Go's encoding/json writes map keys sorted; the JSON is also the cache key, so the order must be stable.
    const keys = Object.keys(user.extra).sort();
    if (keys.length > 0) {
      const extra: Record<string, readonly string[]> = {};
      for (const k of keys) extra[k] = [...user.extra[k]!];
      spec.extra = extra;
    }
  }
  if (user?.uid) spec.uid = user.uid;
  return spec;
}

function wireRequirements(reqs: readonly SelectorRequirement[] | undefined): SelectorRequirement[] | undefined {
  if (!reqs || reqs.length === 0) return undefined;
  return reqs.map((r) => ({
    key: r.key,
    operator: r.operator,
    ...(r.values && r.values.length > 0 && { values: [...r.values] }),
  }));
}

/** The full `authorization.k8s.io/v1` SubjectAccessReview for `attrs`. */
export function subjectAccessReview(attrs: RequestAttributes): SubjectAccessReview {
  return { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: subjectAccessReviewSpec(attrs) };
}

/** Go's decision mapping of a review status (§7.5); `evaluationError` is ignored. */
export function decisionFromStatus(status: SubjectAccessReviewStatus): AuthorizationResult {
  const reason = status.reason ?? '';
  if (status.allowed && status.denied) {
    return {
      decision: Decision.Deny,
      reason,
      error: new KdaError(
        'ERR_KDA_REVIEW_FAILED',
        'webhook subject access review returned both allow and deny response',
      ),
    };
  }
  if (status.denied) return { decision: Decision.Deny, reason };
  if (status.allowed) return { decision: Decision.Allow, reason };
  return { decision: Decision.NoOpinion, reason };
}

/** Whether a review with this cache key may be cached: the key's own size, not some of the attributes (see {@link maxCacheKeySize}). */
function shouldCache(key: string): boolean {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short keys need no byte count.
  if (key.length * 3 < maxCacheKeySize) return true;
  return Buffer.byteLength(key) < maxCacheKeySize;
}

/** Length-prefixed, so that the concatenation of fields is uniquely decodable (no separator can be forged). */
const field = (s: string): string => `${s.length}:${s}`;

function requirementsKey(reqs: readonly SelectorRequirement[] | undefined): string {
  if (!reqs || reqs.length === 0) return '0;';
  let k = `${reqs.length};`;
  for (const r of reqs) {
    k += field(r.key) + field(r.operator);
    const values = r.values ?? [];
    k += `${values.length};`;
    for (const v of values) k += field(v);
  }
  return k;
}

/**
 * The decision-cache key of `attrs`: equal exactly when the SubjectAccessReview specs are equal (what Go keys on,
 * the spec's JSON), without building the spec. It covers the same fields with the same omissions as
 * {@link subjectAccessReviewSpec}: resource attributes or path+verb, user, uid, groups in order, extra by sorted key.
 */
export function subjectAccessReviewCacheKey(attrs: RequestAttributes): string {
  let k: string;
  if (attrs.resourceRequest) {
    k =
      'r' +
      field(attrs.namespace) +
      field(attrs.verb) +
      field(attrs.apiGroup) +
      field(attrs.apiVersion) +
      field(attrs.resource) +
      field(attrs.subresource) +
      field(attrs.name) +
      requirementsKey(attrs.fieldSelectorRequirements) +
      requirementsKey(attrs.labelSelectorRequirements);
  } else {
    k = 'n' + field(attrs.path) + field(attrs.verb);
  }
  const user = (attrs as { user?: RequestAttributes['user'] }).user;
  if (!user) return k + '0:0:0;0;';
  k += field(user.name) + field(user.uid) + `${user.groups.length};`;
  for (const g of user.groups) k += field(g);
  const keys = Object.keys(user.extra);
  if (keys.length > 1) keys.sort();
  k += `${keys.length};`;
  for (const name of keys) {
    const values = user.extra[name]!;
    k += field(name) + `${values.length};`;
    for (const v of values) k += field(v);
  }
  return k;
}

/**
 * The authorizer's error for a failed review: ERR_KDA_REVIEW_FAILED, or ERR_KDA_REVIEW_TIMEOUT for a client timeout,
 * keeping the client error's details (HTTP status, reason, network code) for the log line. Review-level errors and
 * ERR_KDA_CLOSED pass through.
 */
function asKdaError(err: unknown): KdaError {
  const passThrough = ['ERR_KDA_REVIEW_FAILED', 'ERR_KDA_REVIEW_TIMEOUT', 'ERR_KDA_CLOSED'];
  if (err instanceof KdaError && passThrough.includes(err.code)) return err;
  const message = err instanceof Error ? err.message : String(err);
  const details = err instanceof KdaError ? (err.details as WebhookErrorDetails) : {};
  const code = details.networkCode === 'ETIMEDOUT' ? 'ERR_KDA_REVIEW_TIMEOUT' : 'ERR_KDA_REVIEW_FAILED';
  return new KdaError(code, message, { cause: err, details: { ...details } });
}

/**
 * The delegating SubjectAccessReview authorizer (Go `webhook.NewFromInterface` with decisionOnError = NoOpinion):
 * builds the review from the request attributes, answers from the decision cache when it can, otherwise calls the
 * client with Go's retry policy. Identical reviews in flight at the same time share one call (Go would send one
 * per request). A failure after retries is `NoOpinion` with the error, which the middleware turns into a 500,
 * unless `staleIfErrorTtl` allows an expired *allowed* answer.
 */
export class SubjectAccessReviewAuthorizer implements Authorizer {
  readonly #client: SubjectAccessReviewClient;
  readonly #cache: DecisionCache;
  readonly #flights = new SingleFlight<string, SubjectAccessReviewStatus>();
  readonly #clientTimeout: number;
  readonly #backoff: Omit<BackoffOptions, 'signal'>;
  readonly #shouldRetry: (err: unknown) => boolean;
  readonly #logger: Logger;
  readonly #closing = new AbortController();
  #staleServed = 0;
  #reviews = 0;
  #failures = 0;

  constructor(options: SubjectAccessReviewAuthorizerOptions) {
    const problems: string[] = [];
    if (typeof options?.client?.create !== 'function') problems.push('"client" must implement create(sar, signal)');
    const timeout = options?.clientTimeout ?? reviewDefaults.clientTimeout;
    if (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout)) {
      problems.push(`"clientTimeout" must be a positive number of milliseconds, got ${String(timeout)}`);
    }
    const steps = options?.retryBackoff?.steps;
    if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) {
      problems.push(`"retryBackoff.steps" must be a positive integer, got ${String(steps)}`);
    }
    if (problems.length > 0) throw new InvalidOptionError(problems);
    this.#cache = new DecisionCache(options);
    this.#client = options.client;
    this.#clientTimeout = timeout;
    this.#backoff = options.retryBackoff ?? {};
    this.#shouldRetry = options.shouldRetry ?? defaultShouldRetry;
    this.#logger = options.logger ?? noopLogger;
  }

  async authorize(attrs: RequestAttributes, signal?: AbortSignal): Promise<AuthorizationResult> {
    if (this.#closing.signal.aborted) {
      return {
        decision: Decision.NoOpinion,
        reason: '',
        error: new KdaError('ERR_KDA_CLOSED', 'subject access review authorizer is closed'),
      };
    }
    const key = subjectAccessReviewCacheKey(attrs);
    const cacheable = shouldCache(key);
    if (cacheable) {
      const hit = this.#cache.get(key);
      if (hit) return decisionFromStatus(hit);
    }
    try {
      // The review body is only built when one is sent.
      const { value } = await this.#flights.do(
        key,
        (flightSignal) => this.#review(subjectAccessReview(attrs), key, cacheable, flightSignal),
        signal,
      );
      return decisionFromStatus(value);
    } catch (err) {
      const error = asKdaError(err);
      const stale = cacheable ? this.#cache.getStale(key) : undefined;
      if (stale && !signal?.aborted) {
        this.#staleServed++;
        this.#logger.warn(
          { user: attrs.user?.name, verb: attrs.verb, error: error.message },
          'serving an expired allowed SubjectAccessReview decision because the review failed',
        );
        return decisionFromStatus(stale);
      }
      return { decision: Decision.NoOpinion, reason: '', error };
    }
  }

  /** The cached decision or the closed answer, without I/O; undefined when a review would have to be sent. */
  authorizeSync(attrs: RequestAttributes): AuthorizationResult | undefined {
    if (this.#closing.signal.aborted) return undefined;
    const key = subjectAccessReviewCacheKey(attrs);
    if (!shouldCache(key)) return undefined;
    const hit = this.#cache.getFresh(key);
    return hit ? decisionFromStatus(hit) : undefined;
  }

  /** One shared review: retries, per-attempt timeout, cache fill. Runs once per distinct in-flight spec. */
  async #review(sar: SubjectAccessReview, key: string, cacheable: boolean, flightSignal: AbortSignal) {
    const signal = AbortSignal.any([flightSignal, this.#closing.signal]);
    try {
      const status = await withExponentialBackoff(() => this.#attempt(sar, signal), this.#shouldRetry, {
        ...this.#backoff,
        signal,
      });
      if (cacheable) this.#cache.set(key, status);
      return status;
    } catch (err) {
      const error = asKdaError(err);
      if (signal.aborted) {
        // Every waiter left (or close()): a cancellation, not a review failure.
        this.#logger.debug({ code: error.code }, `webhook authorizer request cancelled: ${error.message}`);
        throw error;
      }
      this.#failures++;
      this.#logger.error(
        { code: error.code, ...error.details },
        `Failed to make webhook authorizer request: ${error.message}`,
      );
      throw error;
    }
  }

  async #attempt(sar: SubjectAccessReview, signal: AbortSignal): Promise<SubjectAccessReviewStatus> {
    this.#reviews++;
    const attempt = new AbortController();
    const onAbort = () => attempt.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = webhookError(
          `subjectaccessreviews call timed out after ${this.#clientTimeout}ms`,
          {},
          { code: 'ERR_KDA_REVIEW_TIMEOUT' },
        );
        attempt.abort(err);
        reject(err);
      }, this.#clientTimeout);
      timer.unref();
    });
    try {
      // Race, so a client that ignores the signal still cannot hold the request past the timeout.
      return await Promise.race([this.#client.create(sar, attempt.signal), timedOut]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  stats(): SubjectAccessReviewAuthorizerStats {
    return {
      ...this.#cache.stats(),
      joins: this.#flights.joins,
      staleServed: this.#staleServed,
      reviews: this.#reviews,
      failures: this.#failures,
      inFlight: this.#flights.size,
    };
  }

  /** Aborts reviews in flight, drops the cache; later calls answer NoOpinion with `ERR_KDA_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new KdaError('ERR_KDA_CLOSED', 'subject access review authorizer is closed'));
    this.#cache.clear();
  }
}

/** Function form of `new SubjectAccessReviewAuthorizer(options)`. */
export function subjectAccessReviewAuthorizer(
  options: SubjectAccessReviewAuthorizerOptions,
): SubjectAccessReviewAuthorizer {
  return new SubjectAccessReviewAuthorizer(options);
}
