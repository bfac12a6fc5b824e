import type { IncomingMessage, ServerResponse } from 'node:http';
import { newDelegatingAuthenticator, type DelegatingAuthenticatorOptions } from '../authn/delegating.js';
import type { AuthenticationResult, RequestAuthenticator, UserInfo } from '../authn/interfaces.js';
import {
  Decision,
  type AuthorizationResult,
  type Authorizer,
  type RequestAttributes,
  type RequestInfo,
} from '../authz/interfaces.js';
import type { DelegatedAuth } from '../delegated-auth.js';
import {
  authenticationChannel,
  authorizationChannel,
  type AuthenticationEvent,
  type AuthorizationEvent,
} from '../diagnostics.js';
import type { KdaErrorDetails } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import type { RequestHeaderConfigProvider } from '../trust/interfaces.js';
import { refusalLogFor, type RefusalLogLimit } from '../util/refusal-log.js';
import { authorizerAttributes, resolveRequestInfo, type RequestInfoOptions } from './request-info.js';
import {
  checkRequestTarget,
  type AcceptedRequestTarget,
  type RefusedRequestTarget,
  type RequestTargetOptions,
} from './request-target.js';
import { stripIdentityHeaders, toAuthnRequest } from './request.js';
import { forbidden, internalError, panicResponse, statusFailure, unauthorized, type HttpResponse } from './status.js';

/**
 * The framework-agnostic steps of Go's handler chain (WithRequestInfo → WithAuthentication → WithAuthorization)
 * that the Express, Fastify and node:http adapters share. Each step either produces state for the next one or the
 * exact response Go writes; the adapters only read the request and write the response.
 */

/** A refusal to write verbatim; `closeConnection` asks for `Connection: close` (Go's 400 for a malformed path). */
export interface PipelineRefusal {
  readonly ok: false;
  readonly response: HttpResponse;
  readonly closeConnection?: boolean;
}

/** Go's 400 for a path with a malformed `%` escape (net/http answers before any handler). */
export const badRequestResponse: HttpResponse = Object.freeze({
  status: 400,
  headers: Object.freeze({ 'content-type': 'text/plain; charset=utf-8', connection: 'close' }),
  body: '400 Bad Request',
});

/**
 * The 400 for a request target the frameworks would not all read as the same path (lib/http/request-target): a
 * `BadRequest` Status, as the apiserver answers a request it cannot serve. Targets Go's HTTP server itself refuses
 * keep Go's plain-text answer ({@link badRequestResponse}).
 */
export function requestTargetResponse(refused: RefusedRequestTarget): HttpResponse {
  if (refused.goRejects) return badRequestResponse;
  const status = statusFailure(400, 'BadRequest', `invalid request target: ${refused.cause}`);
  return { ...status, headers: { ...status.headers, 'x-content-type-options': 'nosniff' } };
}

/** How an adapter wants the request target handled (see lib/http/request-target). */
export interface RequestTargetStepOptions extends RequestTargetOptions {
  /**
   * Set `req.url` to origin-form when the target was absolute-form, before any framework reads it. Default true;
   * Express passes false (its router keeps the scheme and host it saw first and strips them itself).
   */
  readonly rewriteAbsoluteForm?: boolean;
}

/** The request target check alone: the origin-form target, or the 400 (logged at warn with the exact cause). */
export function requestTargetStep(
  method: string,
  uri: string,
  options: RequestTargetOptions = {},
  logger: Logger = noopLogger,
): { readonly ok: true; readonly target: AcceptedRequestTarget } | PipelineRefusal {
  const target = checkRequestTarget(uri, options);
  if (target.ok) return { ok: true, target };
  logger.warn(
    { method, uri, check: 'request-target', cause: target.cause },
    `request refused: invalid request target: ${target.cause}`,
  );
  return { ok: false, response: requestTargetResponse(target), closeConnection: target.goRejects };
}

/**
 * WithRequestInfo: checks the request target (a 400 before authentication when the frameworks could disagree on its
 * path), then resolves the RequestInfo, or answers the 400/500 Go answers when it cannot be built.
 */
export function requestInfoStep(
  method: string,
  uri: string,
  options: RequestInfoOptions = {},
  logger: Logger = noopLogger,
  targetOptions: RequestTargetOptions = {},
): { readonly ok: true; readonly info: RequestInfo; readonly target: AcceptedRequestTarget } | PipelineRefusal {
  let checked: ReturnType<typeof requestTargetStep>;
  let result: ReturnType<typeof resolveRequestInfo>;
  try {
    checked = requestTargetStep(method, uri, targetOptions, logger);
    if (!checked.ok) return checked;
    // The original target: resolveRequestInfo strips an absolute-form prefix itself, and Go's messages quote it as
    // sent.
    result = resolveRequestInfo(method, uri, { authorizationSelectors: options.authorizationSelectors === true });
  } catch (err) {
    return unexpectedError(logger, 'request-info', err, method, uri);
  }
  if (result.ok) return { ok: true, info: result.info, target: checked.target };
  const refusals = refusalLogFor(logger);
  if (result.error.details.status === 400) {
    refusals.log(
      'warn',
      'request-info',
      `400:${result.error.code}`,
      { method, uri, code: result.error.code },
      result.error.message,
    );
    return { ok: false, response: badRequestResponse, closeConnection: true };
  }
  const message = `failed to create RequestInfo: ${result.error.message}`;
  refusals.log('error', 'request-info', `500:${result.error.code}`, { method, uri, code: result.error.code }, message);
  return { ok: false, response: internalError(uri, message) };
}

/** Makes an absolute-form `req.url` origin-form (the path the request was authorized for). */
export function useOriginForm(req: { url?: string | undefined }, target: AcceptedRequestTarget): void {
  if (target.absolute) req.url = target.uri;
}

/**
 * An exception or rejection from our own steps or the callbacks they run (authenticator, authorizer, attribute
 * hooks): a bug, never a decision. Answered like Go's WithPanicRecovery (a fixed 500 text, nothing of the error in
 * the body) and logged at error with the message and stack, so the cause is in the log only.
 */
export function unexpectedError(
  logger: Logger,
  step: string,
  err: unknown,
  method: string,
  uri: string,
): PipelineRefusal {
  const error = err instanceof Error ? err.message : String(err);
  const fields: Record<string, unknown> = { step, method, uri, error };
  if (err instanceof Error && err.stack) fields.stack = err.stack;
  refusalLogFor(logger).log('error', 'unexpected-error', step, fields, `${step} failed unexpectedly: ${error}`);
  return { ok: false, response: panicResponse };
}

/** What authentication yields (the same fields Koa's `ctx.state` gets). */
export interface AuthenticatedIdentity {
  readonly user: UserInfo;
  /** Which authenticator accepted the request: `requestheader`, `x509`, `tokenreview`, `anonymous`, ... */
  readonly authenticator: string;
  /** Audiences the token was valid for, when a token authenticator reports them. */
  readonly audiences?: readonly string[];
}

export interface AuthenticationStepOptions extends DelegatingAuthenticatorOptions {
  /**
   * A ready authenticator; when set, `requestHeader.caProvider`, `clientCA`, `tokenAuthenticator`, `anonymous` and
   * `apiAudiences` are not used (only `requestHeader.configProvider`, for header stripping).
   */
  readonly authenticator?: RequestAuthenticator;
  /** Where refusals are logged (warn with the cause; no credentials at debug). Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
  /**
   * Rate limit of refusal lines per cause on `logger` (shared by every middleware logging there); suppressed lines
   * are summarised and counted (`kube_delegated_auth_suppressed_log_lines_total`). Default 10 lines per cause per 10 s.
   */
  readonly refusalLogLimit?: RefusalLogLimit;
}

/** A bound WithAuthentication step: validates the options once (no I/O), then runs per request. */
export function authenticationStep(
  options: AuthenticationStepOptions = {},
): (
  req: IncomingMessage,
  path?: string,
) => Promise<{ readonly ok: true; readonly identity: AuthenticatedIdentity } | PipelineRefusal> {
  const authenticator = options.authenticator ?? newDelegatingAuthenticator(options);
  if (typeof authenticator.authenticateRequest !== 'function') {
    throw new TypeError('"authenticator" must implement authenticateRequest');
  }
  const configProvider: RequestHeaderConfigProvider | undefined = options.requestHeader?.configProvider;
  const logger = options.logger ?? noopLogger;
  if (options.refusalLogLimit !== undefined) refusalLogFor(logger, options.refusalLogLimit);
  // Anything that throws past the authenticator (a malformed result, a header-stripping bug) is answered the same way.
  return (req, path) =>
    authenticate(req, path).catch((err: unknown) =>
      unexpectedError(logger, 'authentication', err, req.method ?? 'GET', req.url ?? '/'),
    );
  async function authenticate(
    req: IncomingMessage,
    path: string | undefined,
  ): Promise<{ readonly ok: true; readonly identity: AuthenticatedIdentity } | PipelineRefusal> {
    const view = toAuthnRequest(req);
    const started = performance.now();
    let result: AuthenticationResult;
    try {
      result = await authenticator.authenticateRequest(view);
      if (typeof result !== 'object' || result === null) throw new TypeError('authenticator returned no result');
    } catch (err) {
      return unexpectedError(logger, 'authentication', err, req.method ?? 'GET', req.url ?? '/');
    }
    if (authenticationChannel.hasSubscribers) {
      const event: AuthenticationEvent = {
        ...(result.ok
          ? { result: 'success', authenticator: result.authenticator, user: result.user }
          : { result: result.error ? 'error' : 'failure', ...(result.error && { error: result.error }) }),
        durationSeconds: (performance.now() - started) / 1000,
        get peerCertificates() {
          return view.peerCertificates;
        },
      };
      authenticationChannel.publish(event);
    }
    if (!result.ok) {
      logAuthenticationRefusal(logger, result, req.method ?? 'GET', path ?? pathOf(req.url ?? '/'));
      return { ok: false, response: unauthorized() };
    }
    // Go clears every identity header after any successful authentication, anonymous included.
    stripIdentityHeaders(req, configProvider?.current(), result.consumedHeaders);
    const { name, uid, groups, extra } = result.user;
    const identity: AuthenticatedIdentity = {
      user: { name, uid, groups, extra },
      authenticator: result.authenticator,
      ...(result.audiences && { audiences: result.audiences }),
    };
    return { ok: true, identity };
  }
}

/** The path of a request URI (before `?`). */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

const causeFields = ['authenticator', 'check', 'subjectCN', 'issuer', 'caName', 'header'] as const;

function pickCause(d: KdaErrorDetails): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of causeFields) if (d[k] !== undefined) out[k] = d[k];
  return out;
}

/** One line per refusal: the precise cause as fields; the 401 body stays generic. */
export function logAuthenticationRefusal(
  logger: Logger,
  result: Extract<AuthenticationResult, { ok: false }>,
  method: string,
  path: string,
): void {
  const declined = result.declined ?? [];
  const { error } = result;
  const refusals = refusalLogFor(logger);
  if (!error && declined.length === 0) {
    refusals.log(
      'debug',
      'authentication',
      'no-credentials',
      { method, path, check: 'no-credentials' },
      'request refused: no credentials and anonymous disabled',
    );
    return;
  }
  // A declined front-proxy (verified certificate, missing username) explains the refusal better than the x509 error
  // that follows it, so it leads. The lead is the cause in every top-level field (check, code, error, msg); the
  // errors of the authenticators tried after it (e.g. the client-CA fallback's unknown authority) are only in `causes`.
  const all = error?.details.errors as readonly KdaErrorDetails[] | undefined;
  const primary = declined[0] ?? error!.details;
  const fields: Record<string, unknown> = { ...pickCause(primary) };
  if (declined.length > 0) {
    if (typeof primary.code === 'string') fields.code = primary.code;
    if (primary.message !== undefined) fields.error = primary.message;
  } else {
    fields.code = error!.code;
    fields.error = all?.[0]?.message ?? error!.message;
  }
  if (error) {
    fields.causes = (all ?? [{ ...error.details, message: error.message }]).map((d) => ({
      ...pickCause(d),
      message: d.message,
    }));
  }
  if (declined.length > 0) fields.declined = declined;
  fields.method = method;
  fields.path = path;
  const lead = declined[0]?.message as string | undefined;
  const cause = String(primary.check ?? error?.code ?? 'unknown');
  refusals.log(
    'warn',
    'authentication',
    cause,
    fields,
    `request refused: ${[lead, error?.message].filter(Boolean).join('; ')}`,
  );
}

/**
 * A per-request authorization override: attribute fields that replace the computed ones (kube-rbac-proxy style),
 * or a function of the computed attributes. Same shape as lib/koa's `AuthorizationOverride`.
 */
export type AttributesOverride =
  Partial<Omit<RequestAttributes, 'user'>> | ((defaults: RequestAttributes) => RequestAttributes);

export function applyAttributesOverride(
  attrs: RequestAttributes,
  override: AttributesOverride | undefined,
): RequestAttributes {
  if (override === undefined) return attrs;
  if (typeof override === 'function') return override(attrs);
  return { ...attrs, ...override, user: attrs.user };
}

// The channels and their event types are declared once in lib/diagnostics; re-exported here for compatibility.
export { authenticationChannel, authorizationChannel, type AuthenticationEvent, type AuthorizationEvent };

function resultLabel(r: AuthorizationResult): AuthorizationEvent['result'] {
  if (r.decision === Decision.Allow) return 'allowed';
  if (r.error) return 'error';
  return r.decision === Decision.Deny ? 'denied' : 'no-opinion';
}

export type AuthorizationStepResult =
  | { readonly ok: true; readonly result: AuthorizationResult }
  | (PipelineRefusal & { readonly result?: AuthorizationResult })
  /** The client went away while the review ran: write nothing. */
  | { readonly ok: false; readonly aborted: true; readonly result: AuthorizationResult; readonly response?: undefined };

/**
 * WithAuthorization for one request. Allow → ok (an error alongside Allow is ignored, as in Go); an error with
 * Deny/NoOpinion → 500 `Internal Server Error: "<uri>": <error>`; otherwise 403 with the Kubernetes `Status` body.
 * Stops waiting for the review when `res` closes before it is answered.
 */
export function authorizationStep(
  authorizer: Authorizer,
  attrs: RequestAttributes,
  uri: string,
  res: ServerResponse | undefined,
  logger: Logger = noopLogger,
): Promise<AuthorizationStepResult> {
  return authorize(authorizer, attrs, uri, res, logger).catch((err: unknown) =>
    unexpectedError(logger, 'authorization', err, res?.req?.method ?? attrs?.verb ?? 'GET', uri),
  );
}

async function authorize(
  authorizer: Authorizer,
  attrs: RequestAttributes,
  uri: string,
  res: ServerResponse | undefined,
  logger: Logger,
): Promise<AuthorizationStepResult> {
  const started = performance.now();
  let result: AuthorizationResult | undefined;
  let controller: AbortController | undefined;
  try {
    // Cached and static answers need no I/O, hence no AbortController or `close` listener (≈10 µs a request).
    result = authorizer.authorizeSync?.(attrs);
    if (result === undefined) {
      // Stop waiting for the review when the client goes away (the shared review itself carries on for others).
      const c = (controller = new AbortController());
      const onClose = () => {
        if (!res!.writableEnded) c.abort(new Error('client disconnected'));
      };
      res?.once('close', onClose);
      try {
        result = await authorizer.authorize(attrs, c.signal);
      } finally {
        res?.off('close', onClose);
      }
    }
    if (typeof result !== 'object' || result === null) throw new TypeError('authorizer returned no result');
  } catch (err) {
    return unexpectedError(logger, 'authorization', err, res?.req?.method ?? attrs.verb, uri);
  }
  if (controller?.signal.aborted && result.decision !== Decision.Allow) {
    logger.debug({ uri }, 'client disconnected while authorizing');
    return { ok: false, aborted: true, result };
  }
  if (authorizationChannel.hasSubscribers) {
    const event: AuthorizationEvent = {
      attributes: attrs,
      decision: result.decision,
      reason: result.reason,
      ...(result.error && { error: result.error }),
      result: resultLabel(result),
      durationSeconds: (performance.now() - started) / 1000,
    };
    authorizationChannel.publish(event);
  }
  if (result.decision === Decision.Allow) return { ok: true, result };
  const fields = {
    user: attrs.user?.name,
    verb: attrs.verb,
    ...(attrs.resourceRequest
      ? {
          apiGroup: attrs.apiGroup,
          resource: attrs.resource,
          subresource: attrs.subresource,
          namespace: attrs.namespace,
          name: attrs.name,
        }
      : { path: attrs.path }),
    decision: result.decision,
    reason: result.reason,
  };
  const refusals = refusalLogFor(logger);
  if (result.error) {
    refusals.log(
      'error',
      'authorization',
      `error:${result.error.code ?? result.error.name}`,
      { ...fields, code: result.error.code, error: result.error.message },
      `authorization error: ${result.error.message}`,
    );
    return { ok: false, response: internalError(uri, result.error.message), result };
  }
  refusals.log(
    'info',
    'authorization',
    `forbidden:${attrs.user?.name ?? ''}`,
    fields,
    `forbidden${result.reason ? `: ${result.reason}` : ''}`,
  );
  return { ok: false, response: forbidden(attrs, result.reason), result };
}

/** Everything the full pipeline learns about a request (the fields Koa spreads over `ctx.state`). */
export interface DelegatedAuthState extends AuthenticatedIdentity {
  readonly requestInfo: RequestInfo;
  /** The attributes that were authorized (absent without an authorizer). */
  readonly attributes?: RequestAttributes;
  /** The authorizer's answer (absent without an authorizer). */
  readonly authorization?: AuthorizationResult | undefined;
}

export interface DelegatedAuthPipelineOptions extends AuthenticationStepOptions, RequestInfoOptions {
  /**
   * Decides every request after authentication, e.g. `newDelegatingAuthorizer(...)`. Default: none (authentication
   * only; every authenticated request reaches the handler).
   */
  readonly authorizer?: Authorizer;
}

/**
 * Adapter options from a `createDelegatedAuth()` stack (ConfigMap-backed trust, cached TokenReview and
 * SubjectAccessReview): its authenticator and authorizer, and its live front-proxy header configuration for stripping.
 */
export function delegatedAuthStackOptions(
  stack: Pick<DelegatedAuth, 'authenticator' | 'authorizer' | 'trust'>,
  extra: Omit<DelegatedAuthPipelineOptions, 'authenticator' | 'authorizer' | 'requestHeader'> = {},
): DelegatedAuthPipelineOptions {
  return {
    ...extra,
    authenticator: stack.authenticator,
    authorizer: stack.authorizer,
    requestHeader: { caProvider: stack.trust.requestHeaderCA, configProvider: stack.trust.requestHeaderConfig },
  };
}

/** Per-request hooks an adapter passes to {@link DelegatedAuthPipeline.run}. */
export interface PipelineRunHooks {
  /** Replaces the computed attributes (adapter option `attributes`, bound to the framework's request). */
  readonly attributes?: (defaults: RequestAttributes) => RequestAttributes;
  /** Read after authentication, right before authorizing (a route's `authorizationOverride`). */
  readonly override?: () => AttributesOverride | undefined;
  /** Request-target handling of this adapter. Default: absolute-form rewritten to origin-form, `;` a path char. */
  readonly requestTarget?: RequestTargetStepOptions;
}

export interface DelegatedAuthPipeline {
  /**
   * Runs the chain for one request. `uri` is the request URI as received (before any framework rewrote
   * `req.url`). `response` undefined with ok false means the client went away: write nothing.
   */
  run(
    req: IncomingMessage,
    res: ServerResponse | undefined,
    uri: string,
    hooks?: PipelineRunHooks,
  ): Promise<
    | { readonly ok: true; readonly state: DelegatedAuthState }
    | { readonly ok: false; readonly response?: HttpResponse | undefined; readonly state?: Partial<DelegatedAuthState> }
  >;
}

/** The whole chain for adapters that install one hook (Fastify, node:http, Express `delegatedAuth()`). */
export function delegatedAuthPipeline(options: DelegatedAuthPipelineOptions = {}): DelegatedAuthPipeline {
  const authenticate = authenticationStep(options);
  const authorizer = options.authorizer;
  if (authorizer !== undefined && typeof authorizer?.authorize !== 'function') {
    throw new TypeError('"authorizer" must implement authorize');
  }
  const logger = options.logger ?? noopLogger;
  if (options.refusalLogLimit !== undefined) refusalLogFor(logger, options.refusalLogLimit);
  const infoOptions: RequestInfoOptions = { authorizationSelectors: options.authorizationSelectors === true };
  return {
    async run(req, res, uri, hooks = {}) {
      const method = req.method ?? 'GET';
      const info = requestInfoStep(method, uri, infoOptions, logger, hooks.requestTarget);
      if (!info.ok) return { ok: false, response: info.response };
      if (hooks.requestTarget?.rewriteAbsoluteForm !== false) useOriginForm(req, info.target);
      const authn = await authenticate(req, info.target.path);
      if (!authn.ok) return { ok: false, response: authn.response, state: { requestInfo: info.info } };
      const base: DelegatedAuthState = { requestInfo: info.info, ...authn.identity };
      if (!authorizer) return { ok: true, state: base };
      let attrs: RequestAttributes;
      try {
        attrs = authorizerAttributes(base.user, info.info);
        if (hooks.attributes) attrs = hooks.attributes(attrs);
        attrs = applyAttributesOverride(attrs, hooks.override?.());
      } catch (err) {
        const r = unexpectedError(logger, 'authorization attributes', err, method, uri);
        return { ok: false, response: r.response, state: base };
      }
      const authz = await authorizationStep(authorizer, attrs, uri, res, logger);
      const state = { ...base, attributes: attrs, ...(authz.result && { authorization: authz.result }) };
      if (authz.ok) return { ok: true, state };
      return { ok: false, response: authz.response, state };
    },
  };
}

/**
 * Go's net/http discards at most 256 KiB of a body the handler did not read, then closes the connection rather than
 * read more (`maxPostHandlerReadBytes`). Node would read any unread body to the end to keep the connection.
 */
export const maxDiscardedBodyBytes = 256 * 1024;

/**
 * True when a refused request still has a body that is chunked, of unknown length or above
 * {@link maxDiscardedBodyBytes}: the refusal is then sent with `Connection: close`, so the server never reads the
 * rest (an anonymous 20 MB upload costs the server the bytes already in flight, not 20 MB). A small declared body
 * is discarded by Node as Go discards it, and the keep-alive connection survives.
 */
export function refusalMustClose(req: IncomingMessage | undefined): boolean {
  if (!req || req.complete) return false;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  if (length === undefined) return false;
  const n = Number(length);
  return !(Number.isSafeInteger(n) && n <= maxDiscardedBodyBytes);
}

/** Writes a pipeline response with the plain node:http API (no framework defaults such as ETag or charset). */
export function writeNodeResponse(res: ServerResponse, response: HttpResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = response.status;
  for (const [k, v] of Object.entries(response.headers)) res.setHeader(k, v);
  if (response.status >= 400 && refusalMustClose(res.req)) res.setHeader('connection', 'close');
  res.setHeader('content-length', Buffer.byteLength(response.body));
  res.end(response.body);
}
