import type { AuthenticationResult, RequestAuthenticator, UserInfo } from './interfaces.js';

export const anonymousUserName = 'system:anonymous';
export const unauthenticatedGroup = 'system:unauthenticated';

const anonymousUser: UserInfo = Object.freeze({
  name: anonymousUserName,
  uid: '',
  groups: Object.freeze([unauthenticatedGroup]),
  extra: Object.freeze({}),
});

const result: AuthenticationResult = Object.freeze({
  ok: true,
  user: anonymousUser,
  authenticator: 'anonymous',
  consumedHeaders: Object.freeze([]),
});

/** Go's anonymous authenticator: every request is `system:anonymous` in `system:unauthenticated`. */
export function anonymousAuthenticator(): RequestAuthenticator {
  return { authenticateRequest: async () => result, authenticateRequestSync: () => result };
}
