const brand = Symbol.for('kube-delegated-auth.transient-error');

/**
 * Thrown by a `verify`/`authorize` callback when the answer is "try again later" (a backend is down, a rate limit is
 * hit). The webhook answers 429 or 503 with `Retry-After`, never a verdict: kube-apiserver retries 429 and any Status
 * with `details.retryAfterSeconds`, and a "no" must stay a 200 so it is not mistaken for an outage.
 */
export class TransientError extends Error {
  /** Seconds the caller should wait; whole seconds, at least 1. */
  readonly retryAfterS: number;
  /** 429 for throttling, 503 (default) for an unavailable backend. */
  readonly statusCode: 429 | 503;

  constructor(
    retryAfterS: number,
    message = 'temporarily unavailable',
    options?: { statusCode?: 429 | 503; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransientError';
    this.retryAfterS = Number.isFinite(retryAfterS) ? Math.max(1, Math.ceil(retryAfterS)) : 1;
    this.statusCode = options?.statusCode ?? 503;
    Object.defineProperty(this, brand, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}
