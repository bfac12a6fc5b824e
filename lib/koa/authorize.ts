import { channel } from 'node:diagnostics_channel';
import type { Context, Middleware } from 'koa';
import type { UserInfo } from '../authn/interfaces.js';
import {
  Decision,
  type AuthorizationResult,
  type Authorizer,
  type RequestAttributes,
  type RequestInfo,
} from '../authz/interfaces.js';
import { authorizerAttributes } from '../http/request-info.js';
import { forbidden, internalError } from '../http/status.js';
import { noopLogger, type Logger } from '../log.js';
import { writeResponse } from './request-info.js';

/**
 * A per-request authorization override a route sets before `authorize()` runs: either attribute fields that
 * replace the computed ones (e.g. `{ verb: 'get', resource: 'metrics', resourceRequest: true, apiGroup: '' }`,
 * kube-rbac-proxy style), or a function of the computed attributes.
 */
export type AuthorizationOverride =
  Partial<Omit<RequestAttributes, 'user'>> | ((defaults: RequestAttributes) => RequestAttributes);

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
  authorization?: AuthorizationResult;
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
}

/**
 * Published once per authorized request (when someone subscribes): `{ attributes, decision, reason, error,
 * result, durationSeconds }`, `result` being Go's `authorization_attempts_total` label (`allowed`, `denied`,
 * `no-opinion`, `error`). Metrics subscribe here instead of wrapping the middleware.
 */
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

function applyOverride(attrs: RequestAttributes, override: AuthorizationOverride | undefined): RequestAttributes {
  if (override === undefined) return attrs;
  if (typeof override === 'function') return override(attrs);
  return { ...attrs, ...override, user: attrs.user };
}

/**
 * Koa middleware: Go's `WithAuthorization`. Needs `requestInfo()` (and normally `authenticate()`) before it.
 * Allow → next() (an error alongside Allow is ignored, as in Go); an error with Deny/NoOpinion → 500
 * `Internal Server Error: "<uri>": <error>`; otherwise 403 with the Kubernetes `Status` body and the reason.
 */
export function authorize(options: AuthorizeOptions): Middleware<AuthorizeState> {
  const authorizer = options?.authorizer;
  if (typeof authorizer?.authorize !== 'function') throw new TypeError('"authorizer" must implement authorize');
  if (options.attributes !== undefined && typeof options.attributes !== 'function') {
    throw new TypeError('"attributes" must be a function');
  }
  const logger = options.logger ?? noopLogger;

  return async function authorize(ctx, next) {
    const uri = ctx.req.url ?? ctx.url;
    const info = ctx.state.requestInfo;
    if (!info) {
      logger.error({ uri }, 'no RequestInfo found in the context (install requestInfo() before authorize())');
      writeResponse(ctx, internalError(uri, 'no RequestInfo found in the context'));
      return;
    }
    let attrs = authorizerAttributes(ctx.state.user, info);
    if (options.attributes) attrs = options.attributes(ctx as unknown as Context, attrs);
    attrs = applyOverride(attrs, ctx.state.authorizationOverride);
    ctx.state.attributes = attrs;

    const started = performance.now();
    // Cached and static answers need no I/O, hence no AbortController or `close` listener (≈10 µs a request).
    let result = authorizer.authorizeSync?.(attrs);
    let controller: AbortController | undefined;
    if (result === undefined) {
      // Stop waiting for the review when the client goes away (the shared review itself carries on for others).
      const c = (controller = new AbortController());
      const onClose = () => {
        if (!ctx.res.writableEnded) c.abort(new Error('client disconnected'));
      };
      ctx.res.once('close', onClose);
      try {
        result = await authorizer.authorize(attrs, c.signal);
      } finally {
        ctx.res.off('close', onClose);
      }
    }
    ctx.state.authorization = result;
    if (controller?.signal.aborted && result.decision !== Decision.Allow) {
      // Nobody is listening any more: not an authorization failure worth an error line.
      logger.debug({ uri }, 'client disconnected while authorizing');
      return;
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

    if (result.decision === Decision.Allow) {
      await next();
      return;
    }
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
      writeResponse(ctx, internalError(uri, result.error.message));
      return;
    }
    logger.info(fields, `forbidden${result.reason ? `: ${result.reason}` : ''}`);
    writeResponse(ctx, forbidden(attrs, result.reason));
  };
}
