import type { X509Certificate } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
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
import type { KdaError, KdaErrorDetails } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import type { RequestHeaderConfigProvider } from '../trust/interfaces.js';
import { authorizerAttributes, resolveRequestInfo, type RequestInfoOptions } from './request-info.js';
import { stripIdentityHeaders, toAuthnRequest } from './request.js';
import { forbidden, internalError, unauthorized, type HttpResponse } from './status.js';

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

/** WithRequestInfo: the RequestInfo, or the 400/500 Go answers when it cannot be built. */
export function requestInfoStep(
  method: string,
  uri: string,
  options: RequestInfoOptions = {},
  logger: Logger = noopLogger,
): { readonly ok: true; readonly info: RequestInfo } | PipelineRefusal {
  const result = resolveRequestInfo(method, uri, { authorizationSelectors: options.authorizationSelectors === true });
  if (result.ok) return { ok: true, info: result.info };
  if (result.error.details.status === 400) {
    logger.warn({ method, uri, code: result.error.code }, result.error.message);
    return { ok: false, response: badRequestResponse, closeConnection: true };
  }
  const message = `failed to create RequestInfo: ${result.error.message}`;
  logger.error({ method, uri, code: result.error.code }, message);
  return { ok: false, response: internalError(uri, message) };
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
  return async (req, path) => {
    const view = toAuthnRequest(req);
    const started = performance.now();
    const result = await authenticator.authenticateRequest(view);
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
  };
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
  if (!error && declined.length === 0) {
    logger.debug({ method, path, check: 'no-credentials' }, 'request refused: no credentials and anonymous disabled');
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
  logger.warn(fields, `request refused: ${[lead, error?.message].filter(Boolean).join('; ')}`);
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

/**
 * Published once per request (when someone subscribes): `{ result, authenticator, user, error, durationSeconds,
 * peerCertificates }`, `result` being Go's `authentication_attempts` label (`success`, `failure` = no credentials
 * accepted, `error`). lib/metrics subscribes here; every adapter publishes through the steps below.
 */
export const authenticationChannel = channel('kube-delegated-auth:authn');

export interface AuthenticationEvent {
  readonly result: 'success' | 'failure' | 'error';
  /** The authenticator that accepted the request (absent on failure). */
  readonly authenticator?: string;
  readonly user?: UserInfo;
  readonly error?: KdaError;
  readonly durationSeconds: number;
  /**
   * The client certificate chain, leaf first ([] without one); lib/metrics reads the leaf's expiry for Go's
   * `apiserver_client_certificate_expiration_seconds`. Read lazily from the socket, so it costs nothing unless used.
   */
  readonly peerCertificates?: readonly X509Certificate[];
}

/** Published once per authorized request: the decision with Go's `authorization_attempts_total` label. */
export const authorizationChannel = channel('kube-delegated-auth:authz');

export interface AuthorizationEvent {
  readonly attributes: RequestAttributes;
  readonly decision: Decision;
  readonly reason: string;
  readonly error?: Error;
  readonly result: 'allowed' | 'denied' | 'no-opinion' | 'error';
  readonly durationSeconds: number;
}

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
export async function authorizationStep(
  authorizer: Authorizer,
  attrs: RequestAttributes,
  uri: string,
  res: ServerResponse | undefined,
  logger: Logger = noopLogger,
): Promise<AuthorizationStepResult> {
  const started = performance.now();
  // Cached and static answers need no I/O, hence no AbortController or `close` listener (≈10 µs a request).
  let result = authorizer.authorizeSync?.(attrs);
  let controller: AbortController | undefined;
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
  if (result.error) {
    logger.error(
      { ...fields, code: result.error.code, error: result.error.message },
      `authorization error: ${result.error.message}`,
    );
    return { ok: false, response: internalError(uri, result.error.message), result };
  }
  logger.info(fields, `forbidden${result.reason ? `: ${result.reason}` : ''}`);
  return { ok: false, response: forbidden(attrs, result.reason), result };
}

/** Everything the full pipeline learns about a request (the fields Koa spreads over `ctx.state`). */
export interface DelegatedAuthState extends AuthenticatedIdentity {
  readonly requestInfo: RequestInfo;
  /** The attributes that were authorized (absent without an authorizer). */
  readonly attributes?: RequestAttributes;
  /** The authorizer's answer (absent without an authorizer). */
  readonly authorization?: AuthorizationResult;
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
    | { readonly ok: false; readonly response?: HttpResponse; readonly state?: Partial<DelegatedAuthState> }
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
  const infoOptions: RequestInfoOptions = { authorizationSelectors: options.authorizationSelectors === true };
  return {
    async run(req, res, uri, hooks = {}) {
      const method = req.method ?? 'GET';
      const info = requestInfoStep(method, uri, infoOptions, logger);
      if (!info.ok) return { ok: false, response: info.response };
      const authn = await authenticate(req, pathOf(uri));
      if (!authn.ok) return { ok: false, response: authn.response, state: { requestInfo: info.info } };
      const base: DelegatedAuthState = { requestInfo: info.info, ...authn.identity };
      if (!authorizer) return { ok: true, state: base };
      let attrs = authorizerAttributes(base.user, info.info);
      if (hooks.attributes) attrs = hooks.attributes(attrs);
      attrs = applyAttributesOverride(attrs, hooks.override?.());
      const authz = await authorizationStep(authorizer, attrs, uri, res, logger);
      const state = { ...base, attributes: attrs, ...(authz.result && { authorization: authz.result }) };
      if (authz.ok) return { ok: true, state };
      return { ok: false, response: authz.response, state };
    },
  };
}

/** Writes a pipeline response with the plain node:http API (no framework defaults such as ETag or charset). */
export function writeNodeResponse(res: ServerResponse, response: HttpResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = response.status;
  for (const [k, v] of Object.entries(response.headers)) res.setHeader(k, v);
  res.setHeader('content-length', Buffer.byteLength(response.body));
  res.end(response.body);
}
