// Frozen copy of the engine as it was before the two were merged (commit 6f014a1), kept only as the oracle of
// spec/authz/static-policy-differential.spec.ts. Not library code; do not change it.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { InvalidOptionError } from '../../../lib/errors.js';
import { Decision, type Authorizer, type RequestAttributes } from '../../../lib/authz/interfaces.js';

/**
 * One RBAC-style rule. A rule applies to a request when the user matches (`users` or `groups`; `*` = anyone)
 * and the verb matches, and then either (resource request) `apiGroups` + `resources` (+ `resourceNames`,
 * `namespaces` when given) match, or (non-resource request) `nonResourceURLs` match.
 */
export interface StaticPolicyRule {
  /** User names; `*` matches any user. */
  readonly users?: readonly string[] | undefined;
  /** Group names; `*` matches any user. */
  readonly groups?: readonly string[] | undefined;
  /** Kube verbs (`get`, `list`, `watch`, `create`, ...) or, for paths, lower-case HTTP methods; `*` = all. */
  readonly verbs: readonly string[];
  /** API groups (`""` = core); `*` = all. */
  readonly apiGroups?: readonly string[] | undefined;
  /**
   * As in RBAC: `resource`, `resource/subresource`, `resource/` + `*` (all its subresources), `*` + `/subresource`
   * (that subresource of anything), or `*` (everything, subresources included).
   */
  readonly resources?: readonly string[] | undefined;
  /** Names; empty or absent = any name. */
  readonly resourceNames?: readonly string[] | undefined;
  /** Namespaces; absent = any namespace (and cluster scope). */
  readonly namespaces?: readonly string[] | undefined;
  /** Paths; a trailing `*` is a prefix match (`/apis/*`); `*` alone = all paths. */
  readonly nonResourceURLs?: readonly string[] | undefined;
}

export interface StaticPolicy {
  readonly rules: readonly StaticPolicyRule[];
}

const ruleKeys = new Set([
  'users',
  'groups',
  'verbs',
  'apiGroups',
  'resources',
  'resourceNames',
  'namespaces',
  'nonResourceURLs',
]);

function stringList(problems: string[], where: string, value: unknown): readonly string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    problems.push(`${where} must be a list of strings`);
    return undefined;
  }
  return value as string[];
}

/** Checks a policy object (e.g. parsed YAML/JSON) and returns it typed; every problem is reported at once. */
export function validateStaticPolicy(value: unknown, source = 'policy'): StaticPolicy {
  const problems: string[] = [];
  const rulesRaw = (value as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rulesRaw)) throw new InvalidOptionError([`${source}: "rules" must be a list`]);
  const rules: StaticPolicyRule[] = [];
  rulesRaw.forEach((raw: unknown, i) => {
    const where = `${source}: rules[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push(`${where} must be a mapping`);
      return;
    }
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!ruleKeys.has(k)) problems.push(`${where}: unknown field ${JSON.stringify(k)}`);
    const rule = {
      users: stringList(problems, `${where}.users`, r.users),
      groups: stringList(problems, `${where}.groups`, r.groups),
      verbs: stringList(problems, `${where}.verbs`, r.verbs) ?? [],
      apiGroups: stringList(problems, `${where}.apiGroups`, r.apiGroups),
      resources: stringList(problems, `${where}.resources`, r.resources),
      resourceNames: stringList(problems, `${where}.resourceNames`, r.resourceNames),
      namespaces: stringList(problems, `${where}.namespaces`, r.namespaces),
      nonResourceURLs: stringList(problems, `${where}.nonResourceURLs`, r.nonResourceURLs),
    };
    if (!rule.users?.length && !rule.groups?.length) problems.push(`${where} needs "users" or "groups"`);
    if (rule.verbs.length === 0) problems.push(`${where} needs "verbs"`);
    const hasResources = (rule.resources?.length ?? 0) > 0;
    const hasUrls = (rule.nonResourceURLs?.length ?? 0) > 0;
    if (!hasResources && !hasUrls) problems.push(`${where} needs "resources" or "nonResourceURLs"`);
    if (hasResources && !rule.apiGroups)
      problems.push(`${where}: "resources" needs "apiGroups" ("" for the core group)`);
    for (const u of rule.nonResourceURLs ?? []) {
      if (u.slice(0, -1).includes('*')) problems.push(`${where}: only trailing * allowed in ${JSON.stringify(u)}`);
    }
    rules.push(rule);
  });
  if (problems.length > 0) throw new InvalidOptionError(problems);
  return { rules };
}

/** Parses a YAML (or JSON) policy document. */
export function parseStaticPolicy(text: string, source = 'policy'): StaticPolicy {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidOptionError([`${source}: ${(err as Error).message.split('\n')[0]}`]);
  }
  return validateStaticPolicy(doc, source);
}

/** Reads and parses a policy file (the only I/O here; the authorizer itself does none). */
export async function loadStaticPolicy(file: string): Promise<StaticPolicy> {
  return parseStaticPolicy(await readFile(file, 'utf8'), file);
}

const has = (list: readonly string[] | undefined, v: string) =>
  list !== undefined && (list.includes('*') || list.includes(v));

function subjectMatches(rule: StaticPolicyRule, attrs: RequestAttributes): boolean {
  const user = (attrs as { user?: RequestAttributes['user'] }).user;
  if (!user) return false;
  if (has(rule.users, user.name)) return true;
  return rule.groups !== undefined && (rule.groups.includes('*') || user.groups.some((g) => rule.groups!.includes(g)));
}

// RBAC's ResourceMatches: `*`, exact `resource` (no subresource), `resource/sub`, `*/sub`, `resource/*`.
function resourceMatches(rule: StaticPolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (!subresource) continue;
    if (r === `*/${subresource}` || r === `${resource}/*`) return true;
  }
  return false;
}

function urlMatches(rule: StaticPolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

/** True when `rule` allows `attrs`. */
export function ruleAllows(rule: StaticPolicyRule, attrs: RequestAttributes): boolean {
  if (!subjectMatches(rule, attrs) || !has(rule.verbs, attrs.verb)) return false;
  if (!attrs.resourceRequest) return urlMatches(rule, attrs.path);
  if (!has(rule.apiGroups, attrs.apiGroup) || !resourceMatches(rule, attrs.resource, attrs.subresource)) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0 && !rule.resourceNames.includes(attrs.name)) return false;
  if (rule.namespaces && !has(rule.namespaces, attrs.namespace)) return false;
  return true;
}

/**
 * A static-rule authorizer (kube-rbac-proxy style): Allow when any rule matches, NoOpinion otherwise, so it can
 * sit in a union before (or instead of) the SubjectAccessReview authorizer. Never Deny, never an error.
 */
export function staticPolicyAuthorizer(policy: StaticPolicy): Authorizer {
  const checked = validateStaticPolicy(policy);
  return {
    async authorize(attrs) {
      for (const rule of checked.rules) if (ruleAllows(rule, attrs)) return { decision: Decision.Allow, reason: '' };
      return { decision: Decision.NoOpinion, reason: '' };
    },
  };
}
