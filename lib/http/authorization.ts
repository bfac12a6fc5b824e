import type { ServerResponse } from 'node:http';
import type { UserInfo } from '../authn/interfaces.js';
import {
  Decision,
  type AuthorizationResult,
  type Authorizer,
  type RequestAttributes,
  type RequestInfo,
} from '../authz/interfaces.js';
import { authorizationChannel, type AuthorizationEvent } from '../diagnostics.js';
import { noopLogger, type Logger } from '../log.js';
import { refusalLogFor } from '../util/refusal-log.js';
import { authorizerAttributes } from './request-info.js';
import { forbidden, internalError } from './status.js';
import { unexpectedError, type PipelineRefusal } from './unexpected-error.js';
import type { HttpResponse } from './status.js';

/**
 * Go's WithAuthorization, written once: `authorizeRequest()` is what the Koa, Express, Fastify and node:http adapters
 * call (their `authorize()` and the whole-chain pipeline), so the sequence RequestInfo → attributes → per-route
 * override → authorizer → 403/500 exists in one place.
 */

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
  return Promise.resolve(authorizeAttributes(authorizer, attrs, uri, res, logger));
}

/**
 * {@link authorizationStep} without a promise when the authorizer answers at once (`authorizeSync`: a cached
 * review, a static rule): no AbortController, no `close` listener, no microtask.
 */
function authorizeAttributes(
  authorizer: Authorizer,
  attrs: RequestAttributes,
  uri: string,
  res: ServerResponse | undefined,
  logger: Logger,
): AuthorizationStepResult | Promise<AuthorizationStepResult> {
  const started = performance.now();
  let immediate: AuthorizationResult | undefined;
  try {
    immediate = authorizer.authorizeSync?.(attrs);
  } catch (err) {
    return unexpectedError(logger, 'authorization', err, res?.req?.method ?? attrs?.verb ?? 'GET', uri);
  }
  if (immediate !== undefined) return decide(immediate, attrs, uri, res, logger, started, false);
  return authorizeAsync(authorizer, attrs, uri, res, logger, started).catch((err: unknown) =>
    unexpectedError(logger, 'authorization', err, res?.req?.method ?? attrs?.verb ?? 'GET', uri),
  );
}

async function authorizeAsync(
  authorizer: Authorizer,
  attrs: RequestAttributes,
  uri: string,
  res: ServerResponse | undefined,
  logger: Logger,
  started: number,
): Promise<AuthorizationStepResult> {
  // Stop waiting for the review when the client goes away (the shared review itself carries on for others).
  const controller = new AbortController();
  const onClose = () => {
    if (!res!.writableEnded) controller.abort(new Error('client disconnected'));
  };
  res?.once('close', onClose);
  let result: AuthorizationResult;
  try {
    result = await authorizer.authorize(attrs, controller.signal);
  } catch (err) {
    return unexpectedError(logger, 'authorization', err, res?.req?.method ?? attrs.verb, uri);
  } finally {
    res?.off('close', onClose);
  }
  return decide(result, attrs, uri, res, logger, started, controller.signal.aborted);
}

/** The answer for an authorizer's result: ok, the 403/500 (logged once, rate-limited), or aborted. */
function decide(
  result: AuthorizationResult,
  attrs: RequestAttributes,
  uri: string,
  res: ServerResponse | undefined,
  logger: Logger,
  started: number,
  aborted: boolean,
): AuthorizationStepResult {
  if (typeof result !== 'object' || result === null) {
    const err = new TypeError('authorizer returned no result');
    return unexpectedError(logger, 'authorization', err, res?.req?.method ?? attrs.verb, uri);
  }
  if (aborted && result.decision !== Decision.Allow) {
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

/** The request {@link authorizeRequest} decides. */
export interface AuthorizeRequestInput {
  /** From WithRequestInfo; undefined → 500 (the RequestInfo step is not installed before authorization). */
  readonly requestInfo: RequestInfo | undefined;
  /** From WithAuthentication; undefined only without authentication in front (Go then quotes an empty user). */
  readonly user: UserInfo | undefined;
  /** The request URI as received (Go's `RequestURI`, quoted in the 500 text). */
  readonly uri: string;
  readonly method: string;
  /** Its response: when it closes while a review runs, the wait stops and nothing is written. */
  readonly res: ServerResponse | undefined;
}

/** Per-request changes to the computed attributes, in this order. */
export interface AuthorizeRequestHooks {
  /** The adapter's `attributes` option, bound to the framework's request. */
  readonly attributes?: ((defaults: RequestAttributes) => RequestAttributes) | undefined;
  /** A route's `authorizationOverride`. */
  readonly override?: AttributesOverride | undefined;
}

/** What {@link authorizeRequest} decided; `response` undefined with ok false: the client went away, write nothing. */
export type AuthorizeRequestOutcome =
  | {
      readonly ok: true;
      readonly attributes: RequestAttributes;
      readonly result: AuthorizationResult;
      readonly response?: undefined;
    }
  | {
      readonly ok: false;
      readonly response: HttpResponse | undefined;
      readonly attributes?: RequestAttributes;
      readonly result?: AuthorizationResult;
    };

/**
 * Go's WithAuthorization for one request, the one sequence every adapter runs: RequestInfo present (else 500) →
 * `authorizerAttributes(user, requestInfo)` → the adapter's `attributes` hook → the route's override → the
 * authorizer → ok, 403 or 500. Returns the outcome itself, not a promise, when the authorizer answers at once
 * (`authorizeSync`: a cached review or a static rule), so adapters can skip an await on that path.
 */
export function authorizeRequest(
  authorizer: Authorizer,
  request: AuthorizeRequestInput,
  hooks: AuthorizeRequestHooks = {},
  logger: Logger = noopLogger,
): AuthorizeRequestOutcome | Promise<AuthorizeRequestOutcome> {
  const { requestInfo, uri } = request;
  if (!requestInfo) {
    logger.error({ uri }, 'no RequestInfo found in the context (install requestInfo() before authorize())');
    return { ok: false, response: internalError(uri, 'no RequestInfo found in the context') };
  }
  let attrs: RequestAttributes;
  try {
    attrs = authorizerAttributes(request.user, requestInfo);
    if (hooks.attributes) attrs = hooks.attributes(attrs);
    attrs = applyAttributesOverride(attrs, hooks.override);
  } catch (err) {
    return unexpectedError(logger, 'authorization attributes', err, request.method, uri);
  }
  const step = authorizeAttributes(authorizer, attrs, uri, request.res, logger);
  return step instanceof Promise ? step.then((r) => outcomeOf(r, attrs)) : outcomeOf(step, attrs);
}

function outcomeOf(r: AuthorizationStepResult, attributes: RequestAttributes): AuthorizeRequestOutcome {
  if (r.ok) return { ok: true, attributes, result: r.result };
  return r.result
    ? { ok: false, response: r.response, attributes, result: r.result }
    : { ok: false, response: r.response, attributes };
}
