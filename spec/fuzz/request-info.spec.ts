// The request-attribute resolver as a pure function: deterministic, verb always in the known set, errors only of the
// documented kind, and the attributes built from it never depend on anything but (method, URI).
import { expect } from 'chai';
import fc from 'fast-check';
import { authorizerAttributes, resolveRequestInfo } from '../../lib/http/request-info.js';
import { fuzzParams } from './runs.js';

// '' is Go's verb for a resource request with a method outside its switch (OPTIONS, CONNECT, lower-case get, ...).
const kubeVerbs = new Set([
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  'proxy',
  '',
]);
const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

const segment = fc.oneof(
  fc.constantFrom('api', 'apis', 'v1', 'g.io', 'namespaces', 'ns', 'watch', 'proxy', 'status', 'finalize', 'x'),
  fc.constantFrom('', '.', '..', '%2F', '%zz', '%', '%41', '+', '%20', 'é', '?', '#'),
  fc.string({ maxLength: 6 }),
);
const query = fc.oneof(
  fc.constantFrom('', '?watch=1', '?watch=0', '?watch=FALSE', '?watch', '?limit=x', '?limit=9223372036854775808'),
  fc.constantFrom('?fieldSelector=metadata.name%3Dn', '?labelSelector=a%20in', '?labelSelector=a+in+(b)', '?a=%zz;b'),
  fc.string({ maxLength: 12 }).map((q) => `?${q}`),
);
const uri = fc.oneof(
  fc.tuple(fc.array(segment, { maxLength: 8 }), query).map(([p, q]) => `/${p.join('/')}${q}`),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('*', 'https://example.com/api/v1/pods', 'http://h', '//x/y'),
);
const method = fc.oneof(
  fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'get', 'Post'),
  fc.string({ maxLength: 6 }),
);

describe('fuzz: request-attribute resolver (fast-check)', () => {
  it('never throws; only ERR_KDA_REQUEST_INFO errors; same input → same output', () => {
    fc.assert(
      fc.property(method, uri, fc.boolean(), (m, u, selectors) => {
        const a = resolveRequestInfo(m, u, { authorizationSelectors: selectors });
        const b = resolveRequestInfo(m, u, { authorizationSelectors: selectors });
        expect(JSON.stringify(a)).to.equal(JSON.stringify(b));
        if (!a.ok) expect(a.error.code).to.equal('ERR_KDA_REQUEST_INFO');
      }),
      fuzzParams(3000),
    );
  });

  it("verb ∈ the kube verbs (or '' for a method Go does not map) for resource requests, the lower-case method for the rest", () => {
    fc.assert(
      fc.property(method, uri, (m, u) => {
        const r = resolveRequestInfo(m, u);
        if (!r.ok) return;
        if (r.info.isResourceRequest) {
          expect(kubeVerbs.has(r.info.verb), r.info.verb).to.equal(true);
          if (knownMethods.has(m)) expect(r.info.verb).to.not.equal('');
          if (r.info.verb === '') expect(knownMethods.has(m)).to.equal(false);
        } else expect(r.info.verb).to.equal(m.toLowerCase());
      }),
      fuzzParams(3000),
    );
  });

  it('selectors are only copied for list/watch/deletecollection and only when enabled', () => {
    fc.assert(
      fc.property(method, uri, fc.boolean(), (m, u, selectors) => {
        const r = resolveRequestInfo(m, u, { authorizationSelectors: selectors });
        if (!r.ok) return;
        const has = r.info.fieldSelector !== undefined || r.info.labelSelector !== undefined;
        if (has) {
          expect(selectors).to.equal(true);
          expect(['list', 'watch', 'deletecollection']).to.include(r.info.verb);
        }
      }),
      fuzzParams(2000),
    );
  });

  it('authorizer attributes carry exactly the given user and the resolved fields', () => {
    const user = { name: 'u', uid: '', groups: ['g'], extra: {} };
    fc.assert(
      fc.property(method, uri, (m, u) => {
        const r = resolveRequestInfo(m, u);
        if (!r.ok) return;
        const attrs = authorizerAttributes(user, r.info);
        expect(attrs.user).to.equal(user);
        expect(attrs.verb).to.equal(r.info.verb);
        expect(attrs.resourceRequest).to.equal(r.info.isResourceRequest);
        expect(attrs.namespace).to.equal(r.info.namespace);
        expect(attrs.name).to.equal(r.info.name);
      }),
      fuzzParams(1000),
    );
  });
});
