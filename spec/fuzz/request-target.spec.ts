// Differential property over generated request targets, on real TLS, for each of the four adapters built through its
// public factory: every request that reaches the handler was authorized for exactly the path the framework routed
// on (same path, same RequestInfo), or the answer is a 400 given before authentication. All four adapters answer
// every target alike. Targets mix backslashes, `#`, valid and invalid `%` escapes, %2F, dot segments (raw and
// encoded), absolute-form, double slashes, query strings and unicode (raw and encoded).
import { expect } from 'chai';
import fc from 'fast-check';
import { goUnescape, resolveRequestInfo } from '../../lib/http/request-info.js';
import { adapterNames, startAdapterStack, type AdapterStack, type RawAnswer } from '../support/adapters.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

const segment = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('apis', 'api', 'v1', 'g.io', 'namespaces', 'secret', 'widgets', 'gear') },
  { weight: 2, arbitrary: fc.constantFrom('watch', 'status', 'proxy', 'healthz', 'a%2Eb', '%41', '%C3%A9', '%07') },
  { weight: 1, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '.',
      '..',
      '%2e',
      '%2E%2e',
      '.%2E',
      'a%2Eb',
      '%2F',
      'a%2fb',
      '%5C',
      'a\\b',
      '\\',
      '#',
      'a#b',
      '%zz',
      '%',
      '%4',
      '%41',
      '%25',
      '%252F',
      '%C3%A9',
      '%FF',
      '%C3',
      'é',
      ';x',
      ':',
      '@',
      "'",
      '<b>',
      '{x}',
      '%07',
      '%00',
      '+',
      '~',
      '*',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 4 }).filter((s) => !/[\s]/.test(s)) },
);
const prefix = fc.constantFrom(
  '',
  '',
  '',
  'http://x',
  'https://h.example:8443',
  'HTTP://X',
  'http://u@x',
  'http://x?',
  'http://[::1]',
  'http://x:99999',
  'http://[::1::2]',
  'http://x.:',
  '/',
  'foo://x',
);
const query = fc.constantFrom(
  '',
  '',
  '?watch=1',
  '?watch=0',
  '?fieldSelector=metadata.name%3Dgear',
  '?limit=1&x=%20',
  '?a=b#c',
  '?x=%zz',
  '?a=1;b=2',
  '?q=<b>',
  '?p=a\\b',
  '?u=%C3%A9',
);
const target = fc
  .tuple(prefix, fc.array(segment, { minLength: 0, maxLength: 8 }), fc.boolean(), query)
  .map(([p, segs, trailing, q]) => `${p}/${segs.join('/')}${trailing && segs.length > 0 ? '/' : ''}${q}`);
const method = fc.constantFrom('GET', 'GET', 'DELETE', 'POST');

/** The RequestInfo fields a path decides (the query is the same on both sides). */
function pathFields(r: ReturnType<typeof resolveRequestInfo>) {
  const { isResourceRequest, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name, path } = r.info;
  return { ok: r.ok, isResourceRequest, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name, path };
}

/** `decoded` back into a target resolveRequestInfo reads as exactly that path. */
function encodePath(decoded: string): string {
  return decoded.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function assertAgreement(stack: AdapterStack, m: string, t: string, a: RawAnswer, authorizedBefore: number): void {
  const where = `${stack.name} ${m} ${JSON.stringify(t)}`;
  if (a.status === 400) {
    expect(stack.authorized.length, `${where}: a 400 is given before authorization`).to.equal(authorizedBefore);
    if (a.headers['content-type'] === 'application/json') {
      const status = JSON.parse(a.body) as { kind: string; reason: string; code: number };
      expect(status, where).to.deep.include({ kind: 'Status', reason: 'BadRequest', code: 400 });
    } else if (a.body !== '') {
      // Go's (and Node's) plain-text refusal of a request line it cannot parse.
      expect(a.body, where).to.equal('400 Bad Request');
    }
    return;
  }
  if (a.status === 500) {
    expect(a.body, where).to.match(/failed to create RequestInfo/);
    return;
  }
  expect(a.status, `${where}: ${a.body}`).to.equal(200);
  const routed = a.routed!;
  expect(routed, where).to.not.equal(undefined);
  const routedPath = routed.routedDecoded ? routed.routedPath : goUnescape(routed.routedPath, 'path');
  expect(routedPath, `${where}: the routed path decodes`).to.be.a('string');
  const attrs = routed.attributes;
  expect(attrs.path, `${where}: authorized path = routed path`).to.equal(routedPath);
  const q = t.indexOf('?');
  const expected = resolveRequestInfo(m, encodePath(routedPath!) + (q < 0 ? '' : t.slice(q)));
  const actual = {
    ok: true,
    isResourceRequest: attrs.resourceRequest,
    apiPrefix: expected.info.apiPrefix,
    apiGroup: attrs.apiGroup,
    apiVersion: attrs.apiVersion,
    namespace: attrs.namespace,
    resource: attrs.resource,
    subresource: attrs.subresource,
    name: attrs.name,
    path: attrs.path,
  };
  expect(actual, `${where}: authorized attributes = those of the routed path`).to.deep.equal(pathFields(expected));
  expect(attrs.verb, where).to.equal(expected.info.verb);
  // The handler's req.url is origin-form, except in Express, whose router keeps an absolute-form target.
  if (!stack.name.startsWith('express')) expect(routed.url.startsWith('/'), where).to.equal(true);
}

describe('fuzz: request targets — the authorized path is the routed path, in every adapter (real TLS)', function () {
  const runs = 60;
  this.timeout(fuzzTimeout(runs, 120));
  const stacks: AdapterStack[] = [];
  before(async () => {
    for (const name of adapterNames) stacks.push(await startAdapterStack(name));
  });
  after(async () => {
    for (const s of stacks) await s.close();
  });

  it('each generated target: routed path = authorized path, or a 400 before authentication; adapters agree', async () => {
    await fc.assert(
      fc.asyncProperty(method, target, async (m, t) => {
        const statuses: number[] = [];
        for (const stack of stacks) {
          const before = stack.authorized.length;
          const a = await stack.raw(m, t);
          assertAgreement(stack, m, t, a, before);
          statuses.push(a.status);
        }
        expect(
          new Set(statuses).size,
          `${m} ${JSON.stringify(t)}: ${adapterNames.join('/')} → ${statuses.join('/')}`,
        ).to.equal(1);
      }),
      fuzzParams(runs),
    );
  });
});
