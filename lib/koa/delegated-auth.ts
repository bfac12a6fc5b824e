import type { Middleware } from 'koa';
import { createDelegatedAuth, type DelegatedAuth, type DelegatedAuthOptions } from '../delegated-auth.js';
import { authChain, composeMiddleware, type AuthChainOptions } from './auth-chain.js';

export interface KoaDelegatedAuthOptions extends DelegatedAuthOptions {
  /** Per-route override of the authorization attributes (see `authorize()`). */
  readonly attributes?: AuthChainOptions['attributes'];
  /** Rate limit of refusal lines per cause on `logger`. Default 10 per cause per 10 s. */
  readonly refusalLogLimit?: AuthChainOptions['refusalLogLimit'];
}

/** `createDelegatedAuth()` plus the Koa middleware that enforces it. */
export interface KoaDelegatedAuth extends DelegatedAuth {
  /** requestInfo() → authenticate() → authorize(), in Go's handler-chain order. */
  readonly middleware: Middleware;
}

/** The Koa chain over an assembled stack (the middleware of `delegatedAuth()`, as separate middleware). */
export function delegatedAuthChain(
  stack: Pick<DelegatedAuth, 'authenticator' | 'authorizer' | 'trust'>,
  options: Pick<KoaDelegatedAuthOptions, 'attributes' | 'authorizationSelectors' | 'logger' | 'refusalLogLimit'> = {},
): Middleware[] {
  return authChain({
    authenticator: stack.authenticator,
    requestHeader: { caProvider: stack.trust.requestHeaderCA, configProvider: stack.trust.requestHeaderConfig },
    authorizer: stack.authorizer,
    ...(options.attributes && { attributes: options.attributes }),
    ...(options.authorizationSelectors !== undefined && { authorizationSelectors: options.authorizationSelectors }),
    ...(options.logger && { logger: options.logger }),
    ...(options.refusalLogLimit && { refusalLogLimit: options.refusalLogLimit }),
  });
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
 *
 * Without a cluster: `delegatedAuth({ mode: 'local', clientCaFile, requestheaderClientCaFile, additionalAuthorizers })`
 * (trust from the CA files, re-read on change; see `DelegatedAuthOptions.mode`).
 */
export function delegatedAuth(options: KoaDelegatedAuthOptions = {}): KoaDelegatedAuth {
  const stack = createDelegatedAuth(options);
  const middleware = composeMiddleware(delegatedAuthChain(stack, options), 'delegatedAuth');
  return Object.assign(Object.create(null) as object, stack, { middleware }) as KoaDelegatedAuth;
}
