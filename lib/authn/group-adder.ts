import { anonymousUserName, unauthenticatedGroup } from './anonymous.js';
import type { AuthenticationResult, RequestAuthenticator } from './interfaces.js';

export const authenticatedGroup = 'system:authenticated';

/**
 * Go's AuthenticatedGroupAdder: on success, appends `system:authenticated` unless the user is `system:anonymous` or
 * already carries `system:authenticated` or `system:unauthenticated`. The inner result is never mutated.
 */
export function authenticatedGroupAdder(inner: RequestAuthenticator): RequestAuthenticator {
  return {
    async authenticateRequest(req, signal): Promise<AuthenticationResult> {
      return withAuthenticatedGroup(await inner.authenticateRequest(req, signal));
    },
    authenticateRequestSync(req): AuthenticationResult | undefined {
      const r = inner.authenticateRequestSync?.(req);
      return r === undefined ? undefined : withAuthenticatedGroup(r);
    },
  };
}

function withAuthenticatedGroup(r: AuthenticationResult): AuthenticationResult {
  if (!r.ok) return r;
  const { user } = r;
  if (user.name === anonymousUserName) return r;
  if (user.groups.includes(authenticatedGroup) || user.groups.includes(unauthenticatedGroup)) return r;
  return { ...r, user: { ...user, groups: [...user.groups, authenticatedGroup] } };
}
