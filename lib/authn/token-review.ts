import { KdaError } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import {
  defaultShouldRetry,
  defaultWebhookBackoff,
  withExponentialBackoff,
  type BackoffOptions,
} from '../util/review-retry.js';
import type { AuthenticationResult, TokenAuthenticator } from './interfaces.js';
import { reviewDefaults } from '../defaults.js';

/**
 * What this authenticator needs from a TokenReview client (lib/cluster's `tokenReviewClient` implements it). Declared
 * here so authn does not depend on cluster. Failures should be lib/util/review-retry `webhookError`s so that
 * `defaultShouldRetry` can tell transient ones apart.
 */
/** `authentication.k8s.io/v1` TokenReview spec. */
export interface TokenReviewSpec {
  readonly token: string;
  readonly audiences?: readonly string[];
}

/** `authentication.k8s.io/v1` TokenReview status, as the apiserver returns it (every field optional on the wire). */
export interface TokenReviewStatus {
  readonly authenticated?: boolean;
  readonly user?: {
    readonly username?: string;
    readonly uid?: string;
    readonly groups?: readonly string[];
    readonly extra?: Readonly<Record<string, readonly string[]>>;
  };
  readonly audiences?: readonly string[];
  readonly error?: string;
}

export interface TokenReviewCreator {
  create(spec: TokenReviewSpec, signal?: AbortSignal): Promise<TokenReviewStatus>;
}

export interface TokenReviewAuthenticatorOptions {
  /** Sends one TokenReview per call (see lib/cluster `tokenReviewClient`). */
  readonly client: TokenReviewCreator;
  /** Bound on the whole call including retries, ms. Default 10_000 (Go `TokenRequestTimeout`, 1.22+). */
  readonly tokenRequestTimeout?: number;
  /**
   * Retry policy (Go `DefaultAuthWebhookRetryBackoff`: 500ms ×1.5, jitter 0.2, 5 calls). `sleep`/`random` are for
   * tests. Retries follow Go's `DefaultShouldRetry` over the client's errors (lib/util/review-retry `webhookError`).
   */
  readonly retryBackoff?: Omit<BackoffOptions, 'signal'>;
  /**
   * Audiences the cluster assumes when a review answers without `status.audiences` (Go `implicitAuds`). Only used
   * when the caller asks for audiences. Default `[]`.
   */
  readonly implicitAudiences?: readonly string[];
  readonly logger?: Logger;
  /** Metrics hook, like Go's `apiserver_delegated_authn_request_total{code}`: HTTP code or `<error>`, per call. */
  readonly onRequest?: (code: string, durationMs: number) => void;
}

/**
 * A TokenAuthenticator backed by TokenReview (Go `plugin/pkg/authenticator/token/webhook`): retries transient
 * failures, bounds the whole call, checks audiences, maps `status.error` to an error. Wrap it in
 * `cachedTokenAuthenticator`.
 */
export class TokenReviewAuthenticator implements TokenAuthenticator {
  readonly #client: TokenReviewCreator;
  readonly #timeout: number;
  readonly #backoff: Omit<BackoffOptions, 'signal'>;
  readonly #implicitAudiences: readonly string[];
  readonly #logger: Logger;
  readonly #onRequest: TokenReviewAuthenticatorOptions['onRequest'];

  constructor(opts: TokenReviewAuthenticatorOptions) {
    const backoff = opts.retryBackoff ?? {};
    const steps = backoff.steps ?? defaultWebhookBackoff.steps;
    if (!(steps >= 1)) {
      throw new KdaError(
        'ERR_KDA_INVALID_OPTION',
        `number of webhook retry attempts must be greater than 1, but is: ${steps}`,
      );
    }
    this.#client = opts.client;
    this.#timeout = opts.tokenRequestTimeout ?? reviewDefaults.tokenRequestTimeout;
    this.#backoff = backoff;
    this.#implicitAudiences = opts.implicitAudiences ?? [];
    this.#logger = opts.logger ?? noopLogger;
    this.#onRequest = opts.onRequest;
  }

  async authenticateToken(
    token: string,
    opts: { readonly audiences?: readonly string[]; readonly signal?: AbortSignal } = {},
  ): Promise<AuthenticationResult> {
    const wantAuds = opts.audiences !== undefined && opts.audiences.length > 0 ? opts.audiences : undefined;
    const deadline = AbortSignal.timeout(this.#timeout);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
    let status: Awaited<ReturnType<TokenReviewCreator['create']>>;
    try {
      status = await withExponentialBackoff(
        async () => {
          const start = performance.now();
          try {
            const s = await this.#client.create({ token, ...(wantAuds && { audiences: wantAuds }) }, signal);
            this.#onRequest?.('201', performance.now() - start);
            return s;
          } catch (err) {
            const code = (err as { details?: { status?: unknown } }).details?.status;
            this.#onRequest?.(typeof code === 'number' ? String(code) : '<error>', performance.now() - start);
            throw err;
          }
        },
        defaultShouldRetry,
        { ...this.#backoff, signal },
      );
    } catch (err) {
      const timedOut = deadline.aborted;
      const message = timedOut
        ? `tokenreview did not complete within ${this.#timeout}ms: ${(err as Error).message}`
        : (err as Error).message;
      this.#logger.error(
        { authenticator: 'tokenreview', error: message },
        'Failed to make webhook authenticator request',
      );
      return {
        ok: false,
        error: new KdaError(timedOut ? 'ERR_KDA_REVIEW_TIMEOUT' : 'ERR_KDA_REVIEW_FAILED', message, {
          cause: err,
          // Keep the webhook facts (HTTP status, reason, network code) for the refusal log line.
          details: {
            ...(err instanceof KdaError ? err.details : {}),
            authenticator: 'tokenreview',
            check: 'tokenreview',
          },
        }),
      };
    }

    let auds: readonly string[] | undefined;
    if (wantAuds) {
      const got = status.audiences && status.audiences.length > 0 ? status.audiences : this.#implicitAudiences;
      auds = wantAuds.filter((a) => got.includes(a));
      if (auds.length === 0) return { ok: false };
    }
    if (status.authenticated !== true) {
      if (!status.error) return { ok: false };
      return {
        ok: false,
        error: new KdaError('ERR_KDA_TOKEN_REJECTED', status.error, {
          details: { authenticator: 'tokenreview', check: 'tokenreview' },
        }),
      };
    }
    const u = status.user ?? {};
    const extra: Record<string, readonly string[]> = {};
    for (const [k, v] of Object.entries(u.extra ?? {})) extra[k] = [...v];
    return {
      ok: true,
      user: { name: u.username ?? '', uid: u.uid ?? '', groups: [...(u.groups ?? [])], extra },
      ...(auds && { audiences: auds }),
      authenticator: 'tokenreview',
    };
  }
}
