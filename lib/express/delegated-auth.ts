import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Authorizer, RequestAttributes } from '../authz/interfaces.js';
import type { RequestInfoOptions } from '../http/request-info.js';
import {
  authenticationStep,
  authorizeRequest,
  delegatedAuthPipeline,
  isPipelineSource,
  pipelineOptionsOf,
  requestInfoStep,
  routeErrorResponse,
  unexpectedError,
  type AttributesOverride,
  type AuthenticationStepOptions,
  type AuthenticationStepResult,
  type AuthorizeRequestOutcome,
  type DelegatedAuthPipelineOptions,
  type DelegatedAuthPipelineSource,
  type DelegatedAuthState,
  type PipelineRunResult,
} from '../http/pipeline.js';
import { writeNodeResponse } from '../http/respond.js';
import { noopLogger, type Logger } from '../log.js';

/**
 * Express adapter. State goes to `res.locals` under the same names Koa uses for `ctx.state` (`requestInfo`, `user`,
 * `authenticator`, `audiences`, `attributes`, `authorization`); a route may set `res.locals.authorizationOverride`
 * before `authorize()`. Refusals are written with the plain node:http API so Express adds no ETag or charset and the
 * bytes match the Koa middleware's.
 */

/** The typed view of what these middlewares keep in `res.locals`. */
export type ExpressDelegatedAuthLocals = { -readonly [K in keyof DelegatedAuthState]?: DelegatedAuthState[K] } & {
  /** Honoured by `authorize()` / `delegatedAuth()` when a route sets it first. */
  authorizationOverride?: AttributesOverride;
};

/** `res.locals`, typed. */
export function delegatedAuthLocals(res: Response): ExpressDelegatedAuthLocals {
  return res.locals as ExpressDelegatedAuthLocals;
}

/** The request URI as received: Express rewrites `req.url` under a mount path, `originalUrl` keeps it. */
function requestUri(req: Request): string {
  return req.originalUrl || req.url || '/';
}

export interface ExpressRequestInfoOptions extends RequestInfoOptions {
  /** Resolver failures are logged (400 at warn, 500 at error). Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
}

/**
 * Our middleware never hands an error of its own to Express (`next(err)`): Express's default handler would answer
 * with an HTML page carrying the stack trace and source paths. An unexpected error is answered here, as Go's
 * WithPanicRecovery does, and logged with its stack.
 */
function failUnexpectedly(logger: Logger, step: string, req: Request, res: Response) {
  return (err: unknown): void =>
    writeNodeResponse(res, unexpectedError(logger, step, err, req.method, requestUri(req)).response);
}

/**
 * Go's WithRequestInfo: `res.locals.requestInfo`; 400 (malformed escape, or a target the frameworks could read as
 * different paths: lib/http/request-target) or 500 (resolver error) otherwise. Install it before the routes.
 */
export function requestInfo(source: DelegatedAuthPipelineSource | ExpressRequestInfoOptions = {}): RequestHandler {
  const options: ExpressRequestInfoOptions = isPipelineSource(source) ? source.pipelineOptions() : source;
  const logger = options.logger ?? noopLogger;
  const infoOptions: RequestInfoOptions = { authorizationSelectors: options.authorizationSelectors === true };
  return function requestInfo(req: Request, res: Response, next: NextFunction) {
    const r = requestInfoStep(req.method, requestUri(req), infoOptions, logger);
    // req.url stays absolute-form when sent so: Express's router strips the scheme and host it saw first itself.
    if (!r.ok) return writeNodeResponse(res, r.response);
    delegatedAuthLocals(res).requestInfo = r.info;
    next();
  };
}

/** Options of the Express `authenticate()`: the delegating authenticator's (or a ready `authenticator`). */
export type ExpressAuthenticateOptions = AuthenticationStepOptions;

/**
 * Go's WithAuthentication: `res.locals.user` / `authenticator` / `audiences`, identity headers removed from `req`
 * before the next middleware; the Kubernetes 401 `Status` otherwise.
 */
export function authenticate(source: DelegatedAuthPipelineSource | ExpressAuthenticateOptions = {}): RequestHandler {
  const options = pipelineOptionsOf(source);
  const step = authenticationStep(options);
  const logger = options.logger ?? noopLogger;
  return function authenticate(req: Request, res: Response, next: NextFunction) {
    const settle = (r: AuthenticationStepResult): void => {
      if (!r.ok) return writeNodeResponse(res, r.response);
      const locals = delegatedAuthLocals(res);
      locals.user = r.identity.user;
      locals.authenticator = r.identity.authenticator;
      if (r.identity.audiences) locals.audiences = r.identity.audiences;
      next();
    };
    const step$ = step(req, req.path);
    // An identity known at once (certificate, cached token) goes on without a promise.
    if (step$ instanceof Promise) step$.then(settle, failUnexpectedly(logger, 'authentication', req, res));
    else settle(step$);
  };
}

export interface ExpressAuthorizeOptions {
  /** Decides every request, e.g. `newDelegatingAuthorizer(...)`. Required. */
  readonly authorizer: Authorizer;
  /**
   * Per-route attributes: receives the attributes computed from the user and RequestInfo and returns the ones to
   * authorize. Runs before `res.locals.authorizationOverride` is applied. Default: the computed attributes.
   */
  readonly attributes?: (req: Request, defaults: RequestAttributes) => RequestAttributes;
  /** 403s log at info and 500s at error. Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
}

function checkAuthorizeOptions(options: { authorizer?: Authorizer; attributes?: unknown } | undefined): void {
  if (options?.authorizer !== undefined && typeof options.authorizer?.authorize !== 'function') {
    throw new TypeError('"authorizer" must implement authorize');
  }
  if (options?.attributes !== undefined && typeof options.attributes !== 'function') {
    throw new TypeError('"attributes" must be a function');
  }
}

/** The adapter options of `authorize(stack, options)`: everything but the authorizer, which is the stack's. */
export type ExpressAuthorizeStackOptions = Omit<ExpressAuthorizeOptions, 'authorizer'>;

/**
 * Go's WithAuthorization (lib/http/pipeline's `authorizeRequest`); needs `requestInfo()` (and normally
 * `authenticate()`) before it. Takes a stack (`createDelegatedAuth()`) or options with an `authorizer`. 403 / 500 as
 * Go; a cached or static answer calls `next()` without awaiting the authorizer.
 */
export function authorize(
  source: DelegatedAuthPipelineSource | ExpressAuthorizeOptions,
  stackOptions: ExpressAuthorizeStackOptions = {},
): RequestHandler {
  const options = isPipelineSource(source) ? stackAuthorizeOptions(source, stackOptions) : source;
  if (typeof options?.authorizer?.authorize !== 'function') {
    throw new TypeError('"authorizer" must implement authorize');
  }
  checkAuthorizeOptions(options);
  const { authorizer, attributes } = options;
  const logger = options.logger ?? noopLogger;
  return function authorize(req: Request, res: Response, next: NextFunction) {
    const locals = delegatedAuthLocals(res);
    const settle = (r: AuthorizeRequestOutcome) => {
      if (r.attributes) locals.attributes = r.attributes;
      if (r.result) locals.authorization = r.result;
      if (r.ok) return next();
      if (r.response) writeNodeResponse(res, r.response);
    };
    const outcome = authorizeRequest(
      authorizer,
      { requestInfo: locals.requestInfo, user: locals.user, uri: requestUri(req), method: req.method, res },
      {
        attributes: attributes && ((defaults: RequestAttributes) => attributes(req, defaults)),
        override: locals.authorizationOverride,
      },
      logger,
    );
    if (outcome instanceof Promise) outcome.then(settle, failUnexpectedly(logger, 'authorization', req, res));
    else settle(outcome);
  };
}

function stackAuthorizeOptions(
  source: DelegatedAuthPipelineSource,
  extra: ExpressAuthorizeStackOptions,
): ExpressAuthorizeOptions {
  const stack = source.pipelineOptions();
  const logger = extra.logger ?? stack.logger;
  return {
    authorizer: stack.authorizer!,
    ...(extra.attributes && { attributes: extra.attributes }),
    ...(logger && { logger }),
  };
}

/**
 * A per-route guard (kube-rbac-proxy style): authorizes the route's own attributes for the authenticated user,
 * `app.get('/metrics', authorizeRoute(stack, { verb: 'get', path: '/metrics', resourceRequest: false }), handler)`.
 * Needs `requestInfo()` and `authenticate()` (or `delegatedAuth()`) before it; behind `delegatedAuth()` the request
 * must pass both checks. 403/500 as Go. The same guard as Koa's and Fastify's `authorizeRoute()`.
 */
export function authorizeRoute(
  source: DelegatedAuthPipelineSource | ExpressAuthorizeOptions,
  override: AttributesOverride,
  stackOptions: ExpressAuthorizeStackOptions = {},
): RequestHandler {
  if (override === null || (typeof override !== 'object' && typeof override !== 'function')) {
    throw new TypeError('"override" must be attribute fields or a function');
  }
  const check = authorize(source, stackOptions);
  return function authorizeRoute(req: Request, res: Response, next: NextFunction) {
    delegatedAuthLocals(res).authorizationOverride = override;
    return check(req, res, next);
  };
}

export interface ExpressDelegatedAuthOptions extends Omit<DelegatedAuthPipelineOptions, 'attributes'> {
  /** As `authorize()`'s `attributes`. Default: the computed attributes. */
  readonly attributes?: (req: Request, defaults: RequestAttributes) => RequestAttributes;
}

/** The adapter's own options for `delegatedAuth(stack, options)`. */
export type ExpressAdapterOptions = Pick<ExpressDelegatedAuthOptions, 'attributes' | 'logger' | 'refusalLogLimit'>;

/**
 * `requestInfo()` + `authenticate()` + `authorize()` in one middleware: `delegatedAuth(stack)` over a
 * `createDelegatedAuth()` stack, or `delegatedAuth({ authenticator, authorizer, ... })` over parts (authorization
 * only when `authorizer` is given). Route-level `res.locals.authorizationOverride` must be set by a middleware
 * installed before this one.
 */
export function delegatedAuth(
  source: DelegatedAuthPipelineSource | ExpressDelegatedAuthOptions = {},
  adapterOptions: ExpressAdapterOptions = {},
): RequestHandler {
  const options = pipelineOptionsOf<ExpressDelegatedAuthOptions>(source, adapterOptions);
  checkAuthorizeOptions(options);
  const pipeline = delegatedAuthPipeline(options);
  const attributes = options.attributes;
  const logger = options.logger ?? noopLogger;
  return function delegatedAuth(req: Request, res: Response, next: NextFunction) {
    const locals = delegatedAuthLocals(res);
    const settle = (r: PipelineRunResult): void => {
      if (r.state) Object.assign(locals, r.state);
      if (r.ok) return next();
      if (r.response) writeNodeResponse(res, r.response);
    };
    const run = pipeline.run(req, res, requestUri(req), {
      ...(attributes && { attributes: (d: RequestAttributes) => attributes(req, d) }),
      override: () => locals.authorizationOverride,
      // Express's router keeps the scheme and host it saw first and strips them itself (see requestInfo()).
      requestTarget: { rewriteAbsoluteForm: false },
    });
    // A request decided at once (certificate or cached identity, cached authorization) goes on without a promise.
    if (run instanceof Promise) run.then(settle, failUnexpectedly(logger, 'delegated auth', req, res));
    else settle(run);
  };
}

export interface StatusErrorHandlerOptions {
  /** Where errors are logged (message and stack at error; exposed 4xx at info). Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
}

/**
 * Install last (`app.use(statusErrorHandler())`) so that no error reaches Express's default handler, whose HTML
 * page carries the stack trace and source paths outside production. `statusError(...)`/`KubeStatusError` are
 * answered as built; an error with a 4xx `status` (http-errors, body-parser: "request entity too large"; not
 * `expose: false`) becomes a Kubernetes `Status` with its message;
 * anything else becomes Go's panic answer (a fixed 500 text) with the message and stack in the log only. After the
 * response started, the connection is destroyed (the client sees a truncated response, never a second one).
 */
export function statusErrorHandler(options: StatusErrorHandlerOptions = {}): ErrorRequestHandler {
  const logger = options.logger ?? noopLogger;
  return function statusErrorHandler(err: unknown, req: Request, res: Response, _next: NextFunction) {
    const uri = requestUri(req);
    if (res.headersSent) {
      unexpectedError(logger, 'route handler', err, req.method, uri);
      res.destroy();
      return;
    }
    writeNodeResponse(res, routeErrorResponse(logger, err, req.method, uri));
  };
}
