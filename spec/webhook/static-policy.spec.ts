import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { evaluateStaticPolicy, parseStaticPolicy } from '../../lib/webhook/static-policy.js';
import type { SubjectAccessReviewSpec } from '../../lib/webhook/subject-access-review-webhook.js';

const policy = parseStaticPolicy(`
rules:
  - users: ["mallory"]
    verbs: ["*"]
    apiGroups: ["*"]
    resources: ["*"]
    effect: deny
    reason: mallory is banned
  - groups: ["devs"]
    verbs: ["get", "list"]
    apiGroups: [""]
    resources: ["pods", "pods/log"]
    namespaces: ["dev"]
  - groups: ["admins"]
    verbs: ["*"]
    apiGroups: ["*"]
    resources: ["*"]
  - groups: ["devs", "admins"]
    verbs: ["get"]
    nonResourceURLs: ["/healthz", "/metrics/*"]
`);

const who = (user: string, groups: string[]) => ({
  apiVersion: 'authorization.k8s.io/v1' as const,
  user,
  uid: '',
  groups,
  extra: {},
});
const res = (verb: string, resource: string, namespace = 'dev', group = '', subresource = '') => ({
  resourceAttributes: { namespace, verb, group, version: 'v1', resource, subresource, name: '' },
});

const cases: readonly { name: string; spec: SubjectAccessReviewSpec; expect: Record<string, unknown> }[] = [
  { name: 'dev lists pods in dev', spec: { ...who('d', ['devs']), ...res('list', 'pods') }, expect: { allowed: true } },
  {
    name: 'dev reads pods/log',
    spec: { ...who('d', ['devs']), ...res('get', 'pods', 'dev', '', 'log') },
    expect: { allowed: true },
  },
  {
    name: 'dev cannot delete pods: no opinion',
    spec: { ...who('d', ['devs']), ...res('delete', 'pods') },
    expect: { allowed: false },
  },
  {
    name: 'dev cannot list pods in prod',
    spec: { ...who('d', ['devs']), ...res('list', 'pods', 'prod') },
    expect: { allowed: false },
  },
  {
    name: 'namespaced rule does not cover cluster scope',
    spec: { ...who('d', ['devs']), ...res('list', 'pods', '') },
    expect: { allowed: false },
  },
  {
    name: 'admin does anything',
    spec: { ...who('a', ['admins']), ...res('delete', 'deployments', 'x', 'apps') },
    expect: { allowed: true },
  },
  {
    name: 'deny beats a later allow',
    spec: { ...who('mallory', ['admins']), ...res('get', 'pods') },
    expect: { allowed: false, denied: true, reason: 'mallory is banned' },
  },
  {
    name: 'non-resource exact path',
    spec: { ...who('d', ['devs']), nonResourceAttributes: { path: '/healthz', verb: 'get' } },
    expect: { allowed: true },
  },
  {
    name: 'non-resource prefix path',
    spec: { ...who('d', ['devs']), nonResourceAttributes: { path: '/metrics/cadvisor', verb: 'get' } },
    expect: { allowed: true },
  },
  {
    name: 'non-resource other verb',
    spec: { ...who('d', ['devs']), nonResourceAttributes: { path: '/healthz', verb: 'post' } },
    expect: { allowed: false },
  },
  { name: 'stranger: no opinion', spec: { ...who('s', []), ...res('get', 'pods') }, expect: { allowed: false } },
];

describe('webhook/evaluateStaticPolicy', () => {
  for (const c of cases) {
    it(c.name, () => {
      const out = evaluateStaticPolicy(policy, c.spec);
      expect(out).to.deep.include(c.expect);
      if (!c.expect.denied) expect(out.denied).to.equal(undefined);
    });
  }

  it('reports every problem of a bad policy', () => {
    expect(() => parseStaticPolicy('rules:\n  - verbs: [get]\n    resourcez: [pods]\n    effect: maybe\n'))
      .to.throw(InvalidOptionError)
      .with.property('problems')
      .that.satisfies(
        (p: string[]) =>
          p.some((x) => /unknown field "resourcez"/.test(x)) &&
          p.some((x) => /"users" or "groups"/.test(x)) &&
          p.some((x) => /effect/.test(x)),
      );
  });
});
