// Frozen copy (commit 5a0a8d1, lib/authn/union.ts and lib/authn/group-adder.ts) of the union and the authenticated-group
// adder before the synchronous path (`authenticateRequestSync`): asynchronous only, one promise per layer. The reference
// of spec/authn/sync-path-differential.spec.ts. Do not change it to follow lib/.
import { aggregateErrors, type KdaError, type KdaErrorDetails } from '../../../lib/errors.js';
import { anonymousUserName, unauthenticatedGroup } from '../../../lib/authn/anonymous.js';
import { authenticatedGroup } from '../../../lib/authn/group-adder.js';
import type { AuthenticationResult, AuthnRequest, RequestAuthenticator } from '../../../lib/authn/interfaces.js';

export function legacyUnionAuthenticators(...authenticators: readonly RequestAuthenticator[]): RequestAuthenticator {
  return union(authenticators, false);
}

/** Go's union.NewFailOnError: like {@link unionAuthenticators}, but the first error is returned at once. */
export function legacyUnionAuthenticatorsFailOnError(
  ...authenticators: readonly RequestAuthenticator[]
): RequestAuthenticator {
  return union(authenticators, true);
}

function union(authenticators: readonly RequestAuthenticator[], failOnError: boolean): RequestAuthenticator {
  for (const a of authenticators) {
    if (typeof a?.authenticateRequest !== 'function')
      throw new TypeError('authenticator must implement authenticateRequest');
  }
  if (authenticators.length === 1) return authenticators[0]!;
  const members = [...authenticators];
  return {
    async authenticateRequest(req: AuthnRequest, signal?: AbortSignal): Promise<AuthenticationResult> {
      // Allocated on the first failure only: the usual request succeeds at the first member.
      let errors: KdaError[] | undefined;
      let declined: KdaErrorDetails[] | undefined;
      for (const a of members) {
        const r = await a.authenticateRequest(req, signal);
        if (r.ok) return r;
        if (r.declined) (declined ??= []).push(...r.declined);
        if (r.error) {
          if (failOnError) return declined && declined.length > 0 ? { ok: false, error: r.error, declined } : r;
          (errors ??= []).push(r.error);
        }
      }
      const error = aggregateErrors(errors ?? []);
      const out: { ok: false; error?: KdaError; declined?: KdaErrorDetails[] } = { ok: false };
      if (error) out.error = error;
      if (declined && declined.length > 0) out.declined = declined;
      return out;
    },
  };
}

export function legacyAuthenticatedGroupAdder(inner: RequestAuthenticator): RequestAuthenticator {
  return {
    async authenticateRequest(req, signal): Promise<AuthenticationResult> {
      const r = await inner.authenticateRequest(req, signal);
      if (!r.ok) return r;
      const { user } = r;
      if (user.name === anonymousUserName) return r;
      if (user.groups.includes(authenticatedGroup) || user.groups.includes(unauthenticatedGroup)) return r;
      return { ...r, user: { ...user, groups: [...user.groups, authenticatedGroup] } };
    },
  };
}
