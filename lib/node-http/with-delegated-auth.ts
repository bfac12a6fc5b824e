import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestAttributes } from '../authz/interfaces.js';
import {
  delegatedAuthPipeline,
  pipelineOptionsOf,
  unexpectedError,
  type AttributesOverride,
  type DelegatedAuthPipelineOptions,
  type DelegatedAuthPipelineSource,
  type DelegatedAuthState,
  type PipelineRunHooks,
  type PipelineRunResult,
} from '../http/pipeline.js';
import { writeNodeResponse } from '../http/respond.js';
import { noopLogger } from '../log.js';

/** A node:http request handler that also receives what the delegated-auth chain learned. */
export type DelegatedAuthHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  state: DelegatedAuthState,
) => void | Promise<void>;

export interface NodeHttpDelegatedAuthOptions extends DelegatedAuthPipelineOptions {
  /** Per-request attributes from the computed ones (e.g. by path). Default: the computed attributes. */
  readonly attributes?: (req: IncomingMessage, defaults: RequestAttributes) => RequestAttributes;
  /** Per-request override applied after `attributes`. Default: none. */
  readonly authorizationOverride?: (req: IncomingMessage) => AttributesOverride | undefined;
}

/**
 * Where the state is kept: a symbol-keyed property on the request, not a WeakMap (an ephemeron entry per request costs
 * V8 bookkeeping on every GC; see lib/http/request.ts).
 */
const stateKey = Symbol('kube-delegated-auth.delegatedAuthState');
type WithState = IncomingMessage & { [stateKey]?: DelegatedAuthState };
/** The hooks of a wiring without per-request attributes or override: one object for every request. */
const noHooks: PipelineRunHooks = Object.freeze({});

/** What `withDelegatedAuth` stored for this request (for code that only has `req`); undefined before it ran. */
export function delegatedAuthState(req: IncomingMessage): DelegatedAuthState | undefined {
  return (req as WithState)[stateKey];
}

/**
 * Wraps a plain `(req, res)` handler over a `createDelegatedAuth()` stack or options (node:http / node:https `createServer`) with WithRequestInfo →
 * WithAuthentication → WithAuthorization (authorization only when `authorizer` is given). Refusals are written here
 * with the exact status, headers and body of the Koa middleware; the handler only runs for admitted requests,
 * identity headers already removed. A throwing handler gets a 500 (when nothing was sent yet) and an error log.
 */
export function withDelegatedAuth(
  handler: DelegatedAuthHandler,
  source: DelegatedAuthPipelineSource | NodeHttpDelegatedAuthOptions = {},
  adapterOptions: NodeHttpAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof handler !== 'function') throw new TypeError('"handler" must be a function');
  const options = pipelineOptionsOf<NodeHttpDelegatedAuthOptions>(source, adapterOptions);
  const pipeline = delegatedAuthPipeline(options);
  const logger = options.logger ?? noopLogger;
  const { attributes, authorizationOverride } = options;
  const hooksOf =
    attributes || authorizationOverride
      ? (req: IncomingMessage): PipelineRunHooks => ({
          ...(attributes && { attributes: (d: RequestAttributes) => attributes(req, d) }),
          ...(authorizationOverride && { override: () => authorizationOverride(req) }),
        })
      : () => noHooks;
  // The handler's error (the pipeline answers its own): message and stack to the log, Go's panic text to the client,
  // or a cut connection when the response had already started.
  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    const refusal = unexpectedError(logger, 'request handler', err, req.method ?? 'GET', req.url ?? '/');
    if (!res.headersSent) writeNodeResponse(res, refusal.response);
    else res.destroy();
  };
  const proceed = (req: IncomingMessage, res: ServerResponse, r: PipelineRunResult): void => {
    try {
      if (!r.ok) {
        if (r.response) writeNodeResponse(res, r.response);
        else res.end();
        return;
      }
      (req as WithState)[stateKey] = r.state;
      const handled = handler(req, res, r.state);
      // Awaited as before (any thenable), without a promise of ours when the handler returns none.
      if (handled !== undefined && typeof (handled as { then?: unknown } | null)?.then === 'function') {
        Promise.resolve(handled).then(undefined, (err: unknown) => fail(req, res, err));
      }
    } catch (err) {
      fail(req, res, err);
    }
  };
  return (req, res) => {
    let r: PipelineRunResult | Promise<PipelineRunResult>;
    try {
      r = pipeline.run(req, res, req.url ?? '/', hooksOf(req));
    } catch (err) {
      fail(req, res, err);
      return;
    }
    // A request decided at once (certificate or cached identity, cached authorization) reaches the handler in the
    // parser's callback, without a promise.
    if (r instanceof Promise) {
      r.then(
        (outcome) => proceed(req, res, outcome),
        (err: unknown) => fail(req, res, err),
      );
    } else proceed(req, res, r);
  };
}

/** The adapter's own options for `delegatedAuth(stack, options)` / `withDelegatedAuth(handler, stack, options)`. */
export type NodeHttpAdapterOptions = Pick<
  NodeHttpDelegatedAuthOptions,
  'attributes' | 'authorizationOverride' | 'logger' | 'refusalLogLimit'
>;

/**
 * The factory shape every adapter has: `createServer(delegatedAuth(stack)(handler))`; the same as
 * `withDelegatedAuth(handler, stack)`.
 */
export function delegatedAuth(
  source: DelegatedAuthPipelineSource | NodeHttpDelegatedAuthOptions = {},
  adapterOptions: NodeHttpAdapterOptions = {},
): (handler: DelegatedAuthHandler) => (req: IncomingMessage, res: ServerResponse) => void {
  const options = pipelineOptionsOf<NodeHttpDelegatedAuthOptions>(source, adapterOptions);
  delegatedAuthPipeline(options); // validates the options now, not at the first request
  return (handler) => withDelegatedAuth(handler, options);
}
