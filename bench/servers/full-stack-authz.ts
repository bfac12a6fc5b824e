// Builds Go's delegating authorizer chain for the bench server.
import { alwaysAllowGroupsAuthorizer } from '../../lib/authz/always-allow-groups.js';
import { alwaysAllowPathsAuthorizer } from '../../lib/authz/always-allow-paths.js';
import type { Authorizer, SubjectAccessReviewClient } from '../../lib/authz/interfaces.js';
import { subjectAccessReviewAuthorizer } from '../../lib/authz/subject-access-review.js';
import { unionAuthorizers } from '../../lib/authz/union.js';

/** LRU bound of the SAR decision cache (Go's webhook authorizer default). */
export const authzCacheMaxEntries = 8192;

export function authorizer(
  client: SubjectAccessReviewClient,
  opts: { readonly authorizedTtlMs: number; readonly unauthorizedTtlMs: number },
): { readonly authorizer: Authorizer; stats(): Record<string, number> } {
  const sar = subjectAccessReviewAuthorizer({
    client,
    authorizationWebhookCacheAuthorizedTtl: opts.authorizedTtlMs,
    authorizationWebhookCacheUnauthorizedTtl: opts.unauthorizedTtlMs,
    maxEntries: authzCacheMaxEntries,
  });
  return {
    // Go's delegating authorizer: always-allow groups, always-allow paths, then the webhook.
    authorizer: unionAuthorizers(alwaysAllowGroupsAuthorizer(), alwaysAllowPathsAuthorizer(), sar),
    stats: () => ({ ...sar.stats(), max: authzCacheMaxEntries }),
  };
}
