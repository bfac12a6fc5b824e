import type { Middleware, Next, ParameterizedContext } from 'koa';
import {
  authenticationStep,
  pipelineOptionsOf,
  type AuthenticatedIdentity,
  type AuthenticationStepOptions,
  type AuthenticationStepResult,
  type DelegatedAuthPipelineSource,
} from '../http/pipeline.js';
import { writeResponse } from './respond.js';

export { authenticationChannel, type AuthenticationEvent } from '../http/pipeline.js';

/** Options of `authenticate()`: the delegating authenticator's parts, or a ready `authenticator`, and a `logger`. */
export type AuthenticateOptions = AuthenticationStepOptions;

/** What `authenticate()` stores in `ctx.state`. */
export type AuthenticatedState = { -readonly [K in keyof AuthenticatedIdentity]: AuthenticatedIdentity[K] };

/**
 * Koa middleware: authenticates the request (k8s.io/apiserver's WithAuthentication), stores the user in
 * `ctx.state.user`, removes every identity header (Authorization, X-Remote-*, Impersonate-*, the configured
 * front-proxy headers) before downstream middleware runs, and answers the Kubernetes 401 `Status` on failure, logging
 * the precise cause once. Takes a stack (`createDelegatedAuth()`) or options. The logic is lib/http/pipeline's
 * `authenticationStep`; this is the adapter.
 */
export function authenticate(
  source: DelegatedAuthPipelineSource | AuthenticateOptions = {},
): Middleware<Partial<AuthenticatedState>> {
  const step = authenticationStep(pipelineOptionsOf(source));
  return function authenticate(ctx, next) {
    const outcome = step(ctx.req, () => ctx.path);
    // An identity known at once (certificate, cached token) goes on to next() without a promise of our own.
    if (outcome instanceof Promise) return outcome.then((o) => settle(ctx, o, next));
    return settle(ctx, outcome, next);
  };
}

/** Stores the identity in `ctx.state` and calls next(), or writes the 401. */
function settle(
  ctx: ParameterizedContext<Partial<AuthenticatedState>>,
  outcome: AuthenticationStepResult,
  next: Next,
): Promise<void> {
  if (!outcome.ok) {
    writeResponse(ctx, outcome.response);
    return Promise.resolve();
  }
  const { user, authenticator, audiences } = outcome.identity;
  ctx.state.user = user;
  ctx.state.authenticator = authenticator;
  if (audiences) ctx.state.audiences = audiences;
  return next().then(() => undefined);
}
