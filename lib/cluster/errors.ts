// The error a call to kube-apiserver fails with (`KubeApiError`, code ERR_KDA_KUBE_API) and how client-go reads a
// failed response into one (`responseError`). Its `details` carry the facts Go's `DefaultShouldRetry` reads, so the
// library's one retry predicate (lib/util/review-retry `defaultShouldRetry`) decides on it directly.
import { KdaError } from '../errors.js';
import type { WebhookErrorDetails } from '../util/review-retry.js';

/** A Kubernetes `metav1.Status`, as returned in error bodies and watch ERROR events. */
export interface KubeStatus {
  readonly kind?: string;
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: {
    readonly retryAfterSeconds?: number;
    readonly causes?: readonly unknown[];
    readonly [k: string]: unknown;
  };
}

/** The facts of a failed call, as `KubeApiError`'s constructor takes them. */
export interface KubeApiErrorFields {
  /** HTTP status; absent for network failures. */
  readonly statusCode?: number;
  /** `Status.reason`, or the one client-go infers from the code. */
  readonly reason?: string;
  /**
   * The delay Go's client would honour (see `responseError`): present, possibly 0, when the Status has `details`;
   * from `Retry-After` when client-go waits for it.
   */
  readonly retryAfterSeconds?: number;
  /** Network error code (`ECONNRESET`, `UND_ERR_SOCKET`, …), `ETIMEDOUT`, `ABORT_ERR` or `EDECODE`. */
  readonly networkCode?: string;
  /** The decoded Status body, when there was one. */
  readonly status?: KubeStatus;
  readonly cause?: unknown;
}

/**
 * A failed call to kube-apiserver (code `ERR_KDA_KUBE_API`), with everything retry logic needs: the HTTP status, the
 * Status reason, the server's requested delay and the network error code. `details` holds them in the shape the
 * retry predicate reads (`status`, `reason`, `retryAfterSeconds`, `networkCode`).
 */
export class KubeApiError extends KdaError {
  static override readonly brandName: string = 'KubeApiError';
  /** HTTP status; undefined for network failures. */
  readonly statusCode: number | undefined;
  /** `Status.reason` (e.g. `Forbidden`, `InternalError`, `TooManyRequests`), or the one client-go infers from the code. */
  readonly reason: string | undefined;
  /** The requested delay as Go's client honours it: `Status.details.retryAfterSeconds` or `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;
  /** Network error code (`ECONNRESET`, `ECONNREFUSED`, `UND_ERR_SOCKET`, …), or `ETIMEDOUT` for the per-request timeout, `ABORT_ERR` when the caller aborted, `EDECODE` for an undecodable answer. */
  readonly networkCode: string | undefined;
  /** The decoded Status body, when there was one. */
  readonly status: KubeStatus | undefined;

  constructor(message: string, fields: KubeApiErrorFields) {
    super('ERR_KDA_KUBE_API', message, { cause: fields.cause, details: { ...retryDetails(fields) } });
    this.name = 'KubeApiError';
    this.statusCode = fields.statusCode;
    this.reason = fields.reason;
    this.retryAfterSeconds = fields.retryAfterSeconds;
    this.networkCode = fields.networkCode;
    this.status = fields.status;
  }

  /** True for the per-request timeout. */
  get timedOut(): boolean {
    return this.networkCode === 'ETIMEDOUT';
  }
}

/** The retry facts of a failure, in the shape `defaultShouldRetry` reads. */
function retryDetails(f: KubeApiErrorFields): WebhookErrorDetails {
  return {
    ...(f.statusCode !== undefined && { status: f.statusCode }),
    ...(f.reason !== undefined && { reason: f.reason }),
    ...(f.retryAfterSeconds !== undefined && { retryAfterSeconds: f.retryAfterSeconds }),
    ...(f.networkCode !== undefined && { networkCode: f.networkCode }),
  };
}

/** client-go's `NewGenericServerResponse` reason for a status code without a Status body. */
function reasonForCode(code: number): string | undefined {
  switch (code) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 405:
      return 'MethodNotAllowed';
    case 409:
      return 'Conflict';
    case 410:
      return 'Expired';
    case 413:
      return 'RequestEntityTooLarge';
    case 422:
      return 'Invalid';
    case 429:
      return 'TooManyRequests';
    case 500:
      return 'InternalError';
    case 503:
      return 'ServiceUnavailable';
    case 504:
      return 'Timeout';
    default:
      return code >= 500 ? 'InternalError' : undefined;
  }
}

/**
 * The `KubeApiError` for a non-2xx answer, as client-go reads one, with the delay Go's client would honour in
 * `retryAfterSeconds`, since Go's retries for review calls are two layers: client-go's request retry waits for a
 * `Retry-After` header on a 429 or 5xx (`checkWait`), then the webhook's `DefaultShouldRetry` judges the error built
 * from a Status body (`errors.FromObject`: its `details`, present or not, decide `SuggestsClientDelay`) or, without
 * one, the generic Status client-go builds (whose details carry `Retry-After`, whatever the code).
 */
export function responseError(
  verb: string,
  url: URL,
  statusCode: number,
  retryAfterHeader: unknown,
  text: string,
): KubeApiError {
  let status: KubeStatus | undefined;
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    if (parsed && typeof parsed === 'object' && parsed.kind === 'Status') status = parsed;
  } catch {
    // not a Status: client-go builds a generic one from the code
  }
  const header = Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader;
  const fromHeader = typeof header === 'string' && /^\d+$/.test(header.trim()) ? Number(header.trim()) : undefined;
  let retryAfterSeconds: number | undefined;
  if (status === undefined) retryAfterSeconds = fromHeader;
  else {
    const waited = statusCode === 429 || statusCode >= 500 ? fromHeader : undefined;
    const fromBody = status.details ? (status.details.retryAfterSeconds ?? 0) : undefined;
    retryAfterSeconds = fromBody === undefined ? waited : Math.max(fromBody, waited ?? 0);
  }
  const reason = status?.reason || reasonForCode(statusCode);
  const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  const message = status?.message
    ? status.message
    : `${verb} "${url.href}": the server responded with HTTP ${statusCode}${reason ? ` (${reason})` : ''}${snippet ? `: ${snippet.trim()}` : ''}`;
  return new KubeApiError(message, {
    statusCode,
    ...(reason && { reason }),
    ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
    ...(status && { status }),
  });
}
