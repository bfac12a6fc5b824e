import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestAttributes } from '../authz/interfaces.js';
import { checkRequestTarget } from '../http/request-target.js';
import {
  badRequestResponse,
  delegatedAuthPipeline,
  requestTargetResponse,
  unexpectedError,
  writeNodeResponse,
  type AttributesOverride,
  type DelegatedAuthPipelineOptions,
  type DelegatedAuthState,
} from '../http/pipeline.js';
import { KdaError } from '../errors.js';
import { exposedErrorStatus } from '../http/status.js';
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
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const uri = request.raw.url ?? request.url;
    let r: Awaited<ReturnType<typeof pipeline.run>>;
    try {
      r = await pipeline.run(request.raw, reply.raw, uri, {
        ...(attributes && { attributes: (d: RequestAttributes) => attributes(request, d) }),
        ...(authorizationOverride && { override: () => authorizationOverride(request) }),
        requestTarget,
      });
    } catch (err) {
      // Never thrown to Fastify: its error handler would put the exception message in the body.
      r = { ok: false, response: unexpectedError(logger, 'delegated auth', err, request.method, uri).response };
    }
    if (r.ok) {
      request.kubeAuth = r.state;
      return;
    }
    if (!r.response) {
      // The client went away during the review: nothing to answer, and the route must not run.
      reply.hijack();
      reply.raw.end();
      return reply;
    }
    // Written raw: reply.send() would append "; charset=utf-8" to application/json.
    reply.hijack();
    writeNodeResponse(reply.raw, r.response);
    return reply;
  });
};

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

// fastify-plugin's markers, without the dependency: the hook applies to the registering scope, not a child context;
// the name shows in Fastify's errors and `hasPlugin()`, and lets other plugins declare `dependencies` on it; Fastify
// refuses to load it on a major it was not written for (FST_ERR_PLUGIN_VERSION_MISMATCH).
(fastifyDelegatedAuth as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(fastifyDelegatedAuth as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] =
  'kube-delegated-auth';
(fastifyDelegatedAuth as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')] = Object.freeze({
  name: 'kube-delegated-auth',
  fastify: '4.x || 5.x',
});

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

export interface KubeErrorHandlerOptions {
  /** Where errors are logged (message and stack at error). Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
}

/**
 * Pass to `fastify.setErrorHandler(kubeErrorHandler())`: Fastify's default handler puts the exception message of a
 * route's 500 in the JSON body. This answers a 4xx error (validation, `statusCode` 4xx) with a Kubernetes `Status`
 * carrying its message, and anything else with Go's panic text (a fixed 500), the message and stack in the log only.
 * The plugin's own hook never throws, so this only concerns the application's routes.
 */
export function kubeErrorHandler(
  options: KubeErrorHandlerOptions = {},
): (error: unknown, request: FastifyRequest, reply: FastifyReply) => void {
  const logger = options.logger ?? noopLogger;
  return function kubeErrorHandler(error, request, reply) {
    const uri = request.raw.url ?? request.url;
    const response =
      exposedErrorStatus(error) ?? unexpectedError(logger, 'route handler', error, request.method, uri).response;
    reply.hijack();
    if (reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    writeNodeResponse(reply.raw, response);
  };
}
