import type { Identity, MapOutcome } from '../mapping/mapping-document.js';
import type { TokenReviewUser, VerifyToken } from './token-review-webhook.js';

/** Anything that maps identities, e.g. an `IdentityMapping`. */
export interface IdentityMapper {
  explain(identity: Identity): MapOutcome;
}

export interface MappedVerifyOptions {
  /** Builds the mapping input from the upstream user. Default: subject = username = the upstream username. */
  readonly toIdentity?: (user: TokenReviewUser) => Identity;
  /** `status.error` for an unmapped identity (sent to kube-apiserver, which logs it). */
  readonly unmappedError?: string;
}

const defaultToIdentity = (u: TokenReviewUser): Identity => ({
  subject: u.username,
  username: u.username,
  ...(u.uid ? { uid: u.uid } : {}),
  groups: u.groups ?? [],
});

/**
 * Runs `verify`, then replaces the upstream user by the mapped Kubernetes user. An authenticated but unmapped (or
 * refused) identity becomes `authenticated:false`: only mapped identities reach the cluster, as with aws-auth.
 */
export function withIdentityMapping(
  verify: VerifyToken,
  mapper: IdentityMapper,
  options: MappedVerifyOptions = {},
): VerifyToken {
  const { toIdentity = defaultToIdentity, unmappedError = 'identity is not mapped to a Kubernetes user' } = options;
  return async (token, audiences, signal) => {
    const res = await verify(token, audiences, signal);
    if (!res.authenticated) return res;
    const out = mapper.explain(toIdentity(res.user));
    if (!out.ok) return { authenticated: false, error: unmappedError };
    const { name, uid, groups, extra } = out.user;
    return {
      authenticated: true,
      user: { username: name, ...(uid ? { uid } : {}), groups, extra },
      ...(res.audiences ? { audiences: res.audiences } : {}),
    };
  };
}
