import type { Middleware } from 'koa';
import { delegatedAuth, type KoaDelegatedAuthParts } from './delegated-auth.js';

// TODO(restructure): delete with lib/sample's move (issue 12 step 1); the sample then calls the public
// `delegatedAuth({ authenticator, authorizer, ... })` of kube-delegated-auth/koa, which this only forwards to.

/** @deprecated The parts form of `delegatedAuth()`; kept for lib/sample until it moves out of lib/. */
export type AuthChainOptions = KoaDelegatedAuthParts;

/** @deprecated `[delegatedAuth(options)]`. */
export function authChain(options: AuthChainOptions): Middleware[] {
  return [delegatedAuth(options) as Middleware];
}
