import { InvalidOptionError } from '../errors.js';
import { noopLogger } from '../log.js';
import { alwaysAllowGroupsAuthorizer, defaultAlwaysAllowGroups } from './always-allow-groups.js';
import { alwaysAllowPathsAuthorizer, defaultAlwaysAllowPaths } from './always-allow-paths.js';
import { Decision, type Authorizer, type SubjectAccessReviewClient } from './interfaces.js';
import {
  SubjectAccessReviewAuthorizer,
  type SubjectAccessReviewAuthorizerOptions,
  type SubjectAccessReviewAuthorizerStats,
} from './subject-access-review.js';
import { unionAuthorizers } from './union.js';

export interface DelegatingAuthorizerOptions extends Omit<SubjectAccessReviewAuthorizerOptions, 'client'> {
  /**
   * Sends SubjectAccessReviews (lib/cluster `subjectAccessReviewClient`). Absent → only the always-allow
   * authorizers (and `additionalAuthorizers`) run and everything else is 403, as Go does without
   * --authorization-kubeconfig.
   */
  readonly client?: SubjectAccessReviewClient;
  /** --authorization-always-allow-paths. Default `['/healthz', '/readyz', '/livez']`; `[]` turns it off. */
  readonly authorizationAlwaysAllowPaths?: readonly string[];
  /** Groups allowed without a review. Default `['system:masters']`; `[]` turns it off. */
  readonly authorizationAlwaysAllowGroups?: readonly string[];
  /** Consulted after the always-allow authorizers and before the review, e.g. `staticPolicyAuthorizer(...)`. */
  readonly additionalAuthorizers?: readonly Authorizer[];
}

/** The delegating authorizer: an Authorizer with the review statistics and a close(). */
export interface DelegatingAuthorizer extends Authorizer {
  /** Counters of the SubjectAccessReview authorizer; undefined without a client. */
  stats(): SubjectAccessReviewAuthorizerStats | undefined;
  close(): Promise<void>;
}

/**
 * Go's `DelegatingAuthorizationOptions.toAuthorizer`: `union(always-allow groups, always-allow paths,
 * SubjectAccessReview)`, with optional authorizers of your own before the review. No I/O here.
 */
export function newDelegatingAuthorizer(options: DelegatingAuthorizerOptions = {}): DelegatingAuthorizer {
  const logger = options.logger ?? noopLogger;
  const problems: string[] = [];
  const members: Authorizer[] = [];
  const groups = options.authorizationAlwaysAllowGroups ?? defaultAlwaysAllowGroups;
  if (groups.length > 0) members.push(alwaysAllowGroupsAuthorizer(groups));
  const paths = options.authorizationAlwaysAllowPaths ?? defaultAlwaysAllowPaths;
  try {
    if (paths.length > 0) members.push(alwaysAllowPathsAuthorizer(paths));
  } catch (err) {
    if (!(err instanceof InvalidOptionError)) throw err;
    problems.push(
      ...err.problems.map((p) => `"authorizationAlwaysAllowPaths" (--authorization-always-allow-paths): ${p}`),
    );
  }
  members.push(...(options.additionalAuthorizers ?? []));
  let review: SubjectAccessReviewAuthorizer | undefined;
  if (options.client) {
    try {
      review = new SubjectAccessReviewAuthorizer({ ...options, client: options.client });
      members.push(review);
    } catch (err) {
      if (!(err instanceof InvalidOptionError)) throw err;
      problems.push(...err.problems);
    }
  } else {
    logger.warn({}, "No authorization-kubeconfig provided, so SubjectAccessReview of authorization tokens won't work.");
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);
  const noOpinion = { decision: Decision.NoOpinion, reason: '' } as const;
  const union: Authorizer =
    members.length > 0
      ? unionAuthorizers(...members)
      : { authorize: async () => noOpinion, authorizeSync: () => noOpinion };
  const delegating: DelegatingAuthorizer = {
    authorize: (attrs, signal) => union.authorize(attrs, signal),
    stats: () => review?.stats(),
    close: async () => {
      await review?.close();
    },
  };
  // Keep the union's fast path (static rules, cached reviews): adapters then answer a cached request without
  // awaiting, which is what makes the public stack as fast as one assembled by hand.
  const sync = union.authorizeSync?.bind(union);
  if (sync) delegating.authorizeSync = sync;
  return delegating;
}
