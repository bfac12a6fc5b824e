import { aggregateErrors, type KdaError, type KdaErrorDetails } from '../errors.js';
import type { AuthenticationResult, AuthnRequest, RequestAuthenticator } from './interfaces.js';

/**
 * Go's union.New: tries every authenticator in order; the first success wins and discards earlier errors; errors do
 * not stop the loop; when nothing succeeds the result carries the aggregate of all errors (or none). A single
 * authenticator is returned as-is.
 */
export function unionAuthenticators(...authenticators: readonly RequestAuthenticator[]): RequestAuthenticator {
  return union(authenticators, false);
}

/** Go's union.NewFailOnError: like {@link unionAuthenticators}, but the first error is returned at once. */
export function unionAuthenticatorsFailOnError(
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
