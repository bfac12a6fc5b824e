import { expect } from 'chai';
import fc from 'fast-check';
import { goParseQuery, resolveRequestInfo } from '../../lib/http/request-info.js';

const W = '/apis/wardle.example.com/v1alpha1';
const NSF = `${W}/namespaces/default/flunders`;

interface Case {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  readonly expect: {
    readonly isResourceRequest: boolean;
    readonly verb: string;
    readonly apiPrefix?: string;
    readonly apiGroup?: string;
    readonly apiVersion?: string;
    readonly namespace?: string;
    readonly resource?: string;
    readonly subresource?: string;
    readonly name?: string;
    readonly path?: string;
    readonly parts?: readonly string[];
  };
}

// Every worked example of reference §8, plus Go's requestinfo_test.go cases (names kept where they exist).
const cases: readonly Case[] = [
  {
    name: 'GET /healthz',
    method: 'GET',
    url: '/healthz',
    expect: { isResourceRequest: false, verb: 'get', path: '/healthz' },
  },
  { name: 'HEAD /healthz', method: 'HEAD', url: '/healthz', expect: { isResourceRequest: false, verb: 'head' } },
  { name: 'POST /foo/bar', method: 'POST', url: '/foo/bar', expect: { isResourceRequest: false, verb: 'post' } },
  { name: 'GET /apis', method: 'GET', url: '/apis', expect: { isResourceRequest: false, verb: 'get', apiPrefix: '' } },
  {
    name: 'GET /apis/<group>',
    method: 'GET',
    url: '/apis/wardle.example.com',
    expect: { isResourceRequest: false, verb: 'get' },
  },
  {
    name: 'GET /apis/<group>/<version> (non-resource, prefix set like Go)',
    method: 'GET',
    url: W,
    expect: { isResourceRequest: false, verb: 'get', apiPrefix: 'apis', apiGroup: '', apiVersion: '' },
  },
  { name: 'GET /api/v1', method: 'GET', url: '/api/v1', expect: { isResourceRequest: false, verb: 'get' } },
  { name: 'GET / (root)', method: 'GET', url: '/', expect: { isResourceRequest: false, verb: 'get', path: '/' } },
  {
    name: 'GET /version',
    method: 'GET',
    url: '/version?x=1',
    expect: { isResourceRequest: false, verb: 'get', path: '/version' },
  },
  {
    name: 'GET /api/v1/pods (list, no namespace)',
    method: 'GET',
    url: '/api/v1/pods',
    expect: {
      isResourceRequest: true,
      verb: 'list',
      apiPrefix: 'api',
      apiGroup: '',
      apiVersion: 'v1',
      namespace: '',
      resource: 'pods',
      parts: ['pods'],
    },
  },
  {
    name: 'GET /api/v1/namespaces',
    method: 'GET',
    url: '/api/v1/namespaces',
    expect: { isResourceRequest: true, verb: 'list', namespace: '', resource: 'namespaces', name: '' },
  },
  {
    name: 'GET /api/v1/namespaces/ns1',
    method: 'GET',
    url: '/api/v1/namespaces/ns1',
    expect: { isResourceRequest: true, verb: 'get', namespace: 'ns1', resource: 'namespaces', name: 'ns1' },
  },
  {
    name: 'PUT /api/v1/namespaces/ns1/finalize',
    method: 'PUT',
    url: '/api/v1/namespaces/ns1/finalize',
    expect: {
      isResourceRequest: true,
      verb: 'update',
      namespace: 'ns1',
      resource: 'namespaces',
      subresource: 'finalize',
      name: 'ns1',
    },
  },
  {
    name: 'PUT /api/v1/namespaces/ns1/status',
    method: 'PUT',
    url: '/api/v1/namespaces/ns1/status',
    expect: {
      isResourceRequest: true,
      verb: 'update',
      namespace: 'ns1',
      resource: 'namespaces',
      subresource: 'status',
      name: 'ns1',
    },
  },
  {
    name: 'GET namespaced list',
    method: 'GET',
    url: NSF,
    expect: {
      isResourceRequest: true,
      verb: 'list',
      apiPrefix: 'apis',
      apiGroup: 'wardle.example.com',
      apiVersion: 'v1alpha1',
      namespace: 'default',
      resource: 'flunders',
      subresource: '',
      name: '',
      parts: ['flunders'],
    },
  },
  {
    name: 'watch=true',
    method: 'GET',
    url: `${NSF}?watch=true`,
    expect: { isResourceRequest: true, verb: 'watch', namespace: 'default', resource: 'flunders' },
  },
  { name: 'watch=1', method: 'GET', url: `${NSF}?watch=1`, expect: { isResourceRequest: true, verb: 'watch' } },
  {
    name: 'watch= (empty is true)',
    method: 'GET',
    url: `${NSF}?watch=`,
    expect: { isResourceRequest: true, verb: 'watch' },
  },
  {
    name: 'watch without = is true',
    method: 'GET',
    url: `${NSF}?watch`,
    expect: { isResourceRequest: true, verb: 'watch' },
  },
  {
    name: 'watch=yes is true',
    method: 'GET',
    url: `${NSF}?watch=yes`,
    expect: { isResourceRequest: true, verb: 'watch' },
  },
  {
    name: 'watch=false',
    method: 'GET',
    url: `${NSF}?watch=false`,
    expect: { isResourceRequest: true, verb: 'list', namespace: 'default', resource: 'flunders' },
  },
  { name: 'watch=0', method: 'GET', url: `${NSF}?watch=0`, expect: { isResourceRequest: true, verb: 'list' } },
  { name: 'watch=FALSE', method: 'GET', url: `${NSF}?watch=FALSE`, expect: { isResourceRequest: true, verb: 'list' } },
  {
    name: 'first watch value wins',
    method: 'GET',
    url: `${NSF}?watch=false&watch=true`,
    expect: { isResourceRequest: true, verb: 'list' },
  },
  {
    name: 'fieldSelector metadata.name=foo',
    method: 'GET',
    url: `${NSF}?fieldSelector=metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'list', namespace: 'default', resource: 'flunders', name: 'foo' },
  },
  {
    name: 'fieldSelector metadata.name==foo',
    method: 'GET',
    url: `${NSF}?fieldSelector=metadata.name%3D%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'list', name: 'foo' },
  },
  {
    name: 'fieldSelector metadata.name inside an AND list, with watch',
    method: 'GET',
    url: `${NSF}?watch=true&fieldSelector=spec.x%3Dy,metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'watch', name: 'foo' },
  },
  {
    name: 'fieldSelector metadata.name!=foo gives no name',
    method: 'GET',
    url: `${NSF}?fieldSelector=metadata.name!%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'list', name: '' },
  },
  {
    name: 'fieldSelector name .. is not a valid path segment',
    method: 'GET',
    url: `${NSF}?fieldSelector=metadata.name%3D..`,
    expect: { isResourceRequest: true, verb: 'list', name: '' },
  },
  {
    name: 'fieldSelector name with % is not a valid path segment',
    method: 'GET',
    url: `${NSF}?fieldSelector=metadata.name%3Da%25b`,
    expect: { isResourceRequest: true, verb: 'list', name: '' },
  },
  {
    name: 'fieldSelector name with / is not a valid path segment',
    method: 'GET',
    url: `${NSF}?fieldSelector=metadata.name%3Da/b`,
    expect: { isResourceRequest: true, verb: 'list', name: '' },
  },
  {
    name: 'invalid fieldSelector: decode fails, no name',
    method: 'GET',
    url: `${NSF}?fieldSelector=metadata.name%3Dfoo,bad`,
    expect: { isResourceRequest: true, verb: 'list', name: '' },
  },
  {
    name: 'limit=abc: decode fails, watch still re-read',
    method: 'GET',
    url: `${NSF}?limit=abc&watch=true&fieldSelector=metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'watch', name: '' },
  },
  {
    name: 'limit= (empty) fails to decode',
    method: 'GET',
    url: `${NSF}?limit=&fieldSelector=metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'list', name: '' },
  },
  {
    name: 'limit=500 decodes',
    method: 'GET',
    url: `${NSF}?limit=500&fieldSelector=metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'list', name: 'foo' },
  },
  {
    name: 'bad timeoutSeconds: decode fails',
    method: 'GET',
    url: `${NSF}?timeoutSeconds=1.5&watch=1&fieldSelector=metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'watch', name: '' },
  },
  {
    name: 'invalid labelSelector: decode fails',
    method: 'GET',
    url: `${NSF}?labelSelector=a%20in&fieldSelector=metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'list', name: '' },
  },
  {
    name: 'valid labelSelector decodes',
    method: 'GET',
    url: `${NSF}?labelSelector=a%20in%20(x,y)&fieldSelector=metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'list', name: 'foo' },
  },
  {
    name: 'GET named flunder',
    method: 'GET',
    url: `${NSF}/foo`,
    expect: {
      isResourceRequest: true,
      verb: 'get',
      namespace: 'default',
      resource: 'flunders',
      subresource: '',
      name: 'foo',
    },
  },
  {
    name: 'HEAD named flunder',
    method: 'HEAD',
    url: `${NSF}/foo`,
    expect: { isResourceRequest: true, verb: 'get', namespace: 'default', resource: 'flunders', name: 'foo' },
  },
  {
    name: 'POST create',
    method: 'POST',
    url: NSF,
    expect: { isResourceRequest: true, verb: 'create', namespace: 'default', resource: 'flunders', name: '' },
  },
  {
    name: 'PATCH status subresource',
    method: 'PATCH',
    url: `${NSF}/foo/status`,
    expect: {
      isResourceRequest: true,
      verb: 'patch',
      namespace: 'default',
      resource: 'flunders',
      subresource: 'status',
      name: 'foo',
    },
  },
  {
    name: 'PUT update',
    method: 'PUT',
    url: `${NSF}/foo`,
    expect: { isResourceRequest: true, verb: 'update', name: 'foo' },
  },
  {
    name: 'DELETE collection',
    method: 'DELETE',
    url: NSF,
    expect: { isResourceRequest: true, verb: 'deletecollection', namespace: 'default', resource: 'flunders', name: '' },
  },
  {
    name: 'DELETE collection ignores fieldSelector',
    method: 'DELETE',
    url: `${NSF}?fieldSelector=metadata.name%3Dfoo`,
    expect: { isResourceRequest: true, verb: 'deletecollection', name: '' },
  },
  {
    name: 'DELETE named',
    method: 'DELETE',
    url: `${NSF}/foo`,
    expect: { isResourceRequest: true, verb: 'delete', namespace: 'default', resource: 'flunders', name: 'foo' },
  },
  {
    name: 'OPTIONS collection has empty verb',
    method: 'OPTIONS',
    url: NSF,
    expect: { isResourceRequest: true, verb: '', resource: 'flunders' },
  },
  {
    name: 'lower-case method has empty verb (Go switch is case-sensitive)',
    method: 'get',
    url: NSF,
    expect: { isResourceRequest: true, verb: '' },
  },
  {
    name: 'cluster-scoped list',
    method: 'GET',
    url: `${W}/fischers`,
    expect: { isResourceRequest: true, verb: 'list', namespace: '', resource: 'fischers' },
  },
  {
    name: 'watch via path',
    method: 'GET',
    url: '/api/v1/watch/namespaces/ns/pods/p1',
    expect: { isResourceRequest: true, verb: 'watch', namespace: 'ns', resource: 'pods', name: 'p1' },
  },
  {
    name: 'watch via path, list form ignores ?watch=false',
    method: 'GET',
    url: '/api/v1/watch/namespaces/ns/pods?watch=false',
    expect: { isResourceRequest: true, verb: 'watch', namespace: 'ns', resource: 'pods', name: '' },
  },
  {
    name: 'proxy never has a subresource',
    method: 'GET',
    url: '/api/v1/proxy/namespaces/ns/pods/p1/a/b',
    expect: {
      isResourceRequest: true,
      verb: 'proxy',
      namespace: 'ns',
      resource: 'pods',
      subresource: '',
      name: 'p1',
      parts: ['pods', 'p1', 'a', 'b'],
    },
  },
  {
    name: 'extra parts ignored',
    method: 'GET',
    url: `${NSF}/foo/status/x/y`,
    expect: { isResourceRequest: true, verb: 'get', subresource: 'status', name: 'foo' },
  },
  {
    name: 'path is decoded',
    method: 'GET',
    url: '/foo%20bar/%C3%A9',
    expect: { isResourceRequest: false, verb: 'get', path: '/foo bar/é' },
  },
  {
    name: 'decoded name',
    method: 'GET',
    url: `${NSF}/a%2Fb`,
    expect: { isResourceRequest: true, verb: 'get', resource: 'flunders', name: 'a', subresource: 'b' },
  },
  {
    name: 'plus is literal in path',
    method: 'GET',
    url: `${NSF}/a+b`,
    expect: { isResourceRequest: true, verb: 'get', name: 'a+b' },
  },
  {
    name: 'empty segment kept',
    method: 'GET',
    url: `${W}/namespaces//flunders`,
    expect: { isResourceRequest: true, verb: 'list', namespace: '', resource: 'flunders' },
  },
  {
    name: 'trailing slashes trimmed',
    method: 'GET',
    url: `${NSF}/`,
    expect: { isResourceRequest: true, verb: 'list', resource: 'flunders' },
  },
  {
    name: 'unknown prefix is non-resource',
    method: 'GET',
    url: '/openapi/v2/x',
    expect: { isResourceRequest: false, verb: 'get' },
  },
  {
    name: 'absolute-form request target',
    method: 'GET',
    url: 'https://example.com:443/api/v1/pods',
    expect: { isResourceRequest: true, verb: 'list', resource: 'pods' },
  },
];

describe('http/request-info resolveRequestInfo (Go RequestInfoFactory, reference §8)', () => {
  for (const c of cases) {
    it(`${c.name}: ${c.method} ${c.url}`, () => {
      const r = resolveRequestInfo(c.method, c.url);
      expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
      const got = r.info;
      for (const [k, v] of Object.entries(c.expect)) {
        expect((got as unknown as Record<string, unknown>)[k], k).to.deep.equal(v);
      }
    });
  }

  const errorCases = [
    { name: '/api/v1/watch', url: '/api/v1/watch' },
    { name: '/api/v1/proxy', url: '/api/v1/proxy' },
    { name: '/apis/g/v1/watch', url: '/apis/wardle.example.com/v1alpha1/watch' },
    { name: '/api/v1/watch with query keeps the query in the message', url: '/api/v1/watch?x=1' },
  ];
  for (const c of errorCases) {
    it(`error: ${c.name}`, () => {
      const r = resolveRequestInfo('GET', c.url);
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.error.code).to.equal('ERR_KDA_REQUEST_INFO');
      expect(r.error.message).to.equal(`unable to determine kind and namespace from url, ${c.url}`);
    });
  }

  it('error: malformed % escape in the path', () => {
    const r = resolveRequestInfo('GET', '/api/v1/pods/%zz');
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.error.message).to.equal('parse "/api/v1/pods/%zz": invalid URL escape "%zz"');
      expect(r.error.details.status).to.equal(400);
    }
  });

  describe('authorizationSelectors (AuthorizeWithSelectors, 1.31+)', () => {
    const sel = `fieldSelector=spec.a%3Db&labelSelector=env%20in%20(x)`;
    const selCases = [
      {
        name: 'list copies raw selectors',
        method: 'GET',
        url: `${NSF}?${sel}`,
        field: 'spec.a=b',
        label: 'env in (x)',
      },
      {
        name: 'watch copies raw selectors',
        method: 'GET',
        url: `${NSF}?watch=1&${sel}`,
        field: 'spec.a=b',
        label: 'env in (x)',
      },
      {
        name: 'deletecollection copies raw selectors',
        method: 'DELETE',
        url: `${NSF}?${sel}`,
        field: 'spec.a=b',
        label: 'env in (x)',
      },
      {
        name: 'raw selectors kept even when list options fail to decode',
        method: 'GET',
        url: `${NSF}?limit=x&fieldSelector=bad`,
        field: 'bad',
        label: undefined,
      },
      {
        name: 'get does not carry selectors',
        method: 'GET',
        url: `${NSF}/foo?${sel}`,
        field: undefined,
        label: undefined,
      },
      {
        name: 'watch via path does not carry selectors',
        method: 'GET',
        url: `/api/v1/watch/namespaces/ns/pods?${sel}`,
        field: undefined,
        label: undefined,
      },
      {
        name: 'first value wins',
        method: 'GET',
        url: `${NSF}?fieldSelector=a%3D1&fieldSelector=b%3D2`,
        field: 'a=1',
        label: undefined,
      },
    ];
    for (const c of selCases) {
      it(c.name, () => {
        const r = resolveRequestInfo(c.method, c.url, { authorizationSelectors: true });
        expect(r.ok).to.equal(true);
        expect(r.info.fieldSelector).to.equal(c.field);
        expect(r.info.labelSelector).to.equal(c.label);
      });
    }
    it('off by default', () => {
      const r = resolveRequestInfo('GET', `${NSF}?${sel}`);
      expect(r.info.fieldSelector).to.equal(undefined);
      expect(r.info.labelSelector).to.equal(undefined);
    });
  });

  describe('properties (fast-check)', () => {
    const segment = fc.constantFrom(
      'api',
      'apis',
      'v1',
      'g.io',
      'namespaces',
      'ns',
      'watch',
      'proxy',
      'status',
      'finalize',
      'x',
      '',
      '%2F',
      '%zz',
      '.',
    );
    const urls = fc
      .tuple(
        fc.array(segment, { maxLength: 8 }),
        fc.constantFrom('', '?watch=1', '?fieldSelector=metadata.name%3Dn', '?limit=x', '?labelSelector=a%20in'),
      )
      .map(([parts, q]) => `/${parts.join('/')}${q}`);
    const methods = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'get');
    it('never throws; errors are ERR_KDA_REQUEST_INFO; resource requests have a resource (empty segments are kept, as in Go)', () => {
      fc.assert(
        fc.property(methods, urls, (m, u) => {
          const r = resolveRequestInfo(m, u, { authorizationSelectors: true });
          if (!r.ok) return r.error.code === 'ERR_KDA_REQUEST_INFO';
          if (!r.info.isResourceRequest) return r.info.verb === m.toLowerCase() && r.info.name === '';
          return r.info.parts.length >= 1 && r.info.resource === r.info.parts[0];
        }),
        { numRuns: 2000 },
      );
    });
    it('never throws on arbitrary input', () => {
      fc.assert(
        fc.property(fc.string(), fc.string(), (m, u) => {
          resolveRequestInfo(m, u);
          goParseQuery(u);
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('goParseQuery (Go url.ParseQuery)', () => {
    it('drops pairs with ; and bad escapes, keeps order, + is space', () => {
      const q = goParseQuery('a=1&b=x;y&c=%zz&a=2&d=a+b%2Bc&&e');
      expect([...q.entries()]).to.deep.equal([
        ['a', ['1', '2']],
        ['d', ['a b+c']],
        ['e', ['']],
      ]);
    });
  });
});
