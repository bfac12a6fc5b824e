import type { RequestAttributes } from '../authz/interfaces.js';
import { goQuote, htmlEscape } from '../util/go-quote.js';

/** A response the adapters write verbatim: status, headers, body. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The metav1.Status body of a 401, byte for byte as k8s.io/apiserver writes it (trailing newline included). */
export const unauthorizedBody =
  '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n';

const unauthorizedResponse: HttpResponse = Object.freeze({
  status: 401,
  headers: Object.freeze({ 'content-type': 'application/json' }),
  body: unauthorizedBody,
});

/** filters.Unauthorized: identical for every cause; the cause goes to the log only. */
export function unauthorized(): HttpResponse {
  return unauthorizedResponse;
}

/** The inner message of responsewriters.forbiddenMessage. */
export function forbiddenMessage(attrs: RequestAttributes): string {
  // Go prints "" when the request carries no user (possible only without authentication in front).
  const user = goQuote((attrs as { user?: RequestAttributes['user'] }).user?.name ?? '');
  if (!attrs.resourceRequest) {
    return `User ${user} cannot ${attrs.verb} path ${goQuote(attrs.path)}`;
  }
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  if (attrs.namespace) {
    return `User ${user} cannot ${attrs.verb} resource ${goQuote(resource)} in API group ${goQuote(attrs.apiGroup)} in the namespace ${goQuote(attrs.namespace)}`;
  }
  return `User ${user} cannot ${attrs.verb} resource ${goQuote(resource)} in API group ${goQuote(attrs.apiGroup)} at the cluster scope`;
}

/** responsewriters.Forbidden: 403 with the exact Kubernetes message and details. */
export function forbidden(attrs: RequestAttributes, reason: string): HttpResponse {
  let msg = htmlEscape(forbiddenMessage(attrs));
  if (reason) msg = `${msg}: ${reason}`;
  // Go builds the GroupResource and name from the attributes as they are, resource request or not.
  const group = attrs.apiGroup;
  const resource = attrs.resource;
  const name = attrs.name;
  let message: string;
  if (!group && !resource) message = `forbidden: ${msg}`;
  else {
    const gr = group ? `${resource}.${group}` : resource;
    message = name ? `${gr} ${goQuote(name)} is forbidden: ${msg}` : `${gr} is forbidden: ${msg}`;
  }
  const details: { name?: string; group?: string; kind?: string } = {};
  if (name) details.name = name;
  if (group) details.group = group;
  if (resource) details.kind = resource;
  return statusFailure(403, 'Forbidden', message, details, nosniffHeaders);
}

/**
 * JSON as Go's `json.Encoder` writes it (the apiserver's JSON serializer): `<`, `>`, `&`, U+2028 and U+2029 are
 * escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029` (HTML-safe mode, on by default in Go).
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

/** responsewriters.InternalError: text/plain `Internal Server Error: "<RequestURI>": <err>`. */
export function internalError(requestUri: string, error: string): HttpResponse {
  return {
    status: 500,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    body: htmlEscape(`Internal Server Error: ${goQuote(requestUri)}: ${error}`) + '\n',
  };
}

/** metav1.StatusDetails: what the failure is about (the fields Kubernetes clients read). */
export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly { readonly reason?: string; readonly message?: string; readonly field?: string }[];
  /** Tells clients (client-go's DefaultShouldRetry, kube-apiserver's webhook client) when to retry. */
  readonly retryAfterSeconds?: number;
  readonly [key: string]: unknown;
}

const nosniffHeaders: Readonly<Record<string, string>> = Object.freeze({ 'x-content-type-options': 'nosniff' });

const statusJsonHeaders: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });

/**
 * The one builder of a metav1.Status failure (`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
 * "message","reason","details","code"}` in Go's field order, Go's HTML-safe JSON, trailing newline). An empty
 * `reason` is omitted (Go's StatusReasonUnknown, `omitempty`). `headers` are added to `Content-Type:
 * application/json` (e.g. `x-content-type-options: nosniff`, `retry-after`, `allow`).
 */
export function statusFailure(
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
  headers?: Readonly<Record<string, string>>,
): HttpResponse {
  const body: Record<string, unknown> = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
  };
  if (reason) body.reason = reason;
  if (details) body.details = details;
  body.code = code;
  return {
    status: code,
    headers: headers ? { ...statusJsonHeaders, ...headers } : statusJsonHeaders,
    body: goJson(body) + '\n',
  };
}

/**
 * What Go's WithPanicRecovery answers when a handler panics (`http.Error`, so text/plain and nosniff): a fixed text,
 * nothing of the error. Used for every unexpected exception in our middleware (an authenticator or authorizer that
 * throws, a bug): the message and stack go to the log only.
 */
export const panicResponse: HttpResponse = Object.freeze({
  status: 500,
  headers: Object.freeze({ 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }),
  body: 'This request caused apiserver to panic. Look in the logs for details.\n',
});

/** Kubernetes `StatusReason` of a 4xx code (metav1), or undefined (Go's StatusReasonUnknown, omitted). */
const statusReasons: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
};

/**
 * A 4xx `Status` carrying the message of a client error: an error with a 4xx `status` or `statusCode` (http-errors,
 * body-parser's "request entity too large", Fastify's validation errors) unless it says `expose: false`, the
 * convention Koa follows too. Undefined for anything else, which must be answered as an unexpected error.
 */
export function exposedErrorStatus(err: unknown): HttpResponse | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  const code = typeof e.status === 'number' ? e.status : e.statusCode;
  if (typeof code !== 'number' || code < 400 || code > 499 || e.expose === false) return undefined;
  return statusFailure(code, statusReasons[code] ?? '', typeof e.message === 'string' ? e.message : '');
}

/**
 * An error a route throws to answer with a Kubernetes `Status` of its choosing (any code, 5xx included), e.g.
 * `throw statusError(404, 'NotFound', 'widgets "a" not found', { name: 'a', group: 'example.com', kind: 'widgets' })`.
 * The framework error handlers (Koa, Express `statusErrorHandler()`, Fastify `kubeErrorHandler()`) and
 * {@link statusResponseOf} write it as built; `status`/`statusCode`/`expose` follow the http-errors convention, so
 * other handlers read it as a client error with a message meant for the client.
 */
export class KubeStatusError extends Error {
  /** The HTTP status, which is also the Status `code`. */
  readonly status: number;
  /** Kubernetes `StatusReason` (`NotFound`, `Conflict`, `ServiceUnavailable`, ...); empty for Unknown. */
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  /** Extra response headers (e.g. `retry-after`, `allow`). */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** The message is for the client (http-errors convention). */
  readonly expose = true;

  constructor(
    code: number,
    reason: string,
    message: string,
    details?: StatusDetails,
    options?: { readonly headers?: Readonly<Record<string, string>>; readonly cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (!Number.isInteger(code) || code < 400 || code > 599) {
      throw new RangeError(`a Status error needs an HTTP code between 400 and 599, got ${String(code)}`);
    }
    this.name = 'KubeStatusError';
    this.status = code;
    this.reason = reason;
    this.details = details;
    this.headers = options?.headers;
  }

  /** Fastify's and Node's name for {@link status}. */
  get statusCode(): number {
    return this.status;
  }

  /** The response to write: a metav1.Status with this error's code, reason, message and details. */
  toResponse(): HttpResponse {
    return statusFailure(this.status, this.reason, this.message, this.details, this.headers);
  }
}

/** `new KubeStatusError(code, reason, message, details)`: `throw statusError(409, 'AlreadyExists', '...')`. */
export function statusError(code: number, reason: string, message: string, details?: StatusDetails): KubeStatusError {
  return new KubeStatusError(code, reason, message, details);
}

/**
 * The `Status` an error asks for: a {@link KubeStatusError} as built, a client error with a 4xx `status` as
 * {@link exposedErrorStatus}; undefined for anything else (answer it as an unexpected error: Go's panic text).
 */
export function statusResponseOf(err: unknown): HttpResponse | undefined {
  if (err instanceof KubeStatusError) return err.toResponse();
  return exposedErrorStatus(err);
}
