import { KdaError } from '../errors.js';
import { Decision, type AuthorizationResult, type Authorizer, type RequestAttributes } from './interfaces.js';
import { delegatingDefaults } from '../defaults.js';

/** Default of `authorizationAlwaysAllowGroups` (1.21+, PR #98325): cluster admins skip the SubjectAccessReview. */
export const defaultAlwaysAllowGroups: readonly string[] = delegatingDefaults.authorizationAlwaysAllowGroups;

/**
 * Go's `authorizerfactory.NewPrivilegedGroups`: Allow when any of the user's groups equals a configured group
 * (exact, case-sensitive), else NoOpinion. No user on the request → NoOpinion, reason `Error`, error
 * `no user on request.` (which the filter turns into a 500 unless another authorizer allows).
 */
export function alwaysAllowGroupsAuthorizer(groups: readonly string[] = defaultAlwaysAllowGroups): Authorizer {
  const set = new Set(groups);
  const decide = (attrs: RequestAttributes): AuthorizationResult => {
    // The type says a user is always there; JS callers and Koa apps without authenticate() may still omit it.
    const user = (attrs as { user?: typeof attrs.user }).user;
    if (!user) {
      return {
        decision: Decision.NoOpinion,
        reason: 'Error',
        error: new KdaError('ERR_KDA_NO_USER', 'no user on request.'),
      };
    }
    for (const g of user.groups) if (set.has(g)) return { decision: Decision.Allow, reason: '' };
    return { decision: Decision.NoOpinion, reason: '' };
  };
  return {
    async authorize(attrs) {
      return decide(attrs);
    },
    authorizeSync: decide,
  };
}
