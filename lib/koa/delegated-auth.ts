import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import type { RequestAuthenticator } from '../authn/interfaces.js';
import type { Authorizer } from '../authz/interfaces.js';
import { createDelegatedAuth, type DelegatedAuth, type DelegatedAuthOptions } from '../delegated-auth.js';
import {
  isPipelineSource,
  routeErrorResponse,
  type DelegatedAuthPipelineOptions,
  type DelegatedAuthPipelineSource,
  type DelegatedAuthState,
} from '../http/pipeline.js';
import { noopLogger, type Logger } from '../log.js';
import type { RefusalLogLimit } from '../util/refusal-log.js';
import { authenticate } from './authenticate.js';
import { authorize, type AuthorizationOverride, type AuthorizeOptions } from './authorize.js';
import { requestInfo } from './request-info.js';
import { writeResponse } from './respond.js';

/**
 * What the Koa chain keeps in `ctx.state`, typed: `new Koa<DelegatedAuthKoaState>()` or
 * `Router<DelegatedAuthKoaState>` gives routes `ctx.state.user` without casts. `user`, `authenticator` and
 * `requestInfo` are set on every request a handler sees behind `delegatedAuth()`; `attributes` and `authorization`
 * when an authorizer ran.
 */
export interface DelegatedAuthKoaState extends DelegatedAuthState {
  /** Set by a route (or `authorizeRoute()`) before `authorize()` to check other attributes. */
  authorizationOverride?: AuthorizationOverride;
}

/** The adapter's own options, for `delegatedAuth(stack, options)` and on top of the stack options. */
export interface KoaAdapterOptions {
  /** Per-route override of the authorization attributes (see `authorize()`). Default: the computed attributes. */
  readonly attributes?: AuthorizeOptions['attributes'];
  /** Default: the stack's logger (silent; NODE_DEBUG=kube-delegated-auth prints). */
  readonly logger?: Logger;
  /** Rate limit of refusal lines per cause on `logger`. Default 10 per cause per 10 s. */
  readonly refusalLogLimit?: RefusalLogLimit;
}

/** `delegatedAuth(options)`: the stack's options (`createDelegatedAuth()`) and the adapter's. */
export interface KoaDelegatedAuthOptions extends DelegatedAuthOptions, KoaAdapterOptions {
  readonly logger?: Logger;
}

/**
 * `delegatedAuth(parts)`: the chain over an authenticator and authorizer of your own (no stack, no lifecycle), e.g.
 * `newDelegatingAuthenticator(...)` and `newDelegatingAuthorizer(...)`.
 */
export interface KoaDelegatedAuthParts
  extends Omit<DelegatedAuthPipelineOptions, 'authenticator' | 'authorizer'>, KoaAdapterOptions {
  readonly authenticator: RequestAuthenticator;
  readonly authorizer: Authorizer;
}

/**
 * `delegatedAuth(options)`: the Koa middleware, which also is the stack it built (`start()`, `close()`, `status()`,
 * the authenticator and authorizer, ...). `middleware` is the function itself, kept for `app.use(auth.middleware)`.
 */
export type KoaDelegatedAuth = Middleware<DelegatedAuthKoaState> &
  DelegatedAuth & {
    /** requestInfo() → authenticate() → authorize(), in Go's handler-chain order (this function itself). */
    readonly middleware: Middleware<DelegatedAuthKoaState>;
  };

/** The chain as one middleware: requestInfo() → authenticate() → authorize() composed with koa-compose. */
function chain(
  source: DelegatedAuthPipelineSource | KoaDelegatedAuthParts,
  options: KoaAdapterOptions,
): Middleware<DelegatedAuthKoaState> {
  const parts = isPipelineSource(source) ? source.pipelineOptions() : source;
  const logger = options.logger ?? parts.logger;
  const refusalLogLimit = options.refusalLogLimit ?? parts.refusalLogLimit;
  const attributes = options.attributes ?? (isPipelineSource(source) ? undefined : source.attributes);
  const authorizer = parts.authorizer;
  if (!authorizer) throw new TypeError('"authorizer" must implement authorize');
  const common = { ...(logger && { logger }), ...(refusalLogLimit && { refusalLogLimit }) };
  const steps: Middleware<DelegatedAuthKoaState>[] = [
    requestInfo({
      ...common,
      ...(parts.authorizationSelectors !== undefined && { authorizationSelectors: parts.authorizationSelectors }),
    }) as Middleware<DelegatedAuthKoaState>,
    authenticate({ ...parts, ...common }) as Middleware<DelegatedAuthKoaState>,
    authorize({ authorizer, ...common, ...(attributes && { attributes }) }) as Middleware<DelegatedAuthKoaState>,
  ];
  const composed = compose(steps as unknown as compose.Middleware<Context>[]);
  return function delegatedAuth(ctx, next) {
    return composed(ctx as unknown as Context, next);
  };
}

/**
 * The whole chain (Go's WithRequestInfo → WithAuthentication → WithAuthorization) as one Koa middleware. Three
 * forms:
 *
 * ```ts
 * // 1. A stack you build and own (any adapter takes it the same way):
 * const stack = createDelegatedAuth({ requestheaderAllowedNames: ['front-proxy-client'] });
 * app.use(delegatedAuth(stack));
 *
 * // 2. Options: builds the stack and returns the middleware carrying it (start/close/status).
 * const auth = delegatedAuth({ mode: 'local', clientCaFile: 'ca.crt' });
 * await auth.start();          // reads the trust (cluster: kube-system/extension-apiserver-authentication, watched)
 * app.use(auth);               // ctx.state.user, ctx.state.attributes; 401/403/500 as Kubernetes answers
 * await auth.close();          // watch, timers, keep-alive sockets
 *
 * // 3. Parts: an authenticator and an authorizer of your own.
 * app.use(delegatedAuth({ authenticator, authorizer }));
 * ```
 */
export function delegatedAuth(
  stack: DelegatedAuthPipelineSource,
  options?: KoaAdapterOptions,
): Middleware<DelegatedAuthKoaState>;
export function delegatedAuth(parts: KoaDelegatedAuthParts): Middleware<DelegatedAuthKoaState>;
export function delegatedAuth(options?: KoaDelegatedAuthOptions): KoaDelegatedAuth;
export function delegatedAuth(
  source: DelegatedAuthPipelineSource | KoaDelegatedAuthParts | KoaDelegatedAuthOptions = {},
  adapterOptions: KoaAdapterOptions = {},
): Middleware<DelegatedAuthKoaState> | KoaDelegatedAuth {
  if (isPipelineSource(source)) return chain(source, adapterOptions);
  if (isParts(source)) return chain(source, {});
  const options = source;
  const stack = createDelegatedAuth(options);
  const middleware = chain(stack, options);
  return Object.assign(middleware, stack, { middleware }) as KoaDelegatedAuth;
}

function isParts(value: object): value is KoaDelegatedAuthParts {
  return 'authenticator' in value || 'authorizer' in value;
}

export interface StatusErrorHandlerOptions {
  /** Where errors are logged (message and stack at error; Status errors at info). Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
}

/**
 * Install first (`app.use(statusErrorHandler())`): an error thrown below it becomes a Kubernetes `Status` instead of
 * Koa's text body (Koa's default `ctx.onerror` also prints the stack to stderr). `statusError(...)`/`KubeStatusError`
 * are answered as built, a client error with a 4xx `status` (http-errors, `ctx.throw(404)`, body parsers) as a Status
 * with its message, anything else as Go's panic text (a fixed 500) with the message and stack in the log only. After
 * the response started, the connection is destroyed (the client sees a truncated response, never a second one).
 * The same as Express's and Fastify's `statusErrorHandler()`.
 */
export function statusErrorHandler(options: StatusErrorHandlerOptions = {}): Middleware {
  const logger = options.logger ?? noopLogger;
  return async function statusErrorHandler(ctx: Context, next) {
    try {
      await next();
    } catch (err) {
      const response = routeErrorResponse(logger, err, ctx.method, ctx.req.url ?? ctx.url);
      if (ctx.headerSent || !ctx.writable) {
        ctx.req.socket.destroy();
        return;
      }
      writeResponse(ctx, response);
    }
  };
}
