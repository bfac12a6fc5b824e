import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteGenericInterface,
} from 'fastify';
import type { RequestAttributes } from '../authz/interfaces.js';
import { checkRequestTarget } from '../http/request-target.js';
import type { Authorizer } from '../authz/interfaces.js';
import {
  authorizeRequest,
  badRequestResponse,
  delegatedAuthPipeline,
  isPipelineSource,
  pipelineOptionsOf,
  requestTargetResponse,
  routeErrorResponse,
  unexpectedError,
  type AttributesOverride,
  type DelegatedAuthPipelineOptions,
  type DelegatedAuthPipelineSource,
  type DelegatedAuthState,
  type PipelineRunResult,
} from '../http/pipeline.js';
import { writeNodeResponse } from '../http/respond.js';
import { KdaError } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the kube-delegated-auth plugin's onRequest hook; null before it ran (or on routes outside it). */
    kubeAuth: DelegatedAuthState | null;
  }
}

export interface FastifyDelegatedAuthOptions extends DelegatedAuthPipelineOptions {
  /**
   * Per-route attributes: receives the attributes computed from the user and RequestInfo, returns the ones to
   * authorize (e.g. from `request.routeOptions.config`). Default: the computed attributes.
   */
  readonly attributes?: (request: FastifyRequest, defaults: RequestAttributes) => RequestAttributes;
  /**
   * Per-request override applied after `attributes` (kube-rbac-proxy style fields, or a function). Default: none.
   */
  readonly authorizationOverride?: (request: FastifyRequest) => AttributesOverride | undefined;
}

/**
 * Fastify plugin: one `onRequest` hook (before body parsing) running WithRequestInfo → WithAuthentication →
 * WithAuthorization (authorization only when `authorizer` is given) and storing the outcome in `request.kubeAuth`.
 * Not encapsulated (like fastify-plugin's skip-override), so it guards every route registered on the instance it is
 * registered on. Refusals carry the exact status, headers and body of the Koa middleware.
 */
export const fastifyDelegatedAuth: FastifyPluginAsync<FastifyDelegatedAuthOptions> = async function kubeDelegatedAuth(
  fastify: FastifyInstance,
  options: FastifyDelegatedAuthOptions,
) {
  if (options.attributes !== undefined && typeof options.attributes !== 'function') {
    throw new TypeError('"attributes" must be a function');
  }
  const pipeline = delegatedAuthPipeline(options);
  const logger = options.logger ?? noopLogger;
  const { attributes, authorizationOverride } = options;
  // find-my-way routed before this hook runs: refuse what it would have routed differently from the authorized path.
  // It strips an absolute-form scheme and host as lib/http/request-target does; `;` and a trailing slash depend on
  // its options.
  const requestTarget = {
    semicolonDelimiter: routerOption(fastify, 'useSemicolonDelimiter'),
    trailingSlashIgnored: routerOption(fastify, 'ignoreTrailingSlash'),
  };
  if (!fastify.hasRequestDecorator('kubeAuth')) fastify.decorateRequest('kubeAuth', null);
  // Callback style, not async: a request decided at once (certificate or cached identity, cached authorization)
  // goes on to the route without a promise; one that waits for a review continues when it settles.
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const uri = request.raw.url ?? request.url;
    let r: PipelineRunResult | Promise<PipelineRunResult>;
    try {
      r = pipeline.run(request.raw, reply.raw, uri, {
        ...(attributes && { attributes: (d: RequestAttributes) => attributes(request, d) }),
        ...(authorizationOverride && { override: () => authorizationOverride(request) }),
        requestTarget,
      });
    } catch (err) {
      r = refusal(logger, request, uri, err);
    }
    if (r instanceof Promise) {
      r.then(
        (outcome) => settle(request, reply, outcome, done),
        (err: unknown) => settle(request, reply, refusal(logger, request, uri, err), done),
      );
    } else settle(request, reply, r, done);
  });
};

/** The answer to what escaped the pipeline (a hook that threw): a module function, no closure per request. */
function refusal(logger: Logger, request: FastifyRequest, uri: string, err: unknown): PipelineRunResult {
  // Never thrown to Fastify: its error handler would put the exception message in the body.
  return { ok: false, response: unexpectedError(logger, 'delegated auth', err, request.method, uri).response };
}

/** Admits the request (`request.kubeAuth`) or writes the refusal and ends it; then hands back to Fastify. */
function settle(
  request: FastifyRequest,
  reply: FastifyReply,
  r: PipelineRunResult,
  done: HookHandlerDoneFunction,
): void {
  try {
    if (r.ok) {
      request.kubeAuth = r.state;
    } else if (!r.response) {
      // The client went away during the review: nothing to answer, and the route must not run.
      reply.hijack();
      reply.raw.end();
    } else {
      // Written raw: reply.send() would append "; charset=utf-8" to application/json.
      reply.hijack();
      writeNodeResponse(reply.raw, r.response);
    }
  } catch (err) {
    done(err as Error);
    return;
  }
  // After hijack() Fastify runs nothing more for this request (no other hook, no route).
  done();
}

/**
 * `request.kubeAuth`, non-null, for a route the plugin guards: `const { user } = kubeAuthOf(request)`. The decorator
 * is `null` until the hook ran (routes outside the plugin's scope); this throws `KdaError` `ERR_KDA_NO_USER` then,
 * which `kubeErrorHandler` answers as a 500 Status: a route wired outside the plugin fails closed, never anonymous.
 */
export function kubeAuthOf(request: FastifyRequest): DelegatedAuthState {
  const state = request.kubeAuth;
  if (state === null || state === undefined) {
    throw new KdaError(
      'ERR_KDA_NO_USER',
      'request.kubeAuth is not set: the route is not guarded by kube-delegated-auth',
    );
  }
  return state;
}

/** A boolean find-my-way option of this instance (`routerOptions` first, as Fastify merges them). */
function routerOption(fastify: FastifyInstance, name: 'useSemicolonDelimiter' | 'ignoreTrailingSlash'): boolean {
  const config = fastify.initialConfig as { routerOptions?: Record<string, unknown> } & Record<string, unknown>;
  return (config.routerOptions?.[name] ?? config[name]) === true;
}

// fastify-plugin's markers, without the dependency (fastify-plugin is not installed): the hook applies to the
// registering scope, not a child context; the name shows in Fastify's errors and `hasPlugin()`, and lets other plugins
// declare `dependencies` on it; Fastify refuses to load it on a major it was not written for
// (FST_ERR_PLUGIN_VERSION_MISMATCH).
function markPlugin<T extends object>(plugin: T): T {
  const p = plugin as unknown as Record<symbol, unknown>;
  p[Symbol.for('skip-override')] = true;
  p[Symbol.for('fastify.display-name')] = 'kube-delegated-auth';
  p[Symbol.for('plugin-meta')] = Object.freeze({ name: 'kube-delegated-auth', fastify: '4.x || 5.x' });
  return plugin;
}
markPlugin(fastifyDelegatedAuth);

/** The adapter's own options for `delegatedAuth(stack, options)`. */
export type FastifyAdapterOptions = Pick<
  FastifyDelegatedAuthOptions,
  'attributes' | 'authorizationOverride' | 'logger' | 'refusalLogLimit'
>;

/**
 * The plugin bound to a `createDelegatedAuth()` stack or to options, the factory shape every adapter has:
 * `await app.register(delegatedAuth(stack))`. Same metadata and behaviour as {@link fastifyDelegatedAuth}.
 */
export function delegatedAuth(
  source: DelegatedAuthPipelineSource | FastifyDelegatedAuthOptions = {},
  adapterOptions: FastifyAdapterOptions = {},
): FastifyPluginAsync {
  const options = pipelineOptionsOf<FastifyDelegatedAuthOptions>(source, adapterOptions);
  return markPlugin(async function kubeDelegatedAuth(fastify: FastifyInstance) {
    await fastifyDelegatedAuth(fastify, options);
  });
}

/** The authorizer of `authorizeRoute(options, ...)`, and where its refusals are logged. */
export interface FastifyAuthorizeOptions {
  readonly authorizer: Authorizer;
  /** 403s log at info and 500s at error. Default: the stack's logger, or silent (NODE_DEBUG-able). */
  readonly logger?: Logger;
}

/**
 * A per-route guard (kube-rbac-proxy style) as a route `onRequest` hook, run after the plugin's:
 * `app.get('/metrics', { onRequest: authorizeRoute(stack, { verb: 'get', path: '/metrics', resourceRequest: false })
 * }, handler)`. Authorizes the route's own attributes for `request.kubeAuth.user` and records them in
 * `request.kubeAuth`; register the plugin without an authorizer (`delegatedAuth({ authenticator })`) to authorize per
 * route only, or with one for both checks. A route the plugin does not guard fails closed (500: no RequestInfo).
 * The same guard as Koa's and Express's `authorizeRoute()`.
 */
export function authorizeRoute(
  source: DelegatedAuthPipelineSource | FastifyAuthorizeOptions,
  override: AttributesOverride,
  options: Pick<FastifyAuthorizeOptions, 'logger'> = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  if (override === null || (typeof override !== 'object' && typeof override !== 'function')) {
    throw new TypeError('"override" must be attribute fields or a function');
  }
  const base = isPipelineSource(source) ? source.pipelineOptions() : source;
  const authorizer = base.authorizer;
  if (typeof authorizer?.authorize !== 'function') throw new TypeError('"authorizer" must implement authorize');
  const logger = options.logger ?? base.logger ?? noopLogger;
  return async function authorizeRoute(request, reply) {
    const state = request.kubeAuth;
    const pending = authorizeRequest(
      authorizer,
      {
        requestInfo: state?.requestInfo,
        user: state?.user,
        uri: request.raw.url ?? request.url,
        method: request.method,
        res: reply.raw,
      },
      { override },
      logger,
    );
    const outcome = pending instanceof Promise ? await pending : pending;
    if (outcome.ok) {
      request.kubeAuth = { ...state!, attributes: outcome.attributes, authorization: outcome.result };
      return undefined;
    }
    reply.hijack();
    if (outcome.response) writeNodeResponse(reply.raw, outcome.response);
    else reply.raw.end();
    return reply;
  };
}

/** A request on a route the plugin guards: `kubeAuth` is set (never null). */
export type KubeAuthRequest<RouteGeneric extends RouteGenericInterface = RouteGenericInterface> =
  FastifyRequest<RouteGeneric> & { readonly kubeAuth: DelegatedAuthState };

/**
 * Wraps a route handler so that it gets a {@link KubeAuthRequest} (`request.kubeAuth.user` without a null check):
 * `app.get('/widgets', authenticated(async (request) => request.kubeAuth.user.name))`. On a route the plugin does not
 * guard it fails closed (`kubeAuthOf`'s `ERR_KDA_NO_USER`, a 500 through `statusErrorHandler()`), never anonymous.
 */
export function authenticated<RouteGeneric extends RouteGenericInterface = RouteGenericInterface, R = unknown>(
  handler: (request: KubeAuthRequest<RouteGeneric>, reply: FastifyReply) => R,
): (request: FastifyRequest<RouteGeneric>, reply: FastifyReply) => R {
  return function authenticatedHandler(request, reply) {
    kubeAuthOf(request as FastifyRequest);
    return handler(request as KubeAuthRequest<RouteGeneric>, reply);
  };
}

/**
 * Pass as `Fastify({ frameworkErrors: kubeFrameworkErrors })`: Fastify's router refuses some targets (a malformed `%`
 * escape, escapes that are not UTF-8, `#` in an absolute-form target: FST_ERR_BAD_URL) before any hook runs; this
 * answers them as the other adapters do (Go's plain-text `400 Bad Request` with the connection closed, or the
 * `BadRequest` Status of lib/http/request-target). Other framework errors keep Fastify's default 400 JSON.
 */
export function kubeFrameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_BAD_URL') {
    const target = checkRequestTarget(request.raw.url ?? '');
    reply.hijack();
    writeNodeResponse(reply.raw, target.ok ? badRequestResponse : requestTargetResponse(target));
    return;
  }
  reply.code(400).send({ error: 'Bad Request', code: error.code, message: error.message, statusCode: 400 });
}

export interface StatusErrorHandlerOptions {
  /** Where errors are logged (message and stack at error; Status errors at info). Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
}

/** @deprecated The former name of {@link StatusErrorHandlerOptions}. */
export type KubeErrorHandlerOptions = StatusErrorHandlerOptions;

/**
 * Pass to `fastify.setErrorHandler(statusErrorHandler())`: Fastify's default handler puts the exception message of a
 * route's 500 in the JSON body. `statusError(...)`/`KubeStatusError` are answered as built, a 4xx error
 * (validation, `statusCode` 4xx) as a Kubernetes `Status` carrying its message, and anything else as Go's panic text
 * (a fixed 500), the message and stack in the log only. The plugin's own hook never throws, so this only concerns
 * the application's routes. The same as Koa's and Express's `statusErrorHandler()`.
 */
export function statusErrorHandler(
  options: StatusErrorHandlerOptions = {},
): (error: unknown, request: FastifyRequest, reply: FastifyReply) => void {
  const logger = options.logger ?? noopLogger;
  return function statusErrorHandler(error, request, reply) {
    const uri = request.raw.url ?? request.url;
    reply.hijack();
    if (reply.raw.headersSent) {
      unexpectedError(logger, 'route handler', error, request.method, uri);
      reply.raw.destroy();
      return;
    }
    writeNodeResponse(reply.raw, routeErrorResponse(logger, error, request.method, uri));
  };
}

/** @deprecated The former name of {@link statusErrorHandler}. */
export const kubeErrorHandler = statusErrorHandler;
