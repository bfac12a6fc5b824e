import type { Middleware } from 'koa';
import { createDelegatedAuth, type DelegatedAuth, type DelegatedAuthOptions } from '../delegated-auth.js';
import { authenticate } from './authenticate.js';
import { authorize, type AuthorizeOptions } from './authorize.js';
import { requestInfo } from './request-info.js';

export interface KoaDelegatedAuthOptions extends DelegatedAuthOptions {
  /** Per-route override of the authorization attributes (see `authorize()`). */
  readonly attributes?: AuthorizeOptions['attributes'];
}

/** `createDelegatedAuth()` plus the Koa middleware that enforces it. */
export interface KoaDelegatedAuth extends DelegatedAuth {
  /** requestInfo() → authenticate() → authorize(), in Go's handler-chain order. */
  readonly middleware: Middleware;
}

/**
 * The whole stack in one call:
 *
 * ```ts
 * const auth = delegatedAuth({ requestheaderAllowedNames: ['front-proxy-client'] });
 * await auth.start();          // reads kube-system/extension-apiserver-authentication, then watches it
 * app.use(auth.middleware);    // ctx.state.user, ctx.state.attributes; 401/403/500 as Kubernetes answers
 * // ...
 * await auth.close();          // watch, timers, keep-alive sockets
 * ```
 */
export function delegatedAuth(options: KoaDelegatedAuthOptions = {}): KoaDelegatedAuth {
  const stack = createDelegatedAuth(options);
  const logger = options.logger;
  const chain: Middleware[] = [
    requestInfo({
      ...(logger && { logger }),
      ...(options.authorizationSelectors !== undefined && { authorizationSelectors: options.authorizationSelectors }),
    }) as Middleware,
    authenticate({
      authenticator: stack.authenticator,
      requestHeader: { caProvider: stack.trust.requestHeaderCA, configProvider: stack.trust.requestHeaderConfig },
      ...(logger && { logger }),
    }) as Middleware,
    authorize({
      authorizer: stack.authorizer,
      ...(options.attributes && { attributes: options.attributes }),
      ...(logger && { logger }),
    }) as Middleware,
  ];
  const middleware: Middleware = function delegatedAuth(ctx, next) {
    const dispatch = (i: number): Promise<void> =>
      i === chain.length ? Promise.resolve(next()) : Promise.resolve(chain[i]!(ctx, () => dispatch(i + 1)));
    return dispatch(0);
  };
  return Object.assign(Object.create(null) as object, stack, { middleware }) as KoaDelegatedAuth;
}
