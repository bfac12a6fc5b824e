// Go's retry policy for review calls (k8s.io/apiserver pkg/util/webhook): `defaultShouldRetry` over the library's
// error family and `withExponentialBackoff`.
import { KdaError } from '../errors.js';
import { sleep } from './sleep.js';
import { reviewDefaults } from '../defaults.js';

export { sleep } from './sleep.js';

/** Go's wait.Backoff as used by k8s.io/apiserver webhooks. Durations in milliseconds. */
export interface BackoffOptions {
  /** First sleep, in ms. Default 500 (webhook.DefaultRetryBackoff). */
  readonly initialDelay?: number;
  /** Multiplier applied after each sleep. Default 1.5. */
  readonly factor?: number;
  /** Up to this fraction of random extra delay per sleep (0.2 = +0..20%). Default 0.2. */
  readonly jitter?: number;
  /** Maximum number of calls (not sleeps). Default 5. */
  readonly steps?: number;
  /** Sleeps `ms`; rejects when `signal` aborts. Default: an unref()'d timer. Tests inject a fake. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Source of jitter in [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** Stops retrying (the last webhook error, if any, is still returned). */
  readonly signal?: AbortSignal;
}

/** The default webhook retry backoff of k8s.io/apiserver: 500ms ×1.5, jitter 0.2, 5 calls. */
export const defaultWebhookBackoff = reviewDefaults.retryBackoff;

/**
 * The facts a `KdaError` carries in `details` so `defaultShouldRetry` can decide like Go's `DefaultShouldRetry`; every
 * error of the family that reports a failed call fills them (`KubeApiError` from lib/cluster, `TransientError` from
 * lib/webhook, `webhookError` for a user's own client). `status` is the HTTP status (or the metav1.Status code),
 * `reason` the metav1.Status reason, `networkCode` the socket error code (`ECONNRESET`, undici's `UND_ERR_SOCKET`, ...).
 * `retryAfterSeconds` is the delay Go's client honours (`Status.details.retryAfterSeconds`, or a `Retry-After` header
 * client-go waits for): present, possibly 0, when the Status had `details`, which is when Go honours a `ServerTimeout`
 * reason.
 */
export interface WebhookErrorDetails {
  readonly status?: number;
  readonly reason?: string;
  readonly retryAfterSeconds?: number;
  readonly networkCode?: string;
}

/** Builds the error a SubjectAccessReview/TokenReview client throws for a failed call. */
export function webhookError(
  message: string,
  details: WebhookErrorDetails,
  options?: { readonly cause?: unknown; readonly code?: 'ERR_KDA_REVIEW_FAILED' | 'ERR_KDA_REVIEW_TIMEOUT' },
): KdaError {
  return new KdaError(options?.code ?? 'ERR_KDA_REVIEW_FAILED', message, {
    cause: options?.cause,
    details: { ...details },
  });
}

// apimachinery's knownReasons: a status whose reason is one of these is judged by reason alone, not by code.
const knownReasons = new Set([
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'AlreadyExists',
  'Conflict',
  'Gone',
  'Invalid',
  'ServerTimeout',
  'StoreReadError',
  'Timeout',
  'TooManyRequests',
  'BadRequest',
  'MethodNotAllowed',
  'NotAcceptable',
  'RequestEntityTooLarge',
  'UnsupportedMediaType',
  'InternalError',
  'Expired',
  'ServiceUnavailable',
]);

// ECONNRESET = Go's IsConnectionReset; UND_ERR_SOCKET ("other side closed") is undici's counterpart of Go's
// "http2: client connection lost" / a reset keep-alive connection.
const retryableNetworkCodes = new Set(['ECONNRESET', 'UND_ERR_SOCKET']);

/** The socket error code: a KdaError's `details.networkCode`, or a Node/undici error's `code`, down the cause chain. */
function networkCodeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; depth++) {
    if (e instanceof KdaError) {
      const code = (e.details as WebhookErrorDetails).networkCode;
      if (typeof code === 'string') return code;
    } else {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string') return code;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Go's `webhook.DefaultShouldRetry`, the library's one retry predicate: retry a connection reset, an InternalError
 * (500), a Timeout (504), a TooManyRequests (429), or a status that asks for a client delay (Go's
 * `SuggestsClientDelay`: `ServerTimeout` with Status details, or `retryAfterSeconds > 0`). It reads the error family
 * directly: a `KdaError`'s `details` (`KubeApiError`, `TransientError`, `webhookError`), and the socket code of any
 * error in the cause chain. 401, 403, 404, a 503 without a delay, timeouts of our own and decode errors are not
 * retried.
 */
export function defaultShouldRetry(err: unknown): boolean {
  const code = networkCodeOf(err);
  if (code !== undefined && retryableNetworkCodes.has(code)) return true;
  if (!(err instanceof KdaError)) return false;
  const d = err.details as WebhookErrorDetails;
  const reason = d.reason ?? '';
  const status = d.status ?? 0;
  const unknownReason = !knownReasons.has(reason);
  if (reason === 'InternalError' || (unknownReason && status === 500)) return true;
  if (reason === 'Timeout' || (unknownReason && status === 504)) return true;
  if (reason === 'TooManyRequests' || status === 429) return true;
  if (reason === 'ServerTimeout' && d.retryAfterSeconds !== undefined) return true;
  if ((d.retryAfterSeconds ?? 0) > 0) return true;
  return false;
}

/**
 * Go's `webhook.WithExponentialBackoff`: calls `fn` up to `steps` times, sleeping 500ms, 750ms, 1125ms, 1687.5ms
 * (+ up to 20% jitter each) between calls, while `shouldRetry(err)` says the failure is transient. Resolves with
 * the first success. Rejects with the last error from `fn` when it gives up (non-retryable error, steps exhausted,
 * or aborted during a sleep); when `fn` was never called, with `webhook call failed: <reason>`.
 */
export async function withExponentialBackoff<T>(
  fn: (attempt: number) => Promise<T>,
  shouldRetry: (err: unknown) => boolean = defaultShouldRetry,
  options: BackoffOptions = {},
): Promise<T> {
  const {
    initialDelay = defaultWebhookBackoff.initialDelay,
    factor = defaultWebhookBackoff.factor,
    jitter = defaultWebhookBackoff.jitter,
    steps = defaultWebhookBackoff.steps,
    sleep: doSleep = sleep,
    random = Math.random,
    signal,
  } = options;
  let delay = initialDelay;
  let lastError: { error: unknown } | undefined;
  for (let attempt = 1; attempt <= steps; attempt++) {
    if (signal?.aborted) break;
    try {
      return await fn(attempt);
    } catch (err) {
      lastError = { error: err };
      if (!shouldRetry(err)) throw err;
    }
    if (attempt === steps) break;
    const wait = jitter > 0 ? delay + random() * jitter * delay : delay;
    delay *= factor;
    try {
      await doSleep(wait, signal);
    } catch {
      break;
    }
  }
  if (lastError) throw lastError.error;
  const why = signal?.aborted ? abortMessage(signal) : 'timed out waiting for the condition';
  throw new KdaError('ERR_KDA_REVIEW_FAILED', `webhook call failed: ${why}`, { cause: signal?.reason });
}

function abortMessage(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name === 'TimeoutError') return 'context deadline exceeded';
  return 'context canceled';
}
