// Frozen copy of the engine as it was before the two were merged (commit 6f014a1), kept only as the oracle of
// spec/authz/static-policy-differential.spec.ts. Not library code; do not change it.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { InvalidOptionError } from '../../../lib/errors.js';
import type {
  AuthorizeResult,
  AuthorizeReview,
  SubjectAccessReviewSpec,
} from '../../../lib/webhook/subject-access-review-webhook.js';

interface PolicyRule {
  readonly index: number;
  readonly users: readonly string[];
  readonly groups: readonly string[];
  readonly verbs: readonly string[];
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly namespaces?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly effect: 'allow' | 'deny';
  readonly reason: string;
}

/** A parsed static authorization policy. */
export interface StaticPolicy {
  readonly rules: readonly PolicyRule[];
}

const ruleKeys = new Set([
  'users',
  'groups',
  'verbs',
  'apiGroups',
  'resources',
  'namespaces',
  'nonResourceURLs',
  'effect',
  'reason',
]);

/**
 * Parses a policy document:
 * ```yaml
 * rules:
 *   - groups: ["devs"]            # and/or users; a subject matches when its name or any group is listed
 *     verbs: ["get", "list"]      # "*" = any
 *     apiGroups: [""]             # resource rules; "*" = any
 *     resources: ["pods", "pods/log"]
 *     namespaces: ["dev"]         # optional; absent = every namespace and cluster scope
 *   - users: ["mallory"]
 *     verbs: ["*"]
 *     nonResourceURLs: ["/healthz", "/api/*"]   # non-resource rule; a trailing * is a prefix match
 *     effect: deny                # default allow
 * ```
 * The first matching rule decides; none matching is "no opinion" (allowed:false, not denied).
 */
export function parseStaticPolicy(text: string): StaticPolicy {
  const problems: string[] = [];
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new InvalidOptionError([`policy is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  const doc = raw as { rules?: unknown } | null;
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.rules))
    throw new InvalidOptionError(['policy must have a "rules" list']);
  const list = (v: unknown, where: string, required: boolean): string[] | undefined => {
    if (v === undefined) {
      if (required) problems.push(`${where} is required`);
      return undefined;
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      problems.push(`${where} must be a list of strings`);
      return undefined;
    }
    return v as string[];
  };
  const rules: PolicyRule[] = [];
  doc.rules.forEach((r: unknown, index) => {
    const at = `rules[${index}]`;
    if (!r || typeof r !== 'object' || Array.isArray(r)) {
      problems.push(`${at} must be an object`);
      return;
    }
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!ruleKeys.has(k)) problems.push(`${at}: unknown field ${JSON.stringify(k)}`);
    const users = list(o.users, `${at}.users`, false) ?? [];
    const groups = list(o.groups, `${at}.groups`, false) ?? [];
    if (users.length === 0 && groups.length === 0) problems.push(`${at} must list users or groups`);
    const verbs = list(o.verbs, `${at}.verbs`, true) ?? [];
    const nonResourceURLs = list(o.nonResourceURLs, `${at}.nonResourceURLs`, false);
    const apiGroups = list(o.apiGroups, `${at}.apiGroups`, nonResourceURLs === undefined) ?? [];
    const resources = list(o.resources, `${at}.resources`, nonResourceURLs === undefined) ?? [];
    const namespaces = list(o.namespaces, `${at}.namespaces`, false);
    if (nonResourceURLs && (o.resources !== undefined || o.apiGroups !== undefined || namespaces)) {
      problems.push(`${at}: nonResourceURLs cannot be combined with apiGroups, resources or namespaces`);
    }
    const effect = o.effect ?? 'allow';
    if (effect !== 'allow' && effect !== 'deny') problems.push(`${at}.effect must be "allow" or "deny"`);
    if (o.reason !== undefined && typeof o.reason !== 'string') problems.push(`${at}.reason must be a string`);
    rules.push({
      index,
      users,
      groups,
      verbs,
      apiGroups,
      resources,
      ...(namespaces ? { namespaces } : {}),
      ...(nonResourceURLs ? { nonResourceURLs } : {}),
      effect: effect as 'allow' | 'deny',
      reason: typeof o.reason === 'string' ? o.reason : `static policy rule ${index}`,
    });
  });
  if (problems.length) throw new InvalidOptionError(problems);
  return { rules };
}

const has = (list: readonly string[], v: string) => list.includes('*') || list.includes(v);

function ruleMatches(rule: PolicyRule, spec: SubjectAccessReviewSpec): boolean {
  const subject =
    (spec.user !== '' && rule.users.includes(spec.user)) || spec.groups.some((g) => rule.groups.includes(g));
  if (!subject) return false;
  const ra = spec.resourceAttributes;
  if (ra) {
    if (rule.nonResourceURLs) return false;
    if (!has(rule.verbs, ra.verb) || !has(rule.apiGroups, ra.group)) return false;
    const resource = ra.subresource ? `${ra.resource}/${ra.subresource}` : ra.resource;
    if (!has(rule.resources, resource)) return false;
    return rule.namespaces === undefined || (ra.namespace !== '' && has(rule.namespaces, ra.namespace));
  }
  const nra = spec.nonResourceAttributes!;
  if (!rule.nonResourceURLs || !has(rule.verbs, nra.verb)) return false;
  return rule.nonResourceURLs.some((u) => (u.endsWith('*') ? nra.path.startsWith(u.slice(0, -1)) : u === nra.path));
}

/** Evaluates a SAR against the policy (first match decides). */
export function evaluateStaticPolicy(policy: StaticPolicy, spec: SubjectAccessReviewSpec): AuthorizeResult {
  const rule = policy.rules.find((r) => ruleMatches(r, spec));
  if (!rule) return { allowed: false, reason: 'no static policy rule matches' };
  return rule.effect === 'allow'
    ? { allowed: true, reason: rule.reason }
    : { allowed: false, denied: true, reason: rule.reason };
}

/** An `authorize` callback for `subjectAccessReviewWebhook`. */
export function staticPolicyAuthorizer(policy: StaticPolicy): AuthorizeReview {
  return async (spec) => evaluateStaticPolicy(policy, spec);
}

export async function loadStaticPolicy(path: string): Promise<StaticPolicy> {
  try {
    return parseStaticPolicy(await readFile(path, 'utf8'));
  } catch (err) {
    if (err instanceof InvalidOptionError) throw new InvalidOptionError(err.problems.map((p) => `${path}: ${p}`));
    throw err;
  }
}
