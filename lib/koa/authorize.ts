import type { Context, Middleware } from 'koa';
import type { UserInfo } from '../authn/interfaces.js';
import type { AuthorizationResult, Authorizer, RequestAttributes, RequestInfo } from '../authz/interfaces.js';
import {
  applyAttributesOverride,
  authorizationStep,
  unexpectedError,
  type AttributesOverride,
} from '../http/pipeline.js';
import { refusalLogFor, type RefusalLogLimit } from '../util/refusal-log.js';
import { authorizerAttributes } from '../http/request-info.js';
import { internalError } from '../http/status.js';
import { noopLogger, type Logger } from '../log.js';
import { writeResponse } from './request-info.js';

export { authorizationChannel, type AuthorizationEvent } from '../http/pipeline.js';

/**
 * A per-request authorization override a route sets before `authorize()` runs: either attribute fields that
 * replace the computed ones (e.g. `{ verb: 'get', resource: 'metrics', resourceRequest: true, apiGroup: '' }`,
 * kube-rbac-proxy style), or a function of the computed attributes.
 */
/** Attribute fields that replace the computed ones, or a function of them (kube-rbac-proxy style per-route checks). */
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

/**
 * Published once per authorized request (when someone subscribes): `{ attributes, decision, reason, error,
 * result, durationSeconds }`, `result` being Go's `authorization_attempts_total` label (`allowed`, `denied`,
 * `no-opinion`, `error`). Metrics subscribe here instead of wrapping the middleware.
 */
export function authorize(options: AuthorizeOptions): Middleware<AuthorizeState> {
  const authorizer = options?.authorizer;
  if (typeof authorizer?.authorize !== 'function') throw new TypeError('"authorizer" must implement authorize');
  if (options.attributes !== undefined && typeof options.attributes !== 'function') {
    throw new TypeError('"attributes" must be a function');
  }
  const logger = options.logger ?? noopLogger;
  if (options.refusalLogLimit !== undefined) refusalLogFor(logger, options.refusalLogLimit);

  return async function authorize(ctx, next) {
    const uri = ctx.req.url ?? ctx.url;
    const info = ctx.state.requestInfo;
    if (!info) {
      logger.error({ uri }, 'no RequestInfo found in the context (install requestInfo() before authorize())');
      writeResponse(ctx, internalError(uri, 'no RequestInfo found in the context'));
      return;
    }
    let attrs: RequestAttributes;
    try {
      attrs = authorizerAttributes(ctx.state.user, info);
      if (options.attributes) attrs = options.attributes(ctx as unknown as Context, attrs);
      attrs = applyAttributesOverride(attrs, ctx.state.authorizationOverride);
    } catch (err) {
      writeResponse(ctx, unexpectedError(logger, 'authorization attributes', err, ctx.method, uri).response);
      return;
    }
    ctx.state.attributes = attrs;

    const outcome = await authorizationStep(authorizer, attrs, uri, ctx.res, logger);
    ctx.state.authorization = outcome.result;
    if (outcome.ok) {
      await next();
      return;
    }
    // No response: the client went away while the review ran.
    if (outcome.response) writeResponse(ctx, outcome.response);
  };
}
