import { KdaError } from '../errors.js';

/**
 * Thrown by a `verify`/`authorize` callback when the answer is "try again later" (a backend is down, a rate limit is
 * hit); code `ERR_KDA_TRANSIENT`. The webhook answers 429 or 503 with `Retry-After`, never a verdict: kube-apiserver
 * retries 429 and any Status with `details.retryAfterSeconds`, and a "no" must stay a 200 so it is not mistaken for an
 * outage. Its `details` (`status`, `retryAfterSeconds`) are what such an answer tells a client, so the library's retry
 * predicate (`defaultShouldRetry`) retries one thrown by a user's review client, as kube-apiserver retries the answer.
 */
export class TransientError extends KdaError {
  static override readonly brandName: string = 'TransientError';
  /** Seconds the caller should wait; whole seconds, at least 1. */
  readonly retryAfterS: number;
  /** 429 for throttling, 503 (default) for an unavailable backend. */
  readonly statusCode: 429 | 503;

  constructor(
    retryAfterS: number,
    message = 'temporarily unavailable',
    options?: { statusCode?: 429 | 503; cause?: unknown },
  ) {
    const seconds = Number.isFinite(retryAfterS) ? Math.max(1, Math.ceil(retryAfterS)) : 1;
    const statusCode = options?.statusCode ?? 503;
    super('ERR_KDA_TRANSIENT', message, {
      cause: options?.cause,
      details: {
        status: statusCode,
        reason: statusCode === 429 ? 'TooManyRequests' : 'ServiceUnavailable',
        retryAfterSeconds: seconds,
      },
    });
    this.name = 'TransientError';
    this.retryAfterS = seconds;
    this.statusCode = statusCode;
  }
}
