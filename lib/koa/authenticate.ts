import type { Middleware } from 'koa';
import {
  authenticationStep,
  pipelineOptionsOf,
  type AuthenticatedIdentity,
  type AuthenticationStepOptions,
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
  return async function authenticate(ctx, next) {
    const outcome = await step(ctx.req, () => ctx.path);
    if (!outcome.ok) {
      writeResponse(ctx, outcome.response);
      return;
    }
    const { user, authenticator, audiences } = outcome.identity;
    ctx.state.user = user;
    ctx.state.authenticator = authenticator;
    if (audiences) ctx.state.audiences = audiences;
    await next();
  };
}
