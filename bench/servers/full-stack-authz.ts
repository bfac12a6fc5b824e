// Builds Go's delegating authorizer chain for the bench server and adapts it to Koa.
import type { Middleware } from 'koa';
import { alwaysAllowGroupsAuthorizer } from '../../lib/authz/always-allow-groups.js';
import { alwaysAllowPathsAuthorizer } from '../../lib/authz/always-allow-paths.js';
import type { Authorizer, SubjectAccessReviewClient } from '../../lib/authz/interfaces.js';
import { Decision } from '../../lib/authz/interfaces.js';
import { subjectAccessReviewAuthorizer } from '../../lib/authz/subject-access-review.js';
import { unionAuthorizers } from '../../lib/authz/union.js';
import { resolveRequestInfo } from '../../lib/http/request-info.js';
import { forbidden, internalError } from '../../lib/http/status.js';

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

/** TEMPORARY until lib/koa/authorize.ts lands: the same steps (request info → attributes → decision → 403/500). */
export function authorizeMiddleware(authz: Authorizer): Middleware {
  return async (ctx, next) => {
    const ri = resolveRequestInfo(ctx.method, ctx.url);
    const info = ri.info;
    const user = (ctx.state as { user: import('../../lib/authn/interfaces.js').UserInfo }).user;
    const attrs = {
      user,
      verb: info.verb,
      resourceRequest: info.isResourceRequest,
      path: info.path,
      apiGroup: info.apiGroup,
      apiVersion: info.apiVersion,
      namespace: info.namespace,
      resource: info.resource,
      subresource: info.subresource,
      name: info.name,
    };
    const res = await authz.authorize(attrs);
    if (res.decision === Decision.Allow) return next();
    const r = res.error ? internalError(ctx.url, res.error.message) : forbidden(attrs, res.reason);
    ctx.status = r.status;
    ctx.set(r.headers);
    ctx.body = r.body;
  };
}
