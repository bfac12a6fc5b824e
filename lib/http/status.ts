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

interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
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
  const details: StatusDetails = {};
  if (name) details.name = name;
  if (group) details.group = group;
  if (resource) details.kind = resource;
  const body = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'Forbidden',
    details,
    code: 403,
  };
  return {
    status: 403,
    headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' },
    body: goJson(body) + '\n',
  };
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

/** A generic metav1.Status failure for the sample server's own errors (404, 409, 400, ...). */
export function statusFailure(code: number, reason: string, message: string, details?: StatusDetails): HttpResponse {
  const body: Record<string, unknown> = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
  };
  if (details) body.details = details;
  body.code = code;
  return { status: code, headers: { 'content-type': 'application/json' }, body: goJson(body) + '\n' };
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
  const reason = statusReasons[code];
  const body = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: typeof e.message === 'string' ? e.message : '',
    ...(reason && { reason }),
    code,
  };
  return { status: code, headers: { 'content-type': 'application/json' }, body: goJson(body) + '\n' };
}
