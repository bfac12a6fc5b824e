import { loadStaticPolicy, matchStaticPolicy, parseStaticPolicy, type StaticPolicy } from '../authz/static-policy.js';
import {
  toRequestAttributes,
  type AuthorizeResult,
  type AuthorizeReview,
  type SubjectAccessReviewSpec,
} from './subject-access-review-webhook.js';

// The webhook serves the library's one static-policy engine (lib/authz/static-policy.ts, whose doc holds the
// semantics); this module only maps a SubjectAccessReview spec to RequestAttributes and the match back to a status.
export { loadStaticPolicy, parseStaticPolicy, type StaticPolicy };

/**
 * Evaluates a SAR against the policy: the first matching rule decides (`allowed`, or `denied` for `effect: deny`),
 * with the rule's `reason` or `static policy rule <i>`; no match is "no opinion" (allowed:false, not denied).
 */
export function evaluateStaticPolicy(policy: StaticPolicy, spec: SubjectAccessReviewSpec): AuthorizeResult {
  const m = matchStaticPolicy(policy, toRequestAttributes(spec));
  if (!m) return { allowed: false, reason: 'no static policy rule matches' };
  const reason = m.rule.reason ?? `static policy rule ${m.index}`;
  return m.rule.effect === 'deny' ? { allowed: false, denied: true, reason } : { allowed: true, reason };
}

/** An `authorize` callback for `subjectAccessReviewWebhook`. */
export function staticPolicyAuthorizer(policy: StaticPolicy): AuthorizeReview {
  return async (spec) => evaluateStaticPolicy(policy, spec);
}
