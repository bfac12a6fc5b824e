import type { Middleware } from 'koa';
import type { RequestInfo } from '../authz/interfaces.js';
import {
  isPipelineSource,
  requestInfoStep,
  useOriginForm,
  type DelegatedAuthPipelineSource,
} from '../http/pipeline.js';
import type { RequestInfoOptions } from '../http/request-info.js';
import { noopLogger, type Logger } from '../log.js';
import { writeResponse } from './respond.js';

export { writeResponse } from './respond.js';

export interface RequestInfoMiddlewareOptions extends RequestInfoOptions {
  /** Resolver failures are logged at error. Default: silent unless NODE_DEBUG=kube-delegated-auth. */
  readonly logger?: Logger;
}

/** What `requestInfo()` stores in `ctx.state`. */
export interface RequestInfoState {
  requestInfo: RequestInfo;
}

/**
 * Koa middleware: Go's `WithRequestInfo`. Resolves what the request is (resource or path, kube verb, group,
 * namespace, ...) into `ctx.state.requestInfo`; runs first, before authentication. A resolver error (e.g.
 * `/api/v1/watch`) answers 500 `Internal Server Error: "<uri>": failed to create RequestInfo: <error>`; a path with a
 * malformed `%` escape answers `400 Bad Request` and closes the connection, as Go's HTTP server does; a target the
 * frameworks could read as different paths (a backslash, `#`, dot segments, `%2F`, ...: lib/http/request-target)
 * answers a `BadRequest` Status. An absolute-form target (`http://host/path`) becomes origin-form in `ctx.req.url`.
 * Install it first, before anything reads `ctx.path`. Takes a stack (`createDelegatedAuth()`) or options.
 */
export function requestInfo(
  source: DelegatedAuthPipelineSource | RequestInfoMiddlewareOptions = {},
): Middleware<Partial<RequestInfoState>> {
  const options: RequestInfoMiddlewareOptions = isPipelineSource(source) ? source.pipelineOptions() : source;
  const logger = options.logger ?? noopLogger;
  const resolverOptions: RequestInfoOptions = { authorizationSelectors: options.authorizationSelectors === true };
  return function requestInfo(ctx, next) {
    const outcome = requestInfoStep(ctx.method, ctx.req.url ?? ctx.url, resolverOptions, logger);
    if (!outcome.ok) {
      writeResponse(ctx, outcome.response);
      return Promise.resolve();
    }
    // Before anything reads ctx.path: Koa then routes on the path that was authorized.
    useOriginForm(ctx.req, outcome.target);
    ctx.state.requestInfo = outcome.info;
    return next();
  };
}
