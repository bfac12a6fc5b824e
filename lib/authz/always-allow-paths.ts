import { InvalidOptionError } from '../errors.js';
import { goQuote } from '../util/go-quote.js';
import { Decision, type AuthorizationResult, type Authorizer, type RequestAttributes } from './interfaces.js';
import { delegatingDefaults } from '../defaults.js';

/** Default of `authorizationAlwaysAllowPaths` (--authorization-always-allow-paths, 1.21+): probes need no SAR. */
export const defaultAlwaysAllowPaths: readonly string[] = delegatingDefaults.authorizationAlwaysAllowPaths;

/**
 * Go's `pkg/authorization/path.NewAuthorizer`: Allow non-resource requests whose path (leading `/` stripped) is
 * listed, or starts with a listed prefix ending in `*`; NoOpinion otherwise and for every resource request.
 * `/` matches only `/`. `/healthz` does not match `/healthz/` or `/healthz/etcd`; `/healthz*` matches all three.
 * Throws `InvalidOptionError` (`only trailing * allowed in "<path>"`) for a `*` anywhere but at the end.
 */
export function alwaysAllowPathsAuthorizer(paths: readonly string[] = defaultAlwaysAllowPaths): Authorizer {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const problems: string[] = [];
  for (const raw of paths) {
    const p = raw.startsWith('/') ? raw.slice(1) : raw;
    if (p === '') {
      exact.add(p);
      continue;
    }
    if (p.slice(0, -1).includes('*')) {
      problems.push(`only trailing * allowed in ${goQuote(p)}`);
      continue;
    }
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);
  const decide = (attrs: RequestAttributes): AuthorizationResult => {
    if (attrs.resourceRequest) return { decision: Decision.NoOpinion, reason: '' };
    const p = attrs.path.startsWith('/') ? attrs.path.slice(1) : attrs.path;
    if (exact.has(p) || prefixes.some((prefix) => p.startsWith(prefix)))
      return { decision: Decision.Allow, reason: '' };
    return { decision: Decision.NoOpinion, reason: '' };
  };
  return {
    async authorize(attrs) {
      return decide(attrs);
    },
    authorizeSync: decide,
  };
}
