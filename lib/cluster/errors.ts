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
  /** From the `Retry-After` header or `Status.details.retryAfterSeconds`. */
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
 * retry predicate reads (`status`, `reason`, `retryAfterSeconds`, `networkCode`), following client-go: when the body
 * is a Status, only its `details.retryAfterSeconds` counts (client-go ignores the header then), else the header.
 */
export class KubeApiError extends KdaError {
  static override readonly brandName: string = 'KubeApiError';
  /** HTTP status; undefined for network failures. */
  readonly statusCode: number | undefined;
  /** `Status.reason` (e.g. `Forbidden`, `InternalError`, `TooManyRequests`), or the one client-go infers from the code. */
  readonly reason: string | undefined;
  /** From the `Retry-After` header or `Status.details.retryAfterSeconds`. */
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

/**
 * What Go's `DefaultShouldRetry` sees of this failure. A Status body is read as client-go's `errors.FromObject` reads
 * it: `retryAfterSeconds` only from its `details` (present, possibly 0, when the Status has details: Go's
 * `SuggestsClientDelay` honours `ServerTimeout` only then). Without a body client-go builds a generic Status whose
 * `retryAfterSeconds` is the `Retry-After` header.
 */
function retryDetails(f: KubeApiErrorFields): WebhookErrorDetails {
  const retryAfterSeconds =
    f.status !== undefined
      ? f.status.details !== undefined
        ? (f.status.details.retryAfterSeconds ?? 0)
        : undefined
      : f.retryAfterSeconds;
  return {
    ...(f.statusCode !== undefined && { status: f.statusCode }),
    ...(f.reason !== undefined && { reason: f.reason }),
    ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
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

/** The `KubeApiError` for a non-2xx answer, as client-go's `transformResponse` reads one. */
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
  const retryAfterSeconds = status?.details?.retryAfterSeconds ?? fromHeader;
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
