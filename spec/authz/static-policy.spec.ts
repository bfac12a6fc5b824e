import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import type { UserInfo } from '../../lib/authn/interfaces.js';
import {
  loadStaticPolicy,
  parseStaticPolicy,
  staticPolicyAuthorizer,
  validateStaticPolicy,
} from '../../lib/authz/static-policy.js';
import type { Authorizer } from '../../lib/authz/interfaces.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { pathAttrs, resourceAttrs } from './fixtures.js';

const policyFile = fileURLToPath(new URL('../../fixtures/policy.yaml', import.meta.url));
const G = 'sample.kube-delegated-auth.io';
const user = (name: string, ...groups: string[]): UserInfo => ({ name, uid: '', groups, extra: {} });
const admin = user('root', 'system:masters', 'system:authenticated');
const dev = user('dana', 'developers', 'system:authenticated');
const someone = user('sam', 'system:authenticated');
const widgets = (verb: string, u: UserInfo, over = {}) =>
  resourceAttrs({ user: u, verb, apiGroup: G, apiVersion: 'v1alpha1', resource: 'widgets', name: '', ...over });

describe('authz/static-policy', () => {
  describe('fixtures/policy.yaml', () => {
    let authz: Authorizer;
    before(async () => {
      authz = staticPolicyAuthorizer(await loadStaticPolicy(policyFile));
    });
    const cases = [
      {
        name: 'system:masters may delete anything',
        attrs: () => resourceAttrs({ user: admin, verb: 'delete', resource: 'secrets' }),
        want: 'Allow',
      },
      {
        name: 'system:masters may post any path',
        attrs: () => pathAttrs('/debug/pprof', { user: admin, verb: 'post' }),
        want: 'Allow',
      },
      {
        name: 'authenticated may create selfsubjectreviews',
        attrs: () =>
          resourceAttrs({
            user: someone,
            verb: 'create',
            apiGroup: G,
            resource: 'selfsubjectreviews',
            name: '',
            namespace: '',
          }),
        want: 'Allow',
      },
      {
        name: 'authenticated may not get selfsubjectreviews',
        attrs: () => resourceAttrs({ user: someone, verb: 'get', apiGroup: G, resource: 'selfsubjectreviews' }),
        want: 'NoOpinion',
      },
      { name: 'authenticated may get /apis', attrs: () => pathAttrs('/apis', { user: someone }), want: 'Allow' },
      {
        name: 'authenticated may get /apis/<group>/<version>',
        attrs: () => pathAttrs(`/apis/${G}/v1alpha1`, { user: someone }),
        want: 'Allow',
      },
      {
        name: 'authenticated may get /api and /api/v1',
        attrs: () => pathAttrs('/api/v1', { user: someone }),
        want: 'Allow',
      },
      {
        name: 'authenticated may get /openapi/v3',
        attrs: () => pathAttrs('/openapi/v3', { user: someone }),
        want: 'Allow',
      },
      { name: 'authenticated may get /version', attrs: () => pathAttrs('/version', { user: someone }), want: 'Allow' },
      {
        name: 'authenticated may not get /version/x',
        attrs: () => pathAttrs('/version/x', { user: someone }),
        want: 'NoOpinion',
      },
      {
        name: 'authenticated may not get /metrics',
        attrs: () => pathAttrs('/metrics', { user: someone }),
        want: 'NoOpinion',
      },
      {
        name: 'authenticated may not post /apis',
        attrs: () => pathAttrs('/apis', { user: someone, verb: 'post' }),
        want: 'NoOpinion',
      },
      {
        name: 'unauthenticated may not get /version',
        attrs: () => pathAttrs('/version', { user: user('system:anonymous', 'system:unauthenticated') }),
        want: 'NoOpinion',
      },
      { name: 'developers may list widgets', attrs: () => widgets('list', dev), want: 'Allow' },
      { name: 'developers may get a widget', attrs: () => widgets('get', dev, { name: 'w1' }), want: 'Allow' },
      { name: 'developers may create widgets', attrs: () => widgets('create', dev), want: 'Allow' },
      { name: 'developers may delete a widget', attrs: () => widgets('delete', dev, { name: 'w1' }), want: 'Allow' },
      { name: 'developers may update a widget', attrs: () => widgets('update', dev, { name: 'w1' }), want: 'Allow' },
      { name: 'developers may patch a widget', attrs: () => widgets('patch', dev, { name: 'w1' }), want: 'Allow' },
      { name: 'developers may watch widgets', attrs: () => widgets('watch', dev), want: 'Allow' },
      {
        name: 'developers may not deletecollection widgets (the sample does not serve it)',
        attrs: () => widgets('deletecollection', dev),
        want: 'NoOpinion',
      },
      {
        name: 'developers may not get widgets/status',
        attrs: () => widgets('get', dev, { name: 'w1', subresource: 'status' }),
        want: 'NoOpinion',
      },
      {
        name: 'developers may not list widgets of another group',
        attrs: () => widgets('list', dev, { apiGroup: 'other.io' }),
        want: 'NoOpinion',
      },
      { name: 'others may not list widgets', attrs: () => widgets('list', someone), want: 'NoOpinion' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        expect(await authz.authorize(c.attrs())).to.deep.equal({ decision: c.want, reason: '' });
      });
    }
  });

  describe('matching rules', () => {
    const authz = staticPolicyAuthorizer(
      parseStaticPolicy(`
rules:
  - users: [carol]
    verbs: [get]
    apiGroups: [""]
    resources: [pods/log, "*/scale", "deployments/*"]
  - groups: ["*"]
    verbs: [get]
    apiGroups: [""]
    resources: [configmaps]
    resourceNames: [public]
    namespaces: [shared]
`),
    );
    const carol = user('carol');
    const cases = [
      {
        name: 'resource/subresource exact',
        attrs: resourceAttrs({ user: carol, apiGroup: '', resource: 'pods', subresource: 'log' }),
        want: 'Allow',
      },
      {
        name: 'resource/subresource does not grant the resource',
        attrs: resourceAttrs({ user: carol, apiGroup: '', resource: 'pods' }),
        want: 'NoOpinion',
      },
      {
        name: '*/subresource',
        attrs: resourceAttrs({ user: carol, apiGroup: '', resource: 'rs', subresource: 'scale' }),
        want: 'Allow',
      },
      {
        name: 'resource/*',
        attrs: resourceAttrs({ user: carol, apiGroup: '', resource: 'deployments', subresource: 'status' }),
        want: 'Allow',
      },
      {
        name: 'resource/* does not grant the resource',
        attrs: resourceAttrs({ user: carol, apiGroup: '', resource: 'deployments' }),
        want: 'NoOpinion',
      },
      {
        name: 'other user',
        attrs: resourceAttrs({ user: user('dave'), apiGroup: '', resource: 'pods', subresource: 'log' }),
        want: 'NoOpinion',
      },
      {
        name: 'resourceNames + namespaces match',
        attrs: resourceAttrs({ apiGroup: '', resource: 'configmaps', name: 'public', namespace: 'shared' }),
        want: 'Allow',
      },
      {
        name: 'resourceNames mismatch',
        attrs: resourceAttrs({ apiGroup: '', resource: 'configmaps', name: 'secret', namespace: 'shared' }),
        want: 'NoOpinion',
      },
      {
        name: 'namespaces mismatch',
        attrs: resourceAttrs({ apiGroup: '', resource: 'configmaps', name: 'public', namespace: 'default' }),
        want: 'NoOpinion',
      },
    ];
    for (const c of cases) {
      it(c.name, async () => expect((await authz.authorize(c.attrs)).decision).to.equal(c.want));
    }
  });

  describe('validation (every problem at once)', () => {
    it('reports each broken rule', () => {
      const err = (() => {
        try {
          validateStaticPolicy(
            {
              rules: [
                { verbs: ['get'], nonResourceURLs: ['/x'] },
                { groups: ['g'], nonResourceURLs: ['/x'] },
                { groups: ['g'], verbs: ['get'] },
                { groups: ['g'], verbs: ['get'], resources: ['pods'] },
                { groups: ['g'], verbs: ['get'], nonResourceURLs: ['/a*b'], extra: 1 },
                { groups: 'g', verbs: ['get'], nonResourceURLs: ['/x'] },
                'nope',
              ],
            },
            'test.yaml',
          );
        } catch (e) {
          return e as InvalidOptionError;
        }
        return undefined;
      })();
      expect(err).to.be.instanceOf(InvalidOptionError);
      expect(err!.problems).to.deep.equal([
        'test.yaml: rules[0] needs "users" or "groups"',
        'test.yaml: rules[1] needs "verbs"',
        'test.yaml: rules[2] needs "resources" or "nonResourceURLs"',
        'test.yaml: rules[3]: "resources" needs "apiGroups" ("" for the core group)',
        'test.yaml: rules[4]: unknown field "extra"',
        'test.yaml: rules[4]: only trailing * allowed in "/a*b"',
        'test.yaml: rules[5].groups must be a list of strings',
        'test.yaml: rules[5] needs "users" or "groups"',
        'test.yaml: rules[6] must be a mapping',
      ]);
    });
    it('rules must be a list', () => {
      expect(() => parseStaticPolicy('foo: 1')).to.throw(InvalidOptionError, 'policy: "rules" must be a list');
    });
    it('YAML syntax errors name the source', () => {
      expect(() => parseStaticPolicy('rules: [', 'p.yaml')).to.throw(InvalidOptionError, /^p\.yaml: /);
    });
  });
});
