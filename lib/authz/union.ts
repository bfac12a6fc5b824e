import { aggregateErrors, type KdaError } from '../errors.js';
import { Decision, type AuthorizationResult, type Authorizer } from './interfaces.js';

/**
 * Go's `union.New` for authorizers: asks each member in order; the first Allow or Deny is returned as-is (its
 * reason and error). When every member has no opinion, the result is NoOpinion with the non-empty reasons joined
 * by "\n" and the errors aggregated (`[a, b]`). A single member is returned unwrapped.
 */
export function unionAuthorizers(...authorizers: readonly Authorizer[]): Authorizer {
  for (const [i, a] of authorizers.entries()) {
    if (typeof a?.authorize !== 'function') throw new TypeError(`authorizer ${i} must implement authorize`);
  }
  if (authorizers.length === 1) return authorizers[0]!;
  const members = [...authorizers];
  const union: Authorizer = {
    async authorize(attrs, signal): Promise<AuthorizationResult> {
      const errors: KdaError[] = [];
      const reasons: string[] = [];
      for (const member of members) {
        const r = await member.authorize(attrs, signal);
        if (r.error) errors.push(r.error);
        if (r.reason) reasons.push(r.reason);
        if (r.decision === Decision.Allow || r.decision === Decision.Deny) return r;
      }
      return noOpinion(errors, reasons);
    },
  };
  // A fast path as far as the members have one: the members before the first one without `authorizeSync` can still
  // decide at once (always-allow groups and paths in front of a user's async authorizer); reaching that member, or a
  // member without an immediate answer, sends the caller to authorize(), which asks every member again from the start.
  if (typeof members[0]!.authorizeSync === 'function') {
    union.authorizeSync = (attrs) => {
      let errors: KdaError[] | undefined;
      let reasons: string[] | undefined;
      for (const member of members) {
        const r = member.authorizeSync?.(attrs);
        if (r === undefined) return undefined;
        if (r.error) (errors ??= []).push(r.error);
        if (r.reason) (reasons ??= []).push(r.reason);
        if (r.decision === Decision.Allow || r.decision === Decision.Deny) return r;
      }
      return noOpinion(errors ?? [], reasons ?? []);
    };
  }
  return union;
}

function noOpinion(errors: KdaError[], reasons: string[]): AuthorizationResult {
  const error = aggregateErrors(errors);
  return { decision: Decision.NoOpinion, reason: reasons.join('\n'), ...(error && { error }) };
}
