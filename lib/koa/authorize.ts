import type { Context, Middleware } from 'koa';
import type { UserInfo } from '../authn/interfaces.js';
import type { AuthorizationResult, Authorizer, RequestAttributes, RequestInfo } from '../authz/interfaces.js';
import {
  authorizeRequest,
  isPipelineSource,
  type AttributesOverride,
  type AuthorizeRequestOutcome,
  type DelegatedAuthPipelineSource,
} from '../http/pipeline.js';
import { refusalLogFor, type RefusalLogLimit } from '../util/refusal-log.js';
import { noopLogger, type Logger } from '../log.js';
import { writeResponse } from './respond.js';

export { authorizationChannel, type AuthorizationEvent } from '../http/pipeline.js';

/**
 * A per-request authorization override a route sets before `authorize()` runs: either attribute fields that
 * replace the computed ones (e.g. `{ verb: 'get', resource: 'metrics', resourceRequest: true, apiGroup: '' }`,
 * kube-rbac-proxy style), or a function of the computed attributes.
 */
export type AuthorizationOverride = AttributesOverride;

/** What `authorize()` reads from and stores in `ctx.state`. */
export interface AuthorizeState {
  /** Set by `authenticate()`. */
  user?: UserInfo;
  /** Set by `requestInfo()`. */
  requestInfo?: RequestInfo;
  /** Honoured when present (see `AuthorizationOverride`). */
  authorizationOverride?: AuthorizationOverride;
  /** The attributes that were authorized. */
  attributes?: RequestAttributes;
  /** The authorizer's answer (decision, reason, error), for logging and metrics downstream. */
  authorization?: AuthorizationResult | undefined;
}

export interface AuthorizeOptions {
  /** Decides every request, e.g. `unionAuthorizers(alwaysAllowGroups, alwaysAllowPaths, sar)`. Required. */
  readonly authorizer: Authorizer;
  /**
   * Per-route attributes: receives the attributes computed from the user and RequestInfo and returns the ones to
   * authorize. Runs before `ctx.state.authorizationOverride` is applied. Default: the computed attributes.
   */
  readonly attributes?: (ctx: Context, defaults: RequestAttributes) => RequestAttributes;
  /** 403s log at info and 500s at error, once each with the reason. Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
  /** Rate limit of refusal lines per cause on `logger` (see `authenticate()`). Default 10 per cause per 10 s. */
  readonly refusalLogLimit?: RefusalLogLimit;
}

/** The adapter options of `authorize(stack, options)`: everything but the authorizer, which is the stack's. */
export type AuthorizeStackOptions = Omit<AuthorizeOptions, 'authorizer'>;

function authorizeOptionsOf(
  source: DelegatedAuthPipelineSource | AuthorizeOptions,
  extra: AuthorizeStackOptions,
): AuthorizeOptions {
  if (!isPipelineSource(source)) return source;
  const stack = source.pipelineOptions();
  const logger = extra.logger ?? stack.logger;
  if (!stack.authorizer) throw new TypeError('the stack has no authorizer');
  return {
    authorizer: stack.authorizer,
    ...(extra.attributes && { attributes: extra.attributes }),
    ...(logger && { logger }),
    ...(extra.refusalLogLimit && { refusalLogLimit: extra.refusalLogLimit }),
  };
}

/**
 * Koa middleware: Go's WithAuthorization (lib/http/pipeline's `authorizeRequest`), after `requestInfo()` and
 * `authenticate()`. Takes a stack (`createDelegatedAuth()`) or options with an `authorizer`. Publishes once per
 * authorized request on `kube-delegated-auth:authz` (when someone subscribes): `{ attributes, decision, reason,
 * error, result, durationSeconds }`, `result` being Go's `authorization_attempts_total` label. A cached or static
 * answer is given without awaiting the authorizer.
 */
export function authorize(
  source: DelegatedAuthPipelineSource | AuthorizeOptions,
  stackOptions: AuthorizeStackOptions = {},
): Middleware<AuthorizeState> {
  const options = authorizeOptionsOf(source, stackOptions);
  const authorizer = options?.authorizer;
  if (typeof authorizer?.authorize !== 'function') throw new TypeError('"authorizer" must implement authorize');
  const attributes = options.attributes;
  if (attributes !== undefined && typeof attributes !== 'function') {
    throw new TypeError('"attributes" must be a function');
  }
  const logger = options.logger ?? noopLogger;
  if (options.refusalLogLimit !== undefined) refusalLogFor(logger, options.refusalLogLimit);

  return function authorize(ctx, next) {
    const state = ctx.state;
    const outcome = authorizeRequest(
      authorizer,
      {
        requestInfo: state.requestInfo,
        user: state.user,
        uri: ctx.req.url ?? ctx.url,
        method: ctx.method,
        res: ctx.res,
      },
      {
        attributes: attributes && ((defaults) => attributes(ctx as unknown as Context, defaults)),
        override: state.authorizationOverride,
      },
      logger,
    );
    if (outcome instanceof Promise) return outcome.then((o) => settle(ctx, o, next));
    return settle(ctx, outcome, next);
  };
}

/** Stores what was decided in `ctx.state`; next() when allowed, the refusal otherwise (nothing when aborted). */
function settle(
  ctx: { state: AuthorizeState } & Parameters<typeof writeResponse>[0],
  outcome: AuthorizeRequestOutcome,
  next: () => Promise<unknown>,
): Promise<void> {
  if (outcome.attributes) ctx.state.attributes = outcome.attributes;
  if (outcome.result) ctx.state.authorization = outcome.result;
  if (outcome.ok) return next().then(() => undefined);
  if (outcome.response) writeResponse(ctx, outcome.response);
  return Promise.resolve();
}

/**
 * A per-route guard (kube-rbac-proxy style) for `@koa/router` or any Koa router: authorizes the route's own
 * attributes for the authenticated user, e.g.
 * `router.get('/metrics', authorizeRoute(stack, { verb: 'get', resource: 'metrics', resourceRequest: true }), h)`.
 * Needs `requestInfo()` and `authenticate()` (or `delegatedAuth()`) before it; with `delegatedAuth()` in front, the
 * request must pass both checks. 403/500 as Go.
 */
export function authorizeRoute(
  source: DelegatedAuthPipelineSource | AuthorizeOptions,
  override: AuthorizationOverride,
  stackOptions: AuthorizeStackOptions = {},
): Middleware<AuthorizeState> {
  if (override === null || (typeof override !== 'object' && typeof override !== 'function')) {
    throw new TypeError('"override" must be attribute fields or a function');
  }
  const check = authorize(source, stackOptions);
  return function authorizeRoute(ctx, next) {
    ctx.state.authorizationOverride = override;
    return check(ctx, next);
  };
}
