import type { Middleware } from 'koa';
import type { RequestAuthenticator } from '../authn/interfaces.js';
import type { Authorizer } from '../authz/interfaces.js';
import type { RefusalLogLimit } from '../util/refusal-log.js';
import type { Logger } from '../log.js';
import { authenticate, type AuthenticateOptions } from './authenticate.js';
import { authorize, type AuthorizeOptions } from './authorize.js';
import { requestInfo } from './request-info.js';

export interface AuthChainOptions {
  /** Decides who the caller is (usually `newDelegatingAuthenticator(...)`). Required. */
  readonly authenticator: RequestAuthenticator;
  /**
   * The front-proxy trust the authenticator uses; its header configuration tells authenticate() which headers to
   * strip before downstream middleware. Default: none (only the standard identity headers are stripped).
   */
  readonly requestHeader?: AuthenticateOptions['requestHeader'];
  /** Decides what the caller may do (usually `newDelegatingAuthorizer(...)`). Required. */
  readonly authorizer: Authorizer;
  /** Per-route override of the authorization attributes (see `authorize()`). Default: the computed attributes. */
  readonly attributes?: AuthorizeOptions['attributes'];
  /** Send field/label selector requirements in SubjectAccessReviews (clusters 1.31+). Default false. */
  readonly authorizationSelectors?: boolean;
  /** Default: silent (NODE_DEBUG=kube-delegated-auth prints). */
  readonly logger?: Logger;
  /** Rate limit of refusal lines per cause on `logger`. Default 10 per cause per 10 s. */
  readonly refusalLogLimit?: RefusalLogLimit;
}

/**
 * requestInfo() → authenticate() → authorize(): Go's handler-chain order (RequestInfo, then authentication, then
 * authorization), shared by `delegatedAuth()` and the sample server whatever the authenticator and authorizer are.
 */
export function authChain(options: AuthChainOptions): Middleware[] {
  const { logger } = options;
  return [
    requestInfo({
      ...(logger && { logger }),
      ...(options.authorizationSelectors !== undefined && { authorizationSelectors: options.authorizationSelectors }),
    }) as Middleware,
    authenticate({
      authenticator: options.authenticator,
      ...(options.requestHeader && { requestHeader: options.requestHeader }),
      ...(logger && { logger }),
      ...(options.refusalLogLimit && { refusalLogLimit: options.refusalLogLimit }),
    }) as Middleware,
    authorize({
      authorizer: options.authorizer,
      ...(options.attributes && { attributes: options.attributes }),
      ...(logger && { logger }),
    }) as Middleware,
  ];
}

/** Runs `chain` as one middleware (koa-compose semantics, without the dependency). */
export function composeMiddleware(chain: readonly Middleware[], name = 'authChain'): Middleware {
  const composed: Middleware = (ctx, next) => {
    const dispatch = (i: number): Promise<void> =>
      i === chain.length ? Promise.resolve(next()) : Promise.resolve(chain[i]!(ctx, () => dispatch(i + 1)));
    return dispatch(0);
  };
  Object.defineProperty(composed, 'name', { value: name });
  return composed;
}
