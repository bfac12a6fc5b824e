import { expect } from 'chai';
import type { RequestAttributes } from '../../lib/authz/interfaces.js';
import { forbidden, goJson, internalError, unauthorized } from '../../lib/http/status.js';

const base: RequestAttributes = {
  user: { name: 'bob', uid: '', groups: [], extra: {} },
  verb: 'list',
  resourceRequest: true,
  path: '/api/v1/namespaces/default/pods',
  apiGroup: '',
  apiVersion: 'v1',
  namespace: 'default',
  resource: 'pods',
  subresource: '',
  name: '',
};

describe('http/status (responsewriters bodies, reference §9)', () => {
  it('401 body is constant', () => {
    expect(unauthorized().body).to.equal(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n',
    );
  });

  const forbiddenCases: readonly {
    name: string;
    attrs: RequestAttributes;
    reason?: string;
    message: string;
    details: object;
  }[] = [
    {
      name: 'core group namespaced list (reference example)',
      attrs: base,
      message: 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"',
      details: { kind: 'pods' },
    },
    {
      name: 'no user on the request prints ""',
      attrs: { ...base, user: undefined } as unknown as RequestAttributes,
      message: 'pods is forbidden: User "" cannot list resource "pods" in API group "" in the namespace "default"',
      details: { kind: 'pods' },
    },
    {
      name: 'user name with a tab and a non-printable rune is Go-quoted',
      attrs: { ...base, user: { ...base.user, name: 'a\tb\u200bc' } },
      message:
        'pods is forbidden: User "a\\tb\\u200bc" cannot list resource "pods" in API group "" in the namespace "default"',
      details: { kind: 'pods' },
    },
    {
      name: 'a % in the reason is kept verbatim (current Go, not the 1.20 format-string quirk)',
      attrs: { ...base, resourceRequest: false, path: '/x', verb: 'get', resource: '', apiVersion: '', namespace: '' },
      reason: '100% denied',
      message: 'forbidden: User "bob" cannot get path "/x": 100% denied',
      details: {},
    },
  ];
  for (const c of forbiddenCases) {
    it(`403 ${c.name}`, () => {
      const r = forbidden(c.attrs, c.reason ?? '');
      const body = JSON.parse(r.body);
      expect(r.status).to.equal(403);
      expect(body.message).to.equal(c.message);
      expect(body.details).to.deep.equal(c.details);
      expect(Object.keys(body)).to.deep.equal([
        'kind',
        'apiVersion',
        'metadata',
        'status',
        'message',
        'reason',
        'details',
        'code',
      ]);
    });
  }

  it('goJson escapes like Go encoding/json (HTML-safe, U+2028/9)', () => {
    expect(goJson({ m: 'a<b>&c\u2028\u2029"\\\u0001' })).to.equal(
      '{"m":"a\\u003cb\\u003e\\u0026c\\u2028\\u2029\\"\\\\\\u0001"}',
    );
  });

  it('500: the RequestURI is Go-quoted, then the whole line is HTML-sanitized', () => {
    const r = internalError('/a?b="c"&d=\u0007', 'boom <x>');
    expect(r.status).to.equal(500);
    expect(r.headers).to.deep.equal({
      'content-type': 'text/plain; charset=utf-8',
      'x-content-type-options': 'nosniff',
    });
    expect(r.body).to.equal('Internal Server Error: "/a?b=\\"c\\"&amp;d=\\a": boom &lt;x&gt;\n');
  });
});
