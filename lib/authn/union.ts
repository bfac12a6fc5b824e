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
      // The tally is made at the first member that does not succeed: a request the first member accepts costs none.
      let tally: Tally | undefined;
      for (const a of members) {
        const r = await a.authenticateRequest(req, signal);
        if (r.ok) return r;
        const done = (tally ??= new Tally(failOnError)).add(r);
        if (done) return done;
      }
      return (tally ?? new Tally(failOnError)).result();
    },
    // The same loop, answered only when every member it asks answers at once. A member that cannot (undefined, or no
    // fast path) makes the whole union defer: the caller then runs the asynchronous loop from the start, which is
    // why members' answers that do not end the loop must leave no trace (see RequestAuthenticator).
    authenticateRequestSync(req: AuthnRequest): AuthenticationResult | undefined {
      let tally: Tally | undefined;
      for (const a of members) {
        const r = a.authenticateRequestSync?.(req);
        if (r === undefined) return undefined;
        if (r.ok) return r;
        const done = (tally ??= new Tally(failOnError)).add(r);
        if (done) return done;
      }
      return (tally ?? new Tally(failOnError)).result();
    },
  };
}

/** The union's fold over its members' results, shared by the asynchronous loop and the synchronous one. */
class Tally {
  readonly #failOnError: boolean;
  // Allocated on the first failure only: the usual request succeeds at the first member.
  #errors: KdaError[] | undefined;
  #declined: KdaErrorDetails[] | undefined;

  constructor(failOnError: boolean) {
    this.#failOnError = failOnError;
  }

  /** The union's answer when `r` ends the loop, else undefined (ask the next member). */
  add(r: AuthenticationResult): AuthenticationResult | undefined {
    if (r.ok) return r;
    if (r.declined) (this.#declined ??= []).push(...r.declined);
    if (r.error) {
      const declined = this.#declined;
      if (this.#failOnError) return declined && declined.length > 0 ? { ok: false, error: r.error, declined } : r;
      (this.#errors ??= []).push(r.error);
    }
    return undefined;
  }

  /** The answer when no member succeeded. */
  result(): AuthenticationResult {
    const error = aggregateErrors(this.#errors ?? []);
    const out: { ok: false; error?: KdaError; declined?: KdaErrorDetails[] } = { ok: false };
    if (error) out.error = error;
    if (this.#declined && this.#declined.length > 0) out.declined = this.#declined;
    return out;
  }
}
