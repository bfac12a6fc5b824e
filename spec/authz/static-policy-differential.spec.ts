// The two static-policy engines were merged into lib/authz/static-policy.ts (the webhook's is now a SAR wrapper).
// This spec runs generated policies and requests through the new engine and the frozen old ones
// (spec/authz/legacy/): it must agree with the old authz engine everywhere the old one was right, and with the old
// webhook engine on the dialect both understood; the places where they differed are named cases below.
import { expect } from 'chai';
import fc from 'fast-check';
import type { UserInfo } from '../../lib/authn/interfaces.js';
import type { RequestAttributes } from '../../lib/authz/interfaces.js';
import {
  staticPolicyAuthorizer,
  staticPolicyDecision,
  validateStaticPolicy,
  type StaticPolicyRule,
} from '../../lib/authz/static-policy.js';
import { InvalidOptionError } from '../../lib/errors.js';
import {
  evaluateStaticPolicy as evaluateSar,
  parseStaticPolicy as parseWebhookPolicy,
} from '../../lib/webhook/static-policy.js';
import type { SubjectAccessReviewSpec } from '../../lib/webhook/subject-access-review-webhook.js';
import { fuzzParams } from '../fuzz/runs.js';
import { pathAttrs } from './fixtures.js';
import * as oldAuthz from './legacy/authz-static-policy.js';
import * as oldWebhook from './legacy/webhook-static-policy.js';

const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
const subset = <T>(xs: T[]) => fc.subarray(xs, { minLength: 1 });

/** A request in both shapes: library attributes and the SAR spec the webhook sees. */
interface Request {
  readonly attrs: RequestAttributes;
  readonly sar: SubjectAccessReviewSpec;
}

function request(
  user: string,
  groups: string[],
  verb: string,
  kind:
    | { isResource: true; apiGroup: string; resource: string; subresource: string; namespace: string; name: string }
    | { isResource: false; path: string },
): Request {
  const u: UserInfo = { name: user, uid: '', groups, extra: {} };
  const who = { apiVersion: 'authorization.k8s.io/v1' as const, user, uid: '', groups, extra: {} };
  if (kind.isResource) {
    const { apiGroup, resource, subresource, namespace, name } = kind;
    return {
      attrs: {
        user: u,
        verb,
        resourceRequest: true,
        path: '',
        apiGroup,
        apiVersion: 'v1',
        namespace,
        resource,
        subresource,
        name,
      },
      sar: {
        ...who,
        resourceAttributes: { namespace, verb, group: apiGroup, version: 'v1', resource, subresource, name },
      },
    };
  }
  return {
    attrs: pathAttrs(kind.path, { user: u, verb }),
    sar: { ...who, nonResourceAttributes: { path: kind.path, verb } },
  };
}

const arbRequest = fc
  .record({
    user: pick('alice', 'bob', 'mallory'),
    groups: fc.subarray(['devs', 'admins', 'system:authenticated']),
    verb: pick('get', 'list', 'delete', 'post'),
    isResource: fc.boolean(),
    apiGroup: pick('', 'apps'),
    resource: pick('pods', 'deployments', 'secrets'),
    subresource: pick('', '', 'log', 'status'),
    namespace: pick('dev', 'prod', ''),
    name: pick('', 'web', 'db'),
    path: pick('/healthz', '/metrics', '/metrics/cadvisor', '/apis', '/version'),
  })
  .map((r) =>
    request(
      r.user,
      r.groups,
      r.verb,
      r.isResource
        ? {
            isResource: true,
            apiGroup: r.apiGroup,
            resource: r.resource,
            subresource: r.subresource,
            namespace: r.namespace,
            name: r.name,
          }
        : { isResource: false, path: r.path },
    ),
  );

const subjects = (users: string[], groups: string[]) =>
  fc
    .record({ users: fc.subarray(users), groups: fc.subarray(groups) })
    .filter((s) => s.users.length + s.groups.length > 0)
    .map((s) => ({ ...(s.users.length && { users: s.users }), ...(s.groups.length && { groups: s.groups }) }));

/** Rules in the old authz dialect (all of it: wildcard subjects, RBAC subresource patterns, resourceNames, ""). */
const arbAuthzRule: fc.Arbitrary<StaticPolicyRule> = fc
  .record({
    subject: subjects(['alice', 'bob', '*'], ['devs', 'admins', 'system:authenticated', '*']),
    verbs: subset(['get', 'list', 'delete', 'post', '*']),
    resourcePart: fc.option(
      fc.record({
        apiGroups: subset(['', 'apps', '*']),
        resources: subset(['pods', 'deployments', 'pods/log', 'pods/*', '*/status', '*']),
        resourceNames: fc.option(subset(['web', 'db']), { nil: undefined }),
        namespaces: fc.option(subset(['dev', 'prod', '', '*']), { nil: undefined }),
      }),
      { nil: undefined },
    ),
    urls: fc.option(subset(['/healthz', '/metrics/*', '/apis', '*']), { nil: undefined }),
  })
  .filter((r) => r.resourcePart !== undefined || r.urls !== undefined)
  .map((r) => ({
    ...r.subject,
    verbs: r.verbs,
    ...(r.resourcePart && {
      apiGroups: r.resourcePart.apiGroups,
      resources: r.resourcePart.resources,
      ...(r.resourcePart.resourceNames && { resourceNames: r.resourcePart.resourceNames }),
      ...(r.resourcePart.namespaces && { namespaces: r.resourcePart.namespaces }),
    }),
    ...(r.urls && { nonResourceURLs: r.urls }),
  }));

/** Rules in the dialect both old engines understood: named subjects, exact resources, named namespaces, effect. */
const arbCommonRule = fc
  .record({
    subject: subjects(['alice', 'bob', 'mallory'], ['devs', 'admins', 'system:authenticated']),
    verbs: subset(['get', 'list', 'delete', 'post', '*']),
    part: fc.oneof(
      fc.record({
        apiGroups: subset(['', 'apps', '*']),
        resources: subset(['pods', 'deployments', 'pods/log', 'secrets', '*']),
        namespaces: fc.option(subset(['dev', 'prod']), { nil: undefined }),
      }),
      fc.record({ nonResourceURLs: subset(['/healthz', '/metrics/*', '/apis', '*']) }),
    ),
    effect: pick<'allow' | 'deny' | undefined>(undefined, 'allow', 'deny'),
    reason: fc.option(pick('banned', 'on call'), { nil: undefined }),
  })
  .map((r) => {
    const part = Object.fromEntries(Object.entries(r.part).filter(([, v]) => v !== undefined));
    return {
      ...r.subject,
      verbs: r.verbs,
      ...part,
      ...(r.effect && { effect: r.effect }),
      ...(r.reason && { reason: r.reason }),
    };
  });

describe('authz/static-policy: one engine (differential against the two old ones)', () => {
  it('agrees with the old authz engine on generated allow-only policies and requests', () => {
    fc.assert(
      fc.property(
        fc.array(arbAuthzRule, { minLength: 1, maxLength: 5 }),
        fc.array(arbRequest, { maxLength: 20 }),
        (rules, reqs) => {
          const oldPolicy = oldAuthz.validateStaticPolicy({ rules });
          const newPolicy = validateStaticPolicy({ rules });
          for (const r of reqs) {
            const before = oldPolicy.rules.some((rule) => oldAuthz.ruleAllows(rule, r.attrs)) ? 'Allow' : 'NoOpinion';
            expect(staticPolicyDecision(newPolicy, r.attrs).decision).to.equal(before);
          }
        },
      ),
      fuzzParams(300),
    );
  });

  it('agrees with the old webhook engine (status and reason) on the dialect both understood', () => {
    fc.assert(
      fc.property(
        fc.array(arbCommonRule, { minLength: 1, maxLength: 5 }),
        fc.array(arbRequest, { maxLength: 20 }),
        (rules, reqs) => {
          const text = JSON.stringify({ rules });
          const oldPolicy = oldWebhook.parseStaticPolicy(text);
          const newPolicy = parseWebhookPolicy(text);
          for (const r of reqs)
            expect(evaluateSar(newPolicy, r.sar)).to.deep.equal(oldWebhook.evaluateStaticPolicy(oldPolicy, r.sar));
        },
      ),
      fuzzParams(300),
    );
  });

  describe('where the old engines answered the same YAML differently (now: the documented semantics)', () => {
    const alice = (verb: string, resource: string, namespace = 'dev', subresource = '') =>
      request('alice', ['system:authenticated'], verb, {
        isResource: true,
        apiGroup: '',
        resource,
        subresource,
        namespace,
        name: '',
      });
    const rule = (over: Record<string, unknown>) => ({ verbs: ['*'], apiGroups: ['*'], resources: ['*'], ...over });
    const cases: readonly {
      name: string;
      rule: Record<string, unknown>;
      req: Request;
      now: boolean;
      oldAuthz: boolean;
      oldWebhook: boolean;
    }[] = [
      {
        name: "users: ['*'] matches every user (ABAC); the old webhook matched only a user named *",
        rule: rule({ users: ['*'] }),
        req: alice('get', 'pods'),
        now: true,
        oldAuthz: true,
        oldWebhook: false,
      },
      {
        name: "groups: ['*'] matches every user",
        rule: rule({ groups: ['*'] }),
        req: alice('get', 'pods'),
        now: true,
        oldAuthz: true,
        oldWebhook: false,
      },
      {
        name: 'pods/* matches pods/log (RBAC ResourceMatches); the old webhook compared strings',
        rule: rule({ users: ['alice'], resources: ['pods/*'] }),
        req: alice('get', 'pods', 'dev', 'log'),
        now: true,
        oldAuthz: true,
        oldWebhook: false,
      },
      {
        name: '*/status matches deployments/status',
        rule: rule({ users: ['alice'], resources: ['*/status'] }),
        req: alice('get', 'deployments', 'dev', 'status'),
        now: true,
        oldAuthz: true,
        oldWebhook: false,
      },
      {
        name: "namespaces: ['*'] covers cluster-scoped requests (ABAC); the old webhook refused any cluster scope",
        rule: rule({ users: ['alice'], namespaces: ['*'] }),
        req: alice('list', 'nodes', ''),
        now: true,
        oldAuthz: true,
        oldWebhook: false,
      },
      {
        name: 'namespaces: [""] names cluster scope explicitly',
        rule: rule({ users: ['alice'], namespaces: [''] }),
        req: alice('list', 'nodes', ''),
        now: true,
        oldAuthz: true,
        oldWebhook: false,
      },
      {
        name: "namespaces: ['dev'] never covers cluster scope (a RoleBinding): all three agree",
        rule: rule({ users: ['alice'], namespaces: ['dev'] }),
        req: alice('list', 'nodes', ''),
        now: false,
        oldAuthz: false,
        oldWebhook: false,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const text = JSON.stringify({ rules: [c.rule] });
        expect(evaluateSar(parseWebhookPolicy(text), c.req.sar).allowed, 'webhook now').to.equal(c.now);
        const newAuthz = staticPolicyDecision(validateStaticPolicy({ rules: [c.rule] }), c.req.attrs).decision;
        expect(newAuthz === 'Allow', 'library now').to.equal(c.now);
        const oldA = oldAuthz.validateStaticPolicy({ rules: [c.rule] });
        expect(
          oldA.rules.some((r) => oldAuthz.ruleAllows(r, c.req.attrs)),
          'old authz',
        ).to.equal(c.oldAuthz);
        expect(
          oldWebhook.evaluateStaticPolicy(oldWebhook.parseStaticPolicy(text), c.req.sar).allowed,
          'old webhook',
        ).to.equal(c.oldWebhook);
      });
    }

    it('an empty user name matches only *: the old authz engine let users: [""] match a SAR without a user (wrong)', () => {
      const nobody = request('', ['devs'], 'get', {
        isResource: true,
        apiGroup: '',
        resource: 'pods',
        subresource: '',
        namespace: 'dev',
        name: '',
      });
      const rules = [rule({ users: [''] })];
      expect(oldAuthz.validateStaticPolicy({ rules }).rules.some((r) => oldAuthz.ruleAllows(r, nobody.attrs))).to.equal(
        true,
      );
      expect(staticPolicyDecision(validateStaticPolicy({ rules }), nobody.attrs).decision).to.equal('NoOpinion');
      expect(
        staticPolicyDecision(validateStaticPolicy({ rules: [rule({ users: ['*'] })] }), nobody.attrs).decision,
      ).to.equal('Allow');
    });

    it('effect: deny and reason, which only the old webhook had, now work in the library authorizer (first match decides)', async () => {
      const policy = validateStaticPolicy({
        rules: [
          rule({ users: ['mallory'], effect: 'deny', reason: 'mallory is banned' }),
          rule({ groups: ['admins'] }),
        ],
      });
      const mallory = request('mallory', ['admins'], 'get', {
        isResource: true,
        apiGroup: '',
        resource: 'pods',
        subresource: '',
        namespace: 'dev',
        name: '',
      });
      const admin = request('ann', ['admins'], 'get', {
        isResource: true,
        apiGroup: '',
        resource: 'pods',
        subresource: '',
        namespace: 'dev',
        name: '',
      });
      const authz = staticPolicyAuthorizer(policy);
      expect(await authz.authorize(mallory.attrs)).to.deep.equal({ decision: 'Deny', reason: 'mallory is banned' });
      expect(authz.authorizeSync!(admin.attrs)).to.deep.equal({ decision: 'Allow', reason: '' });
      expect(() => oldAuthz.validateStaticPolicy({ rules: [rule({ users: ['m'], effect: 'deny' })] })).to.throw(
        InvalidOptionError,
        /unknown field "effect"/,
      );
    });

    it('resourceNames and resource+nonResourceURLs rules, which the old webhook refused to load, now load there', () => {
      const text = JSON.stringify({
        rules: [
          {
            users: ['alice'],
            verbs: ['get'],
            apiGroups: [''],
            resources: ['secrets'],
            resourceNames: ['db'],
            nonResourceURLs: ['/healthz'],
          },
        ],
      });
      expect(() => oldWebhook.parseStaticPolicy(text)).to.throw(InvalidOptionError);
      const policy = parseWebhookPolicy(text);
      const get = (name: string) =>
        request('alice', [], 'get', {
          isResource: true,
          apiGroup: '',
          resource: 'secrets',
          subresource: '',
          namespace: 'dev',
          name,
        });
      expect(evaluateSar(policy, get('db').sar).allowed).to.equal(true);
      expect(evaluateSar(policy, get('web').sar).allowed).to.equal(false);
      expect(
        evaluateSar(policy, request('alice', [], 'get', { isResource: false, path: '/healthz' }).sar).allowed,
      ).to.equal(true);
    });

    it('a * inside a non-resource URL is refused at load (the old webhook matched it literally)', () => {
      const text = JSON.stringify({ rules: [{ users: ['alice'], verbs: ['get'], nonResourceURLs: ['/a*b'] }] });
      expect(() => oldWebhook.parseStaticPolicy(text)).not.to.throw();
      expect(() => parseWebhookPolicy(text)).to.throw(InvalidOptionError, /only trailing \* allowed/);
    });
  });
});
