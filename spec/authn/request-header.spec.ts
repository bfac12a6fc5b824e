import { expect } from 'chai';
import {
  allHeaderValues,
  extraFromHeaders,
  firstHeaderValue,
  requestHeaderAuthenticator,
  secureRequestHeaderAuthenticator,
} from '../../lib/authn/request-header.js';
import type { CABundleProvider, RequestHeaderConfig } from '../../lib/trust/interfaces.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { fakeRequest } from '../support/authn-request.js';
import { testPki } from '../support/pki.js';

type Lines = readonly (readonly [string, string])[];

interface Case {
  readonly name: string;
  readonly config: Partial<RequestHeaderConfig>;
  readonly lines: Lines;
  readonly expectOk: boolean;
  readonly expectUser?: { name: string; uid?: string; groups: string[]; extra: Record<string, string[]> };
  readonly expectConsumed?: string[];
}

// Case names follow k8s.io/apiserver headerrequest/requestheader_test.go where a Go case exists.
const cases: readonly Case[] = [
  { name: 'empty', config: {}, lines: [], expectOk: false },
  {
    name: 'user no match',
    config: { usernameHeaders: ['x-remote-user'] },
    lines: [['X-Other-User', 'Bob']],
    expectOk: false,
  },
  {
    name: 'user match',
    config: { usernameHeaders: ['X-Remote-User'] },
    lines: [['X-Remote-User', 'Bob']],
    expectOk: true,
    expectUser: { name: 'Bob', groups: [], extra: {} },
  },
  {
    name: 'user exact match',
    config: { usernameHeaders: ['X-Remote-User'] },
    lines: [
      ['prefixed-X-Remote-User-with-suffix', 'Bob'],
      ['X-Remote-User-with-suffix', 'Bob'],
    ],
    expectOk: false,
  },
  {
    name: 'user first match',
    config: { usernameHeaders: ['X-Remote-User', 'A-Second-X-Remote-User', 'Another-X-Remote-User'] },
    lines: [
      ['X-Remote-User', ''],
      ['X-Remote-User', 'First header, second value'],
      ['A-Second-X-Remote-User', 'Second header, first value'],
      ['A-Second-X-Remote-User', 'Second header, second value'],
      ['Another-X-Remote-User', 'Third header, first value'],
    ],
    expectOk: true,
    expectUser: { name: 'Second header, first value', groups: [], extra: {} },
  },
  {
    name: 'an empty first X-Remote-User line means no user, even if a second line has one',
    config: { usernameHeaders: ['X-Remote-User'] },
    lines: [
      ['X-Remote-User', ''],
      ['X-Remote-User', 'mallory'],
    ],
    expectOk: false,
  },
  {
    name: 'user case-insensitive',
    config: { usernameHeaders: ['x-REMOTE-user'] },
    lines: [['X-Remote-User', 'Bob']],
    expectOk: true,
    expectUser: { name: 'Bob', groups: [], extra: {} },
  },
  {
    name: 'groups none',
    config: { usernameHeaders: ['X-Remote-User'], groupHeaders: ['X-Remote-Group'] },
    lines: [['X-Remote-User', 'Bob']],
    expectOk: true,
    expectUser: { name: 'Bob', groups: [], extra: {} },
  },
  {
    name: 'groups all matches',
    config: { usernameHeaders: ['X-Remote-User'], groupHeaders: ['X-Remote-Group-1', 'X-Remote-Group-2'] },
    lines: [
      ['X-Remote-User', 'Bob'],
      ['X-Remote-Group-1', 'one-a'],
      ['X-Remote-Group-2', 'two-a'],
      ['X-Remote-Group-1', 'one-b'],
      ['X-Remote-Group-2', 'two-b'],
    ],
    expectOk: true,
    expectUser: { name: 'Bob', groups: ['one-a', 'one-b', 'two-a', 'two-b'], extra: {} },
  },
  {
    name: 'repeated group lines and a group containing a comma are never split',
    config: {},
    lines: [
      ['X-Remote-User', 'alice'],
      ['X-Remote-Group', 'devs, ops'],
      ['X-Remote-Group', ''],
      ['X-Remote-Group', 'system:masters'],
    ],
    expectOk: true,
    expectUser: { name: 'alice', groups: ['devs, ops', 'system:masters'], extra: {} },
  },
  {
    name: 'uid first match (1.32+)',
    config: { uidHeaders: ['X-Remote-Uid'] },
    lines: [
      ['X-Remote-User', 'alice'],
      ['X-Remote-Uid', 'uid-1'],
      ['X-Remote-Uid', 'uid-2'],
    ],
    expectOk: true,
    expectUser: { name: 'alice', uid: 'uid-1', groups: [], extra: {} },
  },
  {
    name: 'uid header not configured is ignored',
    config: {},
    lines: [
      ['X-Remote-User', 'alice'],
      ['X-Remote-Uid', 'uid-1'],
    ],
    expectOk: true,
    expectUser: { name: 'alice', uid: '', groups: [], extra: {} },
  },
  {
    name: 'extra prefix matches case-insensitive',
    config: { usernameHeaders: ['X-Remote-User'], extraHeaderPrefixes: ['X-Remote-Extra-1-', 'X-Remote-Extra-2-'] },
    lines: [
      ['X-Remote-User', 'Bob'],
      ['X-Remote-Extra-1-Key1', 'alfa'],
      ['X-Remote-Extra-1-Key1', 'bravo'],
      ['X-Remote-Extra-1-Key2', 'charlie'],
      ['X-Remote-Extra-1-Key2', 'delta'],
      ['X-Remote-Extra-1-', 'india'],
      ['X-Remote-Extra-1-', 'juliet'],
      ['X-Remote-Extra-2-', 'kilo'],
      ['X-Remote-Extra-2-', 'lima'],
      ['X-Remote-Extra-2-Key1', 'echo'],
      ['X-Remote-Extra-2-Key1', 'foxtrot'],
      ['X-Remote-Extra-2-Key2', 'golf'],
      ['X-Remote-Extra-2-Key2', 'hotel'],
    ],
    expectOk: true,
    expectUser: {
      name: 'Bob',
      groups: [],
      extra: {
        key1: ['alfa', 'bravo', 'echo', 'foxtrot'],
        key2: ['charlie', 'delta', 'golf', 'hotel'],
        '': ['india', 'juliet', 'kilo', 'lima'],
      },
    },
  },
  {
    name: 'escaped extra keys',
    config: { usernameHeaders: ['X-Remote-User'], extraHeaderPrefixes: ['X-Remote-Extra-'] },
    lines: [
      ['X-Remote-User', 'Bob'],
      ['X-Remote-Extra-Alpha', 'alphabetical'],
      ['X-Remote-Extra-Alph4num3r1c', 'alphanumeric'],
      ['X-Remote-Extra-Percent%20encoded', 'percent encoded'],
      ['X-Remote-Extra-Almost%zzpercent%xxencoded', 'not quite percent encoded'],
      ['X-Remote-Extra-Example.com%2fpercent%2520encoded', 'url with double percent encoding'],
      ['X-Remote-Extra-Example.com%2F%E4%BB%8A%E6%97%A5%E3%81%AF', 'url with unicode'],
      ["X-Remote-Extra-Abc123!#$+.-_*^`~|'", 'header key legal characters'],
    ],
    expectOk: true,
    expectUser: {
      name: 'Bob',
      groups: [],
      extra: {
        alpha: ['alphabetical'],
        alph4num3r1c: ['alphanumeric'],
        'percent encoded': ['percent encoded'],
        'almost%zzpercent%xxencoded': ['not quite percent encoded'],
        'example.com/percent%20encoded': ['url with double percent encoding'],
        'example.com/今日は': ['url with unicode'],
        "abc123!#$+.-_*^`~|'": ['header key legal characters'],
      },
    },
  },
  {
    name: 'empty extra values are kept (unlike groups)',
    config: {},
    lines: [
      ['X-Remote-User', 'Bob'],
      ['X-Remote-Extra-Scopes', ''],
      ['X-Remote-Extra-Scopes', 'read'],
    ],
    expectOk: true,
    expectUser: { name: 'Bob', groups: [], extra: { scopes: ['', 'read'] } },
  },
  {
    name: 'consumed headers: every configured header and every prefixed header present',
    config: { uidHeaders: ['X-Remote-Uid'], extraHeaderPrefixes: ['X-Remote-Extra-', 'X-Acme-Extra-'] },
    lines: [
      ['X-Remote-User', 'Bob'],
      ['X-Acme-Extra-Team', 'a'],
      ['X-Remote-Extra-Foo%2fbar', 'b'],
      ['X-Unrelated', 'c'],
    ],
    expectOk: true,
    expectConsumed: [
      'x-remote-user',
      'x-remote-uid',
      'x-remote-group',
      'x-remote-extra-foo%2fbar',
      'x-acme-extra-team',
    ],
  },
];

describe('requestHeaderAuthenticator (headers only)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      // Fields a case does not set take Go's flag defaults.
      const a = requestHeaderAuthenticator(staticRequestHeaderConfig(c.config));
      const r = await a.authenticateRequest(fakeRequest(c.lines));
      expect(r.ok).to.equal(c.expectOk);
      if (!r.ok) {
        expect(r.error).to.equal(undefined);
        return;
      }
      expect(r.authenticator).to.equal('requestheader');
      if (c.expectUser) expect(r.user).to.deep.equal({ uid: '', ...c.expectUser });
      if (c.expectConsumed) expect([...r.consumedHeaders!].sort()).to.deep.equal([...c.expectConsumed].sort());
    });
  }

  it('no configuration loaded yet is no opinion', async () => {
    const a = requestHeaderAuthenticator({ name: 'x', current: () => undefined, addListener: () => () => {} });
    expect(await a.authenticateRequest(fakeRequest([['X-Remote-User', 'Bob']]))).to.deep.equal({ ok: false });
  });

  it('helpers skip empty configured names', () => {
    const req = fakeRequest([['X-Remote-User', 'Bob']]);
    expect(firstHeaderValue(req, ['', 'x-remote-user'])).to.equal('Bob');
    expect(allHeaderValues(req, [''])).to.deep.equal([]);
    expect(extraFromHeaders(req, [''])).to.deep.equal({});
  });
});

describe('secureRequestHeaderAuthenticator (front-proxy certificate + headers)', () => {
  const pki = testPki();
  const ca = staticCABundle(pki.frontProxyCA.certPem, 'request-header::test');
  const cfg = staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] });
  const bob: Lines = [
    ['X-Remote-User', 'bob'],
    ['X-Remote-Group', 'devs'],
  ];
  const auth = (caProvider: CABundleProvider = ca, allowed = cfg) =>
    secureRequestHeaderAuthenticator({ caProvider, configProvider: allowed });

  it('valid proxy certificate with an allowed CN: the headers define the user', async () => {
    const r = await auth().authenticateRequest(fakeRequest(bob, [pki.proxy.x509]));
    expect(r.ok && r.user).to.deep.equal({ name: 'bob', uid: '', groups: ['devs'], extra: {} });
  });

  it('valid client cert with wrong CN', async () => {
    const r = await auth().authenticateRequest(fakeRequest(bob, [pki.proxyOtherCN.x509]));
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.error!.code).to.equal('ERR_KDA_CN_NOT_ALLOWED');
    expect(r.error!.message).to.equal('x509: subject with cn=not-the-proxy is not in the allowed list');
    expect(r.error!.details).to.deep.include({
      authenticator: 'requestheader',
      check: 'allowed-names',
      subjectCN: 'not-the-proxy',
      issuer: 'test-front-proxy-ca',
      caName: 'request-header::test',
    });
  });

  it('CN match is case-sensitive', async () => {
    const r = await auth().authenticateRequest(fakeRequest(bob, [pki.proxyUpperCN.x509]));
    expect(!r.ok && r.error!.code).to.equal('ERR_KDA_CN_NOT_ALLOWED');
  });

  it('empty allowed names accept any CN from the CA', async () => {
    const r = await auth(ca, staticRequestHeaderConfig()).authenticateRequest(
      fakeRequest(bob, [pki.proxyOtherCN.x509]),
    );
    expect(r.ok && r.user.name).to.equal('bob');
  });

  it('no client certificate: headers are ignored (no opinion)', async () => {
    expect(await auth().authenticateRequest(fakeRequest(bob))).to.deep.equal({ ok: false });
  });

  it('CA bundle not loaded yet: no opinion', async () => {
    const none: CABundleProvider = { name: 'pending', current: () => undefined, addListener: () => () => {} };
    expect(await auth(none).authenticateRequest(fakeRequest(bob, [pki.proxy.x509]))).to.deep.equal({ ok: false });
  });

  it('unverifiable certificate: the raw x509 error, with the cause as details', async () => {
    const r = await auth().authenticateRequest(fakeRequest(bob, [pki.proxyFromOtherCA.x509]));
    expect(!r.ok && r.error!.message).to.equal('x509: certificate signed by unknown authority');
    expect(!r.ok && r.error!.code).to.equal('ERR_KDA_CERT_UNTRUSTED');
    expect(!r.ok && r.error!.details).to.deep.include({
      check: 'chain',
      subjectCN: 'front-proxy-client',
      issuer: 'test-other-ca',
    });
  });

  it('serverAuth-only proxy certificate: ERR_KDA_CERT_USAGE', async () => {
    const r = await auth().authenticateRequest(fakeRequest(bob, [pki.proxyServerAuthOnly.x509]));
    expect(!r.ok && r.error!.code).to.equal('ERR_KDA_CERT_USAGE');
    expect(!r.ok && r.error!.details.check).to.equal('eku');
  });

  it('verified proxy without a username header: no opinion, and says why in declined', async () => {
    const r = await auth().authenticateRequest(fakeRequest([['X-Remote-Group', 'devs']], [pki.proxy.x509]));
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.error).to.equal(undefined);
    expect(r.declined![0]).to.deep.include({
      authenticator: 'requestheader',
      check: 'username-header',
      subjectCN: 'front-proxy-client',
    });
  });
});
