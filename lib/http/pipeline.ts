import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticationStep, type AuthenticatedIdentity, type AuthenticationStepOptions } from './authentication.js';
import type { AuthorizationResult, Authorizer, RequestAttributes, RequestInfo } from '../authz/interfaces.js';
import {
  authenticationChannel,
  authorizationChannel,
  type AuthenticationEvent,
  type AuthorizationEvent,
} from '../diagnostics.js';
import { noopLogger, type Logger } from '../log.js';
import { refusalLogFor } from '../util/refusal-log.js';
import { resolveRequestInfo, type RequestInfoOptions } from './request-info.js';
import {
  checkRequestTarget,
  type AcceptedRequestTarget,
  type RefusedRequestTarget,
  type RequestTargetOptions,
} from './request-target.js';
import { internalError, statusFailure, type HttpResponse } from './status.js';
import { authorizeRequest, type AttributesOverride, type AuthorizeRequestOutcome } from './authorization.js';
import { unexpectedError, type PipelineRefusal } from './unexpected-error.js';

/**
 * The framework-agnostic steps of Go's handler chain (WithRequestInfo → WithAuthentication → WithAuthorization)
 * that the Express, Fastify and node:http adapters share. Each step either produces state for the next one or the
 * exact response Go writes; the adapters only read the request and write the response.
 */

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

export { unexpectedError, routeErrorResponse, type PipelineRefusal } from './unexpected-error.js';
export {
  applyAttributesOverride,
  authorizationStep,
  authorizeRequest,
  type AttributesOverride,
  type AuthorizationStepResult,
  type AuthorizeRequestHooks,
  type AuthorizeRequestInput,
  type AuthorizeRequestOutcome,
} from './authorization.js';
// The channels and their event types are declared once in lib/diagnostics; re-exported here for compatibility.
export { authenticationChannel, authorizationChannel, type AuthenticationEvent, type AuthorizationEvent };

export {
  authenticationStep,
  logAuthenticationRefusal,
  pathOf,
  type AuthenticatedIdentity,
  type AuthenticationStepOptions,
  type AuthenticationStepResult,
} from './authentication.js';

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
 * What an adapter's `delegatedAuth(stack)` accepts: an assembled stack (`createDelegatedAuth()`) that hands over its
 * authenticator, authorizer and live front-proxy header configuration, so no adapter re-derives them.
 */
export interface DelegatedAuthPipelineSource {
  pipelineOptions(): DelegatedAuthPipelineOptions;
}

/** True for a {@link DelegatedAuthPipelineSource} (a stack), false for plain pipeline options. */
export function isPipelineSource(value: unknown): value is DelegatedAuthPipelineSource {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<DelegatedAuthPipelineSource>).pipelineOptions === 'function'
  );
}

/**
 * The pipeline options of `source`: a stack's, with the adapter's own `extra` options (logger, per-route hooks, ...)
 * laid over them; or `source` itself when it is plain options.
 */
export function pipelineOptionsOf<O extends DelegatedAuthPipelineOptions>(
  source: DelegatedAuthPipelineSource | O,
  extra?: Partial<O>,
): O {
  if (!isPipelineSource(source)) return source;
  const out: Record<string, unknown> = { ...source.pipelineOptions() };
  if (extra) for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out as O;
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
  ): PipelineRunResult | Promise<PipelineRunResult>;
}

/**
 * What {@link DelegatedAuthPipeline.run} decided; given as such, not as a promise, when every step answered at once
 * (a certificate or cached token identity, a cached or static authorization).
 */
export type PipelineRunResult =
  | { readonly ok: true; readonly state: DelegatedAuthState }
  | { readonly ok: false; readonly response?: HttpResponse | undefined; readonly state?: Partial<DelegatedAuthState> };

/**
 * The state handed to the handler, built field by field: the same keys as spreading the identity and the optional
 * answers, without the temporary objects (`audiences`, `attributes`, `authorization` only when present).
 */
function stateOf(
  requestInfo: RequestInfo,
  identity: AuthenticatedIdentity,
  attributes?: RequestAttributes,
  authorization?: AuthorizationResult,
): DelegatedAuthState {
  const state: { -readonly [K in keyof DelegatedAuthState]: DelegatedAuthState[K] } = {
    requestInfo,
    user: identity.user,
    authenticator: identity.authenticator,
  };
  if (identity.audiences) state.audiences = identity.audiences;
  if (attributes) state.attributes = attributes;
  if (authorization) state.authorization = authorization;
  return state;
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
    run(req, res, uri, hooks = {}) {
      try {
        const method = req.method ?? 'GET';
        const info = requestInfoStep(method, uri, infoOptions, logger, hooks.requestTarget);
        if (!info.ok) return { ok: false, response: info.response };
        if (hooks.requestTarget?.rewriteAbsoluteForm !== false) useOriginForm(req, info.target);
        const authn = authenticate(req, info.target.path);
        if (authn instanceof Promise) return authn.then((a) => authorize(req, res, uri, hooks, info.info, a));
        return authorize(req, res, uri, hooks, info.info, authn);
      } catch (err) {
        // What escapes (an adapter hook such as a route's override that throws) rejects, as it always has: the
        // adapters answer a rejection, never a synchronous throw.
        return Promise.reject(err);
      }
    },
  };

  /** The rest of the chain after authentication; a promise only when the authorizer has no answer at once. */
  function authorize(
    req: IncomingMessage,
    res: ServerResponse | undefined,
    uri: string,
    hooks: PipelineRunHooks,
    requestInfo: RequestInfo,
    authn: Awaited<ReturnType<typeof authenticate>>,
  ): PipelineRunResult | Promise<PipelineRunResult> {
    if (!authn.ok) return { ok: false, response: authn.response, state: { requestInfo } };
    const identity = authn.identity;
    if (!authorizer) return { ok: true, state: stateOf(requestInfo, identity) };
    const pending = authorizeRequest(
      authorizer,
      { requestInfo, user: identity.user, uri, method: req.method ?? 'GET', res },
      { attributes: hooks.attributes, override: hooks.override?.() },
      logger,
    );
    if (pending instanceof Promise) return pending.then((authz) => decided(requestInfo, identity, authz));
    return decided(requestInfo, identity, pending);
  }
}

function decided(
  requestInfo: RequestInfo,
  identity: AuthenticatedIdentity,
  authz: AuthorizeRequestOutcome,
): PipelineRunResult {
  const state = stateOf(requestInfo, identity, authz.attributes, authz.result);
  if (authz.ok) return { ok: true, state };
  return { ok: false, response: authz.response, state };
}
