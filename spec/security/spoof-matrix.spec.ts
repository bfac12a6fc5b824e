// The spoof matrix: every way a caller might try to be someone else, against the full Koa stack (requestInfo →
// authenticate → authorize) behind lib/server over real TLS. No case may reach the handler as the claimed identity,
// and no identity header (Authorization, X-Remote-*) ever reaches the handler. The path-confusion and look-alike
// classes (at the end) run against all four adapters built through their public factories, and the sample server.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { Client, request, type Agent, type Dispatcher } from 'undici';
import type { RequestAttributes } from '../../lib/authz/interfaces.js';
import { serveDefaults } from '../../cli/flags.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import { noopLogger } from '../../lib/log.js';
import { startSampleServer, type RunningSampleServer } from '../../examples/sample-apiserver/serve.js';
import { createCertificate } from '../../lib/dev-pki/index.js';
import { testCert, testPki, type TestCert } from '../support/pki.js';
import { recordingLogger } from '../support/recording-logger.js';
import forge from 'node-forge';
import {
  adapterGoodToken,
  adapterNames,
  publicAdapters,
  startAdapterStack,
  testTrustOptions,
  type AdapterStack,
  type RawAnswer,
} from '../support/adapters.js';
import {
  goodToken,
  identityHeaderPattern,
  startSecurityStack,
  swappableConfig,
  type SecurityStack,
  type Seen,
} from './stack.js';
// Certificate-mutation class (issue 10, finding 3): malformed certificates through the four public adapters.
import { Agent as UndiciAgent } from 'undici';
import { integer, tlv, utcTime, type TbsParts } from '../support/der.js';
import { certificatePem, clientCertTemplate, generalizedTimeOf, utcTimeOf, validity } from '../support/mutated-cert.js';

const path = '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders';
const claimedUser = 'mallory';
const claimedGroup = 'spoofed-admins';

/** The headers an attacker sends to claim `mallory` / `spoofed-admins` / an extra. */
const claim = [
  'X-Remote-User',
  claimedUser,
  'X-Remote-Group',
  claimedGroup,
  'X-Remote-Extra-Scopes',
  'everything',
  'X-Remote-Uid',
  'uid-mallory',
];

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly seen: Seen | undefined;
  /** Index in `stack.authorized` where this request's authorizations start. */
  readonly authorizedFrom?: number;
}

async function call(
  stack: SecurityStack,
  dispatcher: Dispatcher,
  headers: string[],
  opts: { method?: Dispatcher.HttpMethod; path?: string } = {},
): Promise<Answer> {
  const before = stack.seen.length;
  const authorizedFrom = stack.authorized.length;
  const res = await request(`${stack.url}${opts.path ?? path}`, {
    dispatcher,
    method: opts.method ?? 'GET',
    headers,
  });
  const body = await res.body.text();
  return {
    status: res.statusCode,
    body,
    seen: stack.seen.length > before ? stack.seen.at(-1) : undefined,
    authorizedFrom,
  };
}

/** The handler never saw an identity header and never ran as the claimed identity. */
function assertNoSpoof(stack: SecurityStack, a: Answer): void {
  if (a.seen) {
    expect(a.seen.user.name).to.not.equal(claimedUser);
    expect(a.seen.user.groups).to.not.include(claimedGroup);
    expect(Object.keys(a.seen.user.extra)).to.not.include('scopes');
    expect(a.seen.user.uid).to.not.equal('uid-mallory');
    const leaked = a.seen.headerNames.filter((n) => identityHeaderPattern.test(n) || n.startsWith('impersonate-'));
    expect(leaked, 'identity headers reaching the handler').to.deep.equal([]);
  }
  for (const attrs of stack.authorized.slice(a.authorizedFrom ?? 0)) expect(attrs.user?.name).to.not.equal(claimedUser);
}

function assertRefused(a: Answer): void {
  expect(a.status).to.equal(401);
  expect(a.body).to.equal(unauthorizedBody);
  expect(a.seen, 'a refusal never reaches the handler').to.equal(undefined);
}

function assertUser(a: Answer, name: string, authenticator: string): Seen {
  expect(a.status, a.body).to.equal(200);
  expect(a.seen).to.not.equal(undefined);
  expect(a.seen!.user.name).to.equal(name);
  expect(a.seen!.authenticator).to.equal(authenticator);
  return a.seen!;
}

/** Parses the status code of the first response in raw HTTP/1.1 bytes ('' when none). */
function statusOf(raw: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}

function rawRequest(lines: string[], body = ''): Buffer {
  return Buffer.from(
    [`GET ${path} HTTP/1.1`, 'Host: localhost', 'Connection: close', ...lines, '', body].join('\r\n'),
    'latin1',
  );
}

/** A front-proxy-CA leaf whose subject carries two CN attributes, in this order (Go reads the last one). */
function twoCommonNames(first: string, last: string): TestCert {
  const pki = testPki();
  const issued = createCertificate({ commonName: first, keyPair: pki.sharedKey, issuer: pki.frontProxyCA.issued });
  issued.cert.setSubject([
    { shortName: 'CN', value: first },
    { shortName: 'CN', value: last },
  ]);
  issued.cert.sign(pki.frontProxyCA.issued.key, forge.md.sha256.create());
  return testCert({ ...issued, certPem: forge.pki.certificateToPem(issued.cert) });
}

describe('security: spoof matrix (full Koa stack over real TLS)', function () {
  this.timeout(30_000);
  const pki = testPki();
  let stack: SecurityStack;
  let noCert: Agent;
  let proxy: Agent;

  before(async () => {
    stack = await startSecurityStack();
    noCert = stack.agent();
    proxy = stack.agent(pki.proxy);
  });
  after(async () => {
    await stack?.close();
  });

  const selfSignedProxy = (): TestCert =>
    testCert(createCertificate({ commonName: 'front-proxy-client', keyPair: pki.sharedKey }));

  describe('certificates that must not make the caller the front proxy', () => {
    it('no client certificate + X-Remote-* → system:anonymous, every identity header stripped', async () => {
      const a = await call(stack, noCert, claim);
      const seen = assertUser(a, 'system:anonymous', 'anonymous');
      expect(seen.user.groups).to.deep.equal(['system:unauthenticated']);
      assertNoSpoof(stack, a);
    });

    it('self-signed certificate with CN front-proxy-client → 401', async () => {
      const a = await call(stack, stack.agent(selfSignedProxy()), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('client-CA certificate with CN front-proxy-client (CA-reuse confusion) → x509 user "front-proxy-client", never the header user', async () => {
      const a = await call(stack, stack.agent(pki.clientProxyCN), claim);
      const seen = assertUser(a, 'front-proxy-client', 'x509');
      expect(seen.user.groups).to.deep.equal(['system:authenticated']);
      assertNoSpoof(stack, a);
    });

    it('front-proxy CA, CN not in requestheader-allowed-names → 401', async () => {
      const a = await call(stack, stack.agent(pki.proxyOtherCN), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('front-proxy CA, allowed CN in the wrong case (Front-Proxy-Client) → 401', async () => {
      const a = await call(stack, stack.agent(pki.proxyUpperCN), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('expired front-proxy certificate → 401', async () => {
      const a = await call(stack, stack.agent(pki.proxyExpired), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('not-yet-valid front-proxy certificate → 401', async () => {
      const a = await call(stack, stack.agent(pki.proxyNotYetValid), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('serverAuth-only EKU front-proxy certificate → 401', async () => {
      const a = await call(stack, stack.agent(pki.proxyServerAuthOnly), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('leaf under an "intermediate" with CA:FALSE → 401', async () => {
      const a = await call(stack, stack.agent(pki.proxyViaCaFalse), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('leaf under an expired intermediate → 401', async () => {
      const a = await call(stack, stack.agent(pki.proxyViaExpiredIntermediate), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('chain sent without its intermediate → 401', async () => {
      // A leaf never presented with its intermediate anywhere in this process, on a fresh agent (no resumption).
      const leaf = testCert(
        createCertificate({
          commonName: 'front-proxy-client',
          keyPair: pki.sharedKey,
          issuer: pki.frontProxyIntermediate.issued,
        }),
      );
      const a = await call(stack, stack.agent(leaf), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('front-proxy-client certificate from an unrelated CA → 401', async () => {
      const a = await call(stack, stack.agent(pki.proxyFromOtherCA), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('a CA certificate presented as the client certificate (the front-proxy CA itself) → 401', async () => {
      const a = await call(stack, stack.agent(pki.frontProxyCA), claim);
      // The CA is in the root pool, so it verifies as a one-element chain (Go does too) but its CN is not allowed.
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('client-CA certificate without CN (O=ghosts) + X-Remote-* → 401 (the front-proxy verifier errored)', async () => {
      const a = await call(stack, stack.agent(pki.clientNoCN), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('two CN attributes, the allowed one first (Go uses the last CN) → 401', async () => {
      const a = await call(stack, stack.agent(twoCommonNames('front-proxy-client', 'not-the-proxy')), claim);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('two CN attributes, the allowed one last (Go uses the last CN) → accepted as the front proxy', async () => {
      const a = await call(stack, stack.agent(twoCommonNames('not-the-proxy', 'front-proxy-client')), [
        'X-Remote-User',
        'bob',
      ]);
      assertUser(a, 'bob', 'requestheader');
    });

    it('an ordinary client-CA user (alice) + X-Remote-* → alice, headers stripped', async () => {
      const a = await call(stack, stack.agent(pki.alice), claim);
      const seen = assertUser(a, 'alice', 'x509');
      expect(seen.user.groups).to.deep.equal(['developers', 'system:masters', 'system:authenticated']);
      expect(Object.keys(seen.user.extra)).to.deep.equal(['authentication.kubernetes.io/credential-id']);
      assertNoSpoof(stack, a);
    });
  });

  describe('tokens and impersonation headers', () => {
    it('valid bearer token + X-Remote-* → the token user; Authorization and X-Remote-* stripped', async () => {
      const a = await call(stack, noCert, [...claim, 'Authorization', `Bearer ${goodToken}`]);
      const seen = assertUser(a, 'token-user', 'tokenreview');
      expect(seen.user.groups).to.deep.equal(['token-group', 'system:authenticated']);
      assertNoSpoof(stack, a);
    });

    it('rejected bearer token + X-Remote-* → 401 (not anonymous)', async () => {
      const a = await call(stack, noCert, [...claim, 'Authorization', 'Bearer forged']);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('a WebSocket-protocol bearer token on a plain request (no Upgrade) is not a credential → system:anonymous', async () => {
      const proto = `base64url.bearer.authorization.k8s.io.${Buffer.from(goodToken).toString('base64url')}`;
      const a = await call(stack, noCert, [...claim, 'Sec-WebSocket-Protocol', `${proto}, v4.channel.k8s.io`]);
      assertUser(a, 'system:anonymous', 'anonymous');
      assertNoSpoof(stack, a);
    });

    it('Impersonate-User/-Group/-Extra sent directly without credentials → system:anonymous (never impersonated)', async () => {
      const a = await call(stack, noCert, [
        'Impersonate-User',
        claimedUser,
        'Impersonate-Group',
        claimedGroup,
        'Impersonate-Extra-Scopes',
        'everything',
        'Impersonate-Uid',
        'uid-mallory',
      ]);
      assertUser(a, 'system:anonymous', 'anonymous');
      // We do no impersonation (Go's WithImpersonation is out of scope): the headers are never identity, and they
      // are removed so a handler that forwards the request can't carry them on.
      assertNoSpoof(stack, a);
    });

    it('Impersonate-User from a real client-certificate user → the real caller (alice), not the impersonated user', async () => {
      const a = await call(stack, stack.agent(pki.alice), ['Impersonate-User', claimedUser]);
      assertUser(a, 'alice', 'x509');
      assertNoSpoof(stack, a);
      expect(stack.authorized.at(-1)!.user.name).to.equal('alice');
    });

    it('Impersonate-User through the front proxy → the proxied user from X-Remote-User', async () => {
      const a = await call(stack, proxy, ['X-Remote-User', 'bob', 'Impersonate-User', claimedUser]);
      assertUser(a, 'bob', 'requestheader');
      assertNoSpoof(stack, a);
    });
  });

  describe('valid front-proxy certificate: header spellings and content (Go semantics)', () => {
    it('lower-case x-remote-user / x-remote-group are the same headers', async () => {
      const a = await call(stack, proxy, ['x-remote-user', 'bob', 'x-remote-group', 'devs']);
      const seen = assertUser(a, 'bob', 'requestheader');
      expect(seen.user.groups).to.deep.equal(['devs', 'system:authenticated']);
      assertNoSpoof(stack, a);
    });

    it('upper-case X-REMOTE-USER / X-REMOTE-EXTRA-SCOPE are the same headers; extra key lower-cased', async () => {
      const a = await call(stack, proxy, ['X-REMOTE-USER', 'bob', 'X-REMOTE-EXTRA-SCOPE', 'Read']);
      const seen = assertUser(a, 'bob', 'requestheader');
      expect(seen.user.extra).to.deep.equal({ scope: ['Read'] });
      assertNoSpoof(stack, a);
    });

    it('duplicated X-Remote-User lines: the first line wins', async () => {
      const a = await call(stack, proxy, ['X-Remote-User', 'bob', 'x-remote-user', claimedUser]);
      assertUser(a, 'bob', 'requestheader');
      assertNoSpoof(stack, a);
    });

    it('duplicated X-Remote-User with an empty first line: no user → 401 (the second line is not used)', async () => {
      const a = await call(stack, proxy, ['X-Remote-User', '', 'X-Remote-User', claimedUser]);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('X-Remote-Group without X-Remote-User → 401 (groups never authenticate alone)', async () => {
      const a = await call(stack, proxy, ['X-Remote-Group', claimedGroup]);
      assertRefused(a);
      assertNoSpoof(stack, a);
    });

    it('leading/trailing spaces are trimmed by the HTTP parser, as Go textproto does; inner spaces kept', async () => {
      const out = await stack.raw(
        rawRequest(['X-Remote-User: \t  bob  smith \t ', 'X-Remote-Group:  a, b  ']),
        pki.proxy,
      );
      expect(statusOf(out)).to.equal(200);
      const seen = stack.seen.at(-1)!;
      expect(seen.user.name).to.equal('bob  smith');
      expect(seen.user.groups).to.deep.equal(['a, b', 'system:authenticated']);
      assertNoSpoof(stack, { status: 200, body: '', seen, authorizedFrom: stack.authorized.length - 1 });
    });

    it('X-Remote-Uid is not a configured UID header (Go does not default it) → uid "" and the header stripped', async () => {
      const a = await call(stack, proxy, ['X-Remote-User', 'bob', 'X-Remote-Uid', 'uid-mallory']);
      const seen = assertUser(a, 'bob', 'requestheader');
      expect(seen.user.uid).to.equal('');
      assertNoSpoof(stack, a);
    });

    it('CR/LF injection in a header value over a raw socket without a certificate → 400, never authenticated', async () => {
      const before = stack.seen.length;
      const out = await stack.raw(rawRequest([`X-Remote-User: bob\rX-Remote-User: ${claimedUser}`]));
      expect(statusOf(out)).to.equal(400);
      expect(stack.seen.length).to.equal(before);
    });

    it('bare LF splitting one header into two (raw socket, no certificate) → 400 (llhttp is strict), never authenticated', async () => {
      const before = stack.seen.length;
      const out = await stack.raw(rawRequest([`X-Foo: x\nX-Remote-User: ${claimedUser}`]));
      expect(statusOf(out)).to.equal(400);
      expect(stack.seen.length).to.equal(before);
    });

    it('obs-fold continuation line after X-Remote-User (raw socket, front-proxy cert) → 400, never authenticated', async () => {
      const before = stack.seen.length;
      const out = await stack.raw(rawRequest(['X-Remote-User: bob', ` ${claimedUser}`]), pki.proxy);
      expect(statusOf(out)).to.equal(400);
      expect(stack.seen.length).to.equal(before);
    });

    it('whitespace before the colon ("X-Remote-User :") → 400, never authenticated', async () => {
      const before = stack.seen.length;
      const out = await stack.raw(rawRequest([`X-Remote-User : ${claimedUser}`]), pki.proxy);
      expect(statusOf(out)).to.equal(400);
      expect(stack.seen.length).to.equal(before);
    });

    it('over-long X-Remote-User (above Node max header size) → 431, never authenticated', async () => {
      const before = stack.seen.length;
      const out = await stack.raw(rawRequest([`X-Remote-User: ${'m'.repeat(20_000)}`]), pki.proxy);
      expect(statusOf(out)).to.equal(431);
      expect(stack.seen.length).to.equal(before);
      for (const attrs of stack.authorized) expect(attrs.user.name.length).to.be.below(20_000);
    });

    it('non-UTF-8 bytes in X-Remote-User → each invalid byte becomes U+FFFD (as Go JSON-encodes it); valid UTF-8 kept', async () => {
      const out = await stack.raw(
        Buffer.concat([
          Buffer.from(
            `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Remote-User: b\xff\xfeb\r\n`,
            'latin1',
          ),
          Buffer.from('X-Remote-Group: gr\u00fcn\r\n\r\n', 'utf8'),
        ]),
        pki.proxy,
      );
      expect(statusOf(out)).to.equal(200);
      const seen = stack.seen.at(-1)!;
      expect(seen.user.name).to.equal('b\ufffd\ufffdb');
      expect(seen.user.groups).to.deep.equal(['grün', 'system:authenticated']);
      assertNoSpoof(stack, { status: 200, body: '', seen, authorizedFrom: stack.authorized.length - 1 });
    });

    it('X-Remote-User in a chunked trailer (raw socket, no certificate) → system:anonymous', async () => {
      const out = await stack.raw(
        Buffer.from(
          [
            `POST ${path} HTTP/1.1`,
            'Host: localhost',
            'Connection: close',
            'Transfer-Encoding: chunked',
            'Trailer: X-Remote-User',
            '',
            '2',
            '{}',
            '0',
            `X-Remote-User: ${claimedUser}`,
            '',
            '',
          ].join('\r\n'),
        ),
      );
      expect(statusOf(out)).to.equal(200);
      const seen = stack.seen.at(-1)!;
      expect(seen.user.name).to.equal('system:anonymous');
      assertNoSpoof(stack, { status: 200, body: '', seen, authorizedFrom: stack.authorized.length - 1 });
    });

    const extraCases: { name: string; header: string; key: string }[] = [
      { name: '%00 (NUL) in the key is decoded to U+0000', header: 'X-Remote-Extra-Foo%00bar', key: 'foo\u0000bar' },
      { name: '%2F in the key becomes "/"', header: 'X-Remote-Extra-Example.com%2FScope', key: 'example.com/scope' },
      {
        name: '%2f (lower-case hex) also becomes "/"',
        header: 'X-Remote-Extra-Example.com%2fscope',
        key: 'example.com/scope',
      },
      { name: '".." is an ordinary key', header: 'X-Remote-Extra-..', key: '..' },
      { name: '%2E%2E%2F decodes to "../"', header: 'X-Remote-Extra-%2E%2E%2F', key: '../' },
      { name: 'a malformed escape (%zz) keeps the key as-is', header: 'X-Remote-Extra-Bad%zz', key: 'bad%zz' },
      { name: 'exactly the prefix gives the empty key', header: 'X-Remote-Extra-', key: '' },
    ];
    for (const c of extraCases) {
      it(`extra key: ${c.name}; the header never reaches the handler`, async () => {
        const a = await call(stack, proxy, ['X-Remote-User', 'bob', c.header, 'v1', c.header, '']);
        const seen = assertUser(a, 'bob', 'requestheader');
        expect(seen.user.extra).to.deep.equal({ [c.key]: ['v1', ''] });
        assertNoSpoof(stack, a);
      });
    }
  });

  describe('protocol', () => {
    it('HTTP/2 is not offered in ALPN: the server negotiates nothing (HTTP/1.1) even when the client asks for h2', async () => {
      const alpn = await new Promise<string | false | null>((resolve, reject) => {
        const s = connect({
          host: '127.0.0.1',
          port: stack.port,
          ca: stack.servingCaPem,
          servername: 'localhost',
          ALPNProtocols: ['h2', 'http/1.1'],
        });
        s.on('secureConnect', () => {
          resolve(s.alpnProtocol);
          s.destroy();
        });
        s.on('error', reject);
      });
      expect(alpn).to.not.equal('h2');
    });

    it('an undici client allowing h2 falls back to HTTP/1.1 and the spoof still fails', async () => {
      const a = await call(stack, stack.agent(undefined, { allowH2: true }), claim);
      assertUser(a, 'system:anonymous', 'anonymous');
      assertNoSpoof(stack, a);
    });
  });
});

describe('security: spoof matrix, certificates Go would not parse or accept, through the public adapters', function () {
  this.timeout(30_000);
  const pki = testPki();
  const day = 24 * 60 * 60 * 1000;
  const now = Date.now();

  /** A certificate from raw TBS parts, signed by `ca` (so only the mutated field is wrong), with the shared key. */
  const mutated = (ca: TestCert, cn: string, change: (base: TbsParts) => Partial<TbsParts>): TestCert => {
    const template = clientCertTemplate(ca, pki.sharedKey.publicKeyPem, cn, now);
    const pem = certificatePem(template.der(change(template.base)));
    return { ...pki.alice, certPem: pem, chainPem: pem, keyPem: pki.sharedKey.privateKeyPem, x509: undefined! };
  };

  const cases: readonly {
    name: string;
    cert: () => TestCert;
    headers?: Record<string, string>;
    /** OpenSSL itself cannot load the certificate (the client cannot even present it). */
    tlsMayRefuse?: true;
  }[] = [
    {
      name: 'client-CA certificate with a negative serial number (threw in BigInt: 500, Express stack trace)',
      cert: () => mutated(pki.clientCA, 'alice', () => ({ serial: integer(-0x1234567890n) })),
    },
    {
      name: 'front-proxy certificate with a negative serial number + X-Remote-User',
      cert: () => mutated(pki.frontProxyCA, 'front-proxy-client', () => ({ serial: integer(-0x7fedcba987n) })),
      headers: { 'X-Remote-User': 'mallory' },
    },
    {
      name: 'expired front-proxy certificate whose notAfter is garbage (both comparisons false: was accepted)',
      cert: () =>
        mutated(pki.frontProxyCA, 'front-proxy-client', () =>
          validity(utcTimeOf(new Date(now - 30 * day)), utcTime('not-a-time!!')),
        ),
      headers: { 'X-Remote-User': 'mallory' },
      // Node 22's OpenSSL (3.5) will not even load it on the client side; Node 20's sends it and we refuse it.
      tlsMayRefuse: true,
    },
    {
      name: 'front-proxy certificate with garbage notBefore and notAfter',
      cert: () =>
        mutated(pki.frontProxyCA, 'front-proxy-client', () => validity(utcTime('ZZZZZZZZZZZZZ'), utcTime('9'))),
      headers: { 'X-Remote-User': 'mallory' },
      // Node 22's OpenSSL (3.5) will not even load it on the client side; Node 20's sends it and we refuse it.
      tlsMayRefuse: true,
    },
    {
      name: 'expired front-proxy certificate written as GeneralizedTime',
      cert: () =>
        mutated(pki.frontProxyCA, 'front-proxy-client', () =>
          validity(generalizedTimeOf(new Date(now - 30 * day)), generalizedTimeOf(new Date(now - day))),
        ),
      headers: { 'X-Remote-User': 'mallory' },
    },
    {
      name: 'front-proxy certificate whose validity times carry the wrong ASN.1 tag (INTEGER)',
      cert: () =>
        mutated(pki.frontProxyCA, 'front-proxy-client', () =>
          validity(tlv(0x02, Buffer.from('01')), tlv(0x02, Buffer.from('99'))),
        ),
      headers: { 'X-Remote-User': 'mallory' },
      tlsMayRefuse: true,
    },
    {
      name: 'client-CA certificate whose subject CN is a PrintableString holding "@" (Go: invalid RDNSequence)',
      cert: () =>
        mutated(pki.clientCA, 'alice', (b) => ({
          subject: Buffer.from(b.subject.toString('hex').replace('0c05616c696365', '1305616c406365'), 'hex'),
        })),
    },
  ];

  for (const adapter of publicAdapters) {
    describe(adapter.name, () => {
      const logger = recordingLogger();
      let server: Awaited<ReturnType<typeof adapter.start>>;
      const agents: UndiciAgent[] = [];
      before(async () => {
        server = await adapter.start({
          ...testTrustOptions('spoof'),
          logger,
        });
      });
      after(async () => {
        await Promise.all(agents.splice(0).map((a) => a.close()));
        await server?.close();
      });

      for (const c of cases) {
        it(`${c.name} → refused (401 Status, logged cause; never 500, never admitted)`, async () => {
          const cert = c.cert();
          const agent = new UndiciAgent({
            connect: { ca: pki.servingCA.certPem, cert: cert.chainPem, key: cert.keyPem },
          });
          agents.push(agent);
          logger.lines.length = 0;
          let outcome: { status: number; body: string } | 'tls-refused';
          try {
            const res = await request(`${server.url}${path}`, { dispatcher: agent, headers: c.headers ?? {} });
            outcome = { status: res.statusCode, body: await res.body.text() };
          } catch (err) {
            // Node's TLS layer refused the certificate before our code: also a refusal, where the case allows it, and
            // only for OpenSSL's own certificate errors (a connection or server error still fails the case).
            if (!c.tlsMayRefuse) throw err;
            expect(String((err as Error).message)).to.match(/asn1|certificate|alert/i);
            outcome = 'tls-refused';
          }
          if (outcome !== 'tls-refused') {
            expect(outcome.status, outcome.body).to.equal(401);
            expect(outcome.body).to.equal(unauthorizedBody);
            const warns = logger.lines.filter((e) => e.level === 'warn');
            expect(warns, JSON.stringify(logger.lines)).to.have.length(1);
            expect(['malformed', 'validity']).to.include(warns[0]!.fields.check);
            expect(String(warns[0]!.fields.error)).to.match(/^(tls: failed to parse client certificate: )?x509: /);
          }
          expect(logger.lines.filter((e) => e.level === 'error')).to.deep.equal([]);
        });
      }
    });
  }
});

describe('security: spoof matrix, CA rotation (full Koa stack over real TLS)', function () {
  this.timeout(30_000);
  const pki = testPki();
  let stack: SecurityStack;

  beforeEach(async () => {
    stack = await startSecurityStack();
  });
  afterEach(async () => {
    await stack?.close();
  });

  it('leaf signed by a rotated-out front-proxy CA → 401 after the rotation', async () => {
    const proxy = stack.agent(pki.proxy);
    assertUser(await call(stack, proxy, ['X-Remote-User', 'bob']), 'bob', 'requestheader');
    stack.frontProxyCA.swap(pki.otherCA.certPem);
    const a = await call(stack, stack.agent(pki.proxy), claim);
    assertRefused(a);
    assertNoSpoof(stack, a);
  });

  it('during an overlap (old + new CA) both proxies work; after the old CA is removed the old leaf is refused', async () => {
    stack.frontProxyCA.swap(pki.frontProxyCA.certPem + pki.otherCA.certPem);
    assertUser(await call(stack, stack.agent(pki.proxy), ['X-Remote-User', 'bob']), 'bob', 'requestheader');
    assertUser(
      await call(stack, stack.agent(pki.proxyFromOtherCA), ['X-Remote-User', 'carol']),
      'carol',
      'requestheader',
    );
    stack.frontProxyCA.swap(pki.otherCA.certPem);
    assertRefused(await call(stack, stack.agent(pki.proxy), claim));
  });

  it('keep-alive connection whose certificate was valid before a CA rotation → next request on the same socket refused', async () => {
    const client = new Client(stack.url, {
      connect: { ca: stack.servingCaPem, cert: pki.proxy.chainPem, key: pki.proxy.keyPem },
      pipelining: 1,
    });
    let connects = 0;
    client.on('connect', () => connects++);
    try {
      const first = await call(stack, client, ['X-Remote-User', 'bob']);
      assertUser(first, 'bob', 'requestheader');
      stack.frontProxyCA.swap(pki.otherCA.certPem);
      const second = await call(stack, client, claim);
      assertRefused(second);
      assertNoSpoof(stack, second);
      expect(connects, 'both requests used one TLS connection').to.equal(1);
    } finally {
      await client.close();
    }
  });

  it('allowed names narrowed while a keep-alive connection is open → next request on the same socket refused', async () => {
    const config = swappableConfig({ allowedNames: [] });
    const narrowed = await startSecurityStack({ configProvider: config });
    const client = new Client(narrowed.url, {
      connect: { ca: narrowed.servingCaPem, cert: pki.proxyOtherCN.chainPem, key: pki.proxyOtherCN.keyPem },
      pipelining: 1,
    });
    let connects = 0;
    client.on('connect', () => connects++);
    try {
      assertUser(await call(narrowed, client, ['X-Remote-User', 'bob']), 'bob', 'requestheader');
      config.swap({ allowedNames: ['front-proxy-client'] });
      const a = await call(narrowed, client, claim);
      assertRefused(a);
      assertNoSpoof(narrowed, a);
      expect(connects).to.equal(1);
    } finally {
      await client.close();
      await narrowed.close();
    }
  });

  it('front-proxy certificate expiring during a keep-alive connection → the next request after notAfter is refused', async () => {
    // The handshake checks validity against the real time once; every request re-verifies against the
    // authenticators' clock, injected here so that the certificate expires without waiting.
    let now = Date.now();
    const clocked = await startSecurityStack({ clock: () => now });
    const shortLived = testCert(
      createCertificate({
        commonName: 'front-proxy-client',
        keyPair: pki.sharedKey,
        issuer: pki.frontProxyCA.issued,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 60_000),
      }),
    );
    const client = new Client(clocked.url, {
      connect: { ca: clocked.servingCaPem, cert: shortLived.chainPem, key: shortLived.keyPem },
      pipelining: 1,
      keepAliveTimeout: 10_000,
    });
    let connects = 0;
    client.on('connect', () => connects++);
    try {
      assertUser(await call(clocked, client, ['X-Remote-User', 'bob']), 'bob', 'requestheader');
      now = new Date(shortLived.x509.validTo).getTime() - 1_000;
      assertUser(await call(clocked, client, ['X-Remote-User', 'bob']), 'bob', 'requestheader');
      now = new Date(shortLived.x509.validTo).getTime() + 1_000;
      const a = await call(clocked, client, claim);
      assertRefused(a);
      assertNoSpoof(clocked, a);
      expect(connects).to.equal(1);
    } finally {
      await client.close();
      await clocked.close();
    }
  });

  it('keep-alive client-CA user after the client CA is rotated → next request on the same socket refused', async () => {
    const client = new Client(stack.url, {
      connect: { ca: stack.servingCaPem, cert: pki.alice.chainPem, key: pki.alice.keyPem },
      pipelining: 1,
    });
    let connects = 0;
    client.on('connect', () => connects++);
    try {
      assertUser(await call(stack, client, []), 'alice', 'x509');
      stack.clientCA.swap(pki.otherCA.certPem);
      assertRefused(await call(stack, client, claim));
      expect(connects).to.equal(1);
    } finally {
      await client.close();
    }
  });
});

describe('security: spoof matrix, one CA for client-ca and requestheader (CA reuse configured)', function () {
  this.timeout(30_000);
  const pki = testPki();
  let stack: SecurityStack;

  before(async () => {
    stack = await startSecurityStack({ clientCaPem: pki.frontProxyCA.certPem });
  });
  after(async () => {
    await stack?.close();
  });

  it('proxy certificate + X-Remote-User → the header user (front-proxy authenticator runs first)', async () => {
    assertUser(await call(stack, stack.agent(pki.proxy), ['X-Remote-User', 'bob']), 'bob', 'requestheader');
  });

  it('proxy certificate without X-Remote-User → the proxy itself, as x509 user "front-proxy-client" (Go §3)', async () => {
    const a = await call(stack, stack.agent(pki.proxy), ['X-Remote-Group', claimedGroup]);
    const seen = assertUser(a, 'front-proxy-client', 'x509');
    assertNoSpoof(stack, a);
    expect(seen.user.groups).to.deep.equal(['system:authenticated']);
  });

  it('a CN that is not allowed + X-Remote-User → only its own x509 identity, never the header user', async () => {
    const a = await call(stack, stack.agent(pki.proxyOtherCN), claim);
    assertUser(a, 'not-the-proxy', 'x509');
    assertNoSpoof(stack, a);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Path confusion and identity-header look-alikes, against every adapter built through its public factory.

const sampleGv = '/apis/sample.kube-delegated-auth.io/v1alpha1';
const badRequestStatus = (cause: string) =>
  `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"invalid request target: ${cause}","reason":"BadRequest","code":400}\n`;

/** Authorizes only the namespace `public` and discovery paths: every confusion aims at namespace `secret`. */
const onlyPublic = (a: RequestAttributes) =>
  a.resourceRequest ? a.namespace === 'public' : a.path === '/apis' || a.path.startsWith('/apis/');

interface PathCase {
  readonly name: string;
  readonly target: string;
  /** The exact BadRequest cause, or 'go' for Go's own plain-text 400. */
  readonly cause: string | 'go';
  readonly method?: string;
}

const pathCases: readonly PathCase[] = [
  {
    name: "the issue's absolute-form target with backslashes (url.parse turns them into /)",
    target: `http://x${sampleGv}\\namespaces\\secret\\widgets\\gear`,
    cause: 'a backslash in the path',
  },
  {
    name: 'origin-form backslashes',
    target: `${sampleGv}\\namespaces\\secret\\widgets\\gear`,
    cause: 'a backslash in the path',
  },
  {
    name: 'a fragment hiding ../ (parseurl drops it, Go keeps it in the path)',
    target: `${sampleGv}/namespaces/public/widgets#/../../secret/widgets/gear`,
    cause: 'a fragment (\\"#\\") in the path',
  },
  {
    name: 'absolute-form with a fragment',
    target: `http://x${sampleGv}/namespaces/secret/widgets/gear#${sampleGv}/namespaces/public/widgets`,
    cause: 'a fragment (\\"#\\") in the path',
  },
  {
    name: 'raw dot segments (new URL() resolves them, Go does not)',
    target: `${sampleGv}/namespaces/public/../secret/widgets/gear`,
    cause: 'a \\"..\\" path segment',
  },
  {
    name: 'percent-encoded dot segments',
    target: `${sampleGv}/namespaces/public/%2e%2E/secret/widgets/gear`,
    cause: 'a percent-encoded \\"..\\" path segment',
  },
  {
    name: '%2F inside a segment (Go splits after decoding, routers before)',
    target: `${sampleGv}/namespaces/public%2F..%2Fsecret/widgets/gear`,
    cause: 'an encoded \\"/\\" (%2F) in a path segment',
  },
  {
    name: '%5C (an encoded backslash)',
    target: `${sampleGv}/namespaces/public%5C..%5Csecret/widgets/gear`,
    cause: 'an encoded backslash (%5C)',
  },
  {
    name: 'double-encoded %252F',
    target: `${sampleGv}/namespaces/secret%252Fwidgets/gear`,
    cause: 'an encoded \\"%\\" (%25) in the path',
  },
  {
    name: 'a leading // (new URL() reads a host)',
    target: `//x${sampleGv}/namespaces/secret/widgets/gear`,
    cause: 'an empty path segment (\\"//\\")',
  },
  {
    name: 'absolute-form with the path after ? (find-my-way would route on it)',
    target: `http://x?${sampleGv}/namespaces/secret/widgets/gear`,
    cause: 'an absolute-form target without a path',
  },
  {
    name: 'absolute-form with user info',
    target: `http://user@x${sampleGv}/namespaces/secret/widgets/gear`,
    cause: 'an absolute-form target whose host is not a plain DNS name or IP',
  },
  {
    name: 'a scheme other than http(s)',
    target: `foo://x${sampleGv}/namespaces/secret/widgets/gear`,
    cause: 'a target that is neither \\"/path\\" nor \\"http(s)://host/path\\"',
  },
  { name: 'the asterisk form', target: '*', method: 'OPTIONS', cause: 'the asterisk-form target \\"*\\"' },
  {
    name: 'escapes that are not UTF-8',
    target: `${sampleGv}/namespaces/secret/widgets/%FF`,
    cause: 'percent-encoded bytes that are not UTF-8 in the path',
  },
  {
    name: 'a ; in the query (Go drops the pair, Node keeps it: list vs watch)',
    target: `${sampleGv}/namespaces/public/widgets?watch=1;x=1`,
    cause: 'a \\";\\" in the query (Go drops such a pair, Node keeps it)',
  },
  {
    name: 'a malformed escape in the query (Go drops the pair, Node keeps it raw)',
    target: `${sampleGv}/namespaces/public/widgets?fieldSelector=metadata.name%3Dgear%zz`,
    cause: 'a malformed \\"%\\" escape in the query',
  },
  { name: 'a malformed escape in the path (Go refuses it itself)', target: `${sampleGv}/namespaces/%zz`, cause: 'go' },
];

describe('security: spoof matrix, path confusion (every adapter, public factories, raw TLS)', function () {
  this.timeout(30_000);
  for (const name of adapterNames) {
    describe(name, () => {
      let stack: AdapterStack;
      before(async () => {
        stack = await startAdapterStack(name, { allow: onlyPublic });
      });
      after(async () => {
        await stack?.close();
      });

      for (const c of pathCases) {
        it(`${c.name} → 400 before authentication`, async () => {
          const before = stack.authorized.length;
          const a = await stack.raw(c.method ?? 'GET', c.target);
          expect(a.status, a.body).to.equal(400);
          expect(a.routed, 'never reaches the handler').to.equal(undefined);
          expect(stack.authorized.length, 'never authorized').to.equal(before);
          if (c.cause === 'go') {
            expect(a.body).to.equal('400 Bad Request');
            expect(a.headers.connection).to.equal('close');
          } else {
            expect(a.body).to.equal(badRequestStatus(c.cause));
            expect(a.headers['content-type']).to.equal('application/json');
          }
        });
      }

      it('a clean absolute-form target is served as its origin-form path, authorized for exactly that path', async () => {
        const a = await stack.raw('GET', `https://h.example:8443${sampleGv}/namespaces/public/widgets/gear?limit=1`);
        expect(a.status, a.body).to.equal(200);
        const routed = a.routed!;
        const decoded = routed.routedDecoded ? routed.routedPath : decodeURIComponent(routed.routedPath);
        expect(decoded).to.equal(`${sampleGv}/namespaces/public/widgets/gear`);
        expect(routed.attributes).to.deep.include({
          path: `${sampleGv}/namespaces/public/widgets/gear`,
          namespace: 'public',
          name: 'gear',
          resource: 'widgets',
          verb: 'get',
        });
        // Express's router strips the scheme and host itself and keeps req.url as sent.
        expect(routed.url).to.equal(
          name.startsWith('express')
            ? `https://h.example:8443${sampleGv}/namespaces/public/widgets/gear?limit=1`
            : `${sampleGv}/namespaces/public/widgets/gear?limit=1`,
        );
      });

      it('an encoded name the framework decodes the same way is authorized decoded (g%65ar = gear)', async () => {
        const a = await stack.raw('GET', `${sampleGv}/namespaces/p%75blic/widgets/g%65ar`);
        expect(a.status, a.body).to.equal(200);
        expect(a.routed!.attributes).to.deep.include({ namespace: 'public', name: 'gear' });
      });

      it('the unconfused request for namespace secret is forbidden (the check the confusions aim around)', async () => {
        const a = await stack.raw('GET', `${sampleGv}/namespaces/secret/widgets/gear`);
        expect(a.status).to.equal(403);
        expect(stack.authorized.at(-1)).to.deep.include({ namespace: 'secret', name: 'gear' });
      });
    });
  }

  it('fastify with useSemicolonDelimiter: a ; in the path (find-my-way ends the path there) → 400', async () => {
    const semicolon = await startAdapterStack('fastify', {
      allow: onlyPublic,
      fastifyRouterOptions: { useSemicolonDelimiter: true },
    });
    const plain = await startAdapterStack('fastify', { allow: onlyPublic });
    try {
      const target = `${sampleGv}/namespaces/public/widgets/gear;x`;
      const refused = await semicolon.raw('GET', target);
      expect(refused.status).to.equal(400);
      expect(refused.body).to.equal(badRequestStatus('a \\";\\" (the router ends the path there) in the path'));
      expect(semicolon.authorized).to.deep.equal([]);
      // Without the option, `;` is part of the name on both sides.
      const served = await plain.raw('GET', target);
      expect(served.status).to.equal(200);
      expect(served.routed!.routedPath).to.equal(target);
      expect(served.routed!.attributes.name).to.equal('gear;x');
    } finally {
      await semicolon.close();
      await plain.close();
    }
  });

  it('fastify with ignoreTrailingSlash: a trailing slash (served as the path without it) → 400', async () => {
    const trimming = await startAdapterStack('fastify', {
      allow: onlyPublic,
      fastifyRouterOptions: { ignoreTrailingSlash: true },
    });
    const plain = await startAdapterStack('fastify', { allow: onlyPublic });
    try {
      const target = '/apis/';
      const refused = await trimming.raw('GET', target);
      expect(refused.status).to.equal(400);
      expect(refused.body).to.equal(badRequestStatus('a trailing slash (the router ignores it)'));
      expect(trimming.authorized).to.deep.equal([]);
      expect((await trimming.raw('GET', '/apis')).status).to.equal(200);
      const served = await plain.raw('GET', target);
      expect(served.status).to.equal(200);
      expect(served.routed!.routedPath).to.equal(target);
      expect(served.routed!.attributes.path).to.equal(target);
    } finally {
      await trimming.close();
      await plain.close();
    }
  });
});

describe('security: spoof matrix, path confusion against the sample server (serve, standalone)', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'kda-spoof-sample-'));
  let running: RunningSampleServer;
  const closers: (() => Promise<unknown>)[] = [];
  const pem = (f: string) => readFileSync(join(dir, f));
  /** One request with the request line as given, as `curl --request-target` sends it. */
  const curl = (user: string, method: string, target: string, body = ''): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect({
        host: '127.0.0.1',
        port: running.server.port,
        ca: pem('serving-ca.crt'),
        servername: 'localhost',
        cert: pem(`${user}.crt`),
        key: pem(`${user}.key`),
      });
      const chunks: Buffer[] = [];
      s.on('secureConnect', () =>
        s.end(
          `${method} ${target} HTTP/1.1\r\nHost: localhost:8443\r\nConnection: close\r\n` +
            (body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '') +
            `\r\n${body}`,
        ),
      );
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', (err: NodeJS.ErrnoException) =>
        chunks.length > 0 || err.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString()) : reject(err),
      );
      s.on('close', () => resolve(Buffer.concat(chunks).toString()));
    });
  const status = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);

  before(async () => {
    running = await startSampleServer(
      { ...serveDefaults, securePort: 0, bindAddress: '127.0.0.1', certDir: dir },
      { logger: noopLogger, env: {}, cwd: dir },
    );
    closers.push(() => running.close());
    const widget = {
      apiVersion: 'sample.kube-delegated-auth.io/v1alpha1',
      kind: 'Widget',
      metadata: { name: 'gear', namespace: 'secret' },
      spec: {},
    };
    const created = await curl('admin', 'POST', `${sampleGv}/namespaces/secret/widgets`, JSON.stringify(widget));
    expect(status(created), created).to.equal(201);
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bob (no widget rights) is refused the widget directly (403) and admin gets it (200)', async () => {
    expect(status(await curl('bob', 'GET', `${sampleGv}/namespaces/secret/widgets/gear`))).to.equal(403);
    expect(status(await curl('admin', 'GET', `${sampleGv}/namespaces/secret/widgets/gear`))).to.equal(200);
  });

  it("the issue's exact curl --request-target with backslashes → 400 BadRequest Status, no widget", async () => {
    const out = await curl('bob', 'GET', `http://x${sampleGv}\\namespaces\\secret\\widgets\\gear`);
    expect(status(out)).to.equal(400);
    expect(out).to.not.include('"kind":"Widget"');
    expect(out.slice(out.indexOf('\r\n\r\n') + 4)).to.equal(badRequestStatus('a backslash in the path'));
  });

  for (const c of pathCases) {
    it(`${c.name} → 400 for bob, never the widget`, async () => {
      const out = await curl('bob', c.method ?? 'GET', c.target);
      expect(status(out)).to.equal(400);
      expect(out).to.not.include('"kind":"Widget"');
    });
  }

  it('admin may still use a clean absolute-form target (served as the origin-form path)', async () => {
    const out = await curl('admin', 'GET', `https://localhost:8443${sampleGv}/namespaces/secret/widgets/gear`);
    expect(status(out)).to.equal(200);
    expect(out).to.include('"name":"gear","namespace":"secret"');
  });
});

describe('security: spoof matrix, identity-header look-alikes (every adapter, public factories, raw TLS)', function () {
  this.timeout(30_000);
  const pki = testPki();
  const config = {
    allowedNames: ['front-proxy-client'],
    usernameHeaders: ['X-Remote-User', 'X-Custom-User'],
    groupHeaders: ['X-Remote-Group', 'X-Custom-Group'],
    uidHeaders: ['X-Remote-Uid'],
    extraHeaderPrefixes: ['X-Remote-Extra-', 'X-Custom-Extra-'],
  };
  const token = `base64url.bearer.authorization.k8s.io.${Buffer.from(adapterGoodToken).toString('base64url')}`;
  /** Every `_`/`-` and case mix a proxy may turn into a configured identity header. */
  const lookAlikes: readonly (readonly [string, string])[] = [
    ['X_Remote_User', claimedUser],
    ['x_remote_user', claimedUser],
    ['X-Remote_User', claimedUser],
    ['X_REMOTE-USER', claimedUser],
    ['X_Remote_Group', claimedGroup],
    ['X_Remote_Uid', 'uid-mallory'],
    ['X_Remote_Extra_Scopes', 'everything'],
    ['x-remote_extra-scopes', 'everything'],
    ['X_Custom_User', claimedUser],
    ['X_Custom_Group', claimedGroup],
    ['x_custom_extra_scopes', 'everything'],
    ['Impersonate_User', claimedUser],
    ['Impersonate_Group', claimedGroup],
    ['Impersonate_Uid', 'uid-mallory'],
    ['Impersonate_Extra_Scopes', 'everything'],
  ];
  /** Any spelling of an identity header, `_` read as `-` (what a normalising proxy would forward). */
  const identityLike = (n: string) =>
    /^(authorization|x-remote-|x-custom-|impersonate-)/.test(n.toLowerCase().replaceAll('_', '-'));

  for (const name of adapterNames) {
    describe(name, () => {
      let stack: AdapterStack;
      before(async () => {
        stack = await startAdapterStack(name, { config });
      });
      after(async () => {
        await stack?.close();
      });

      const assertClean = (a: RawAnswer, user: string) => {
        expect(a.status, a.body).to.equal(200);
        const seen = a.routed!;
        expect(seen.user.name).to.equal(user);
        expect(seen.user.groups).to.not.include(claimedGroup);
        expect(Object.keys(seen.user.extra)).to.not.include('scopes');
        expect(
          seen.headerNames.filter(identityLike),
          'identity headers or look-alikes reaching the handler',
        ).to.deep.equal([]);
        for (const attrs of stack.authorized) expect(attrs.user.name).to.not.equal(claimedUser);
      };

      it('front proxy (X-Remote-User: bob) + every underscore look-alike → bob; no look-alike reaches the handler', async () => {
        assertClean(await stack.raw('GET', path, [['X-Remote-User', 'bob'], ...lookAlikes], pki.proxy), 'bob');
      });

      it('front proxy via a configured header (X-Custom-User: bob) + look-alikes → bob, stripped', async () => {
        assertClean(await stack.raw('GET', path, [['X-Custom-User', 'bob'], ...lookAlikes], pki.proxy), 'bob');
      });

      it('no certificate + look-alikes only → system:anonymous, stripped', async () => {
        assertClean(await stack.raw('GET', path, lookAlikes), 'system:anonymous');
      });

      it('client certificate (alice) + look-alikes → alice, stripped', async () => {
        assertClean(await stack.raw('GET', path, lookAlikes, pki.alice), 'alice');
      });

      it('an unused WebSocket bearer subprotocol (no Upgrade) is removed; the other protocols are kept', async () => {
        const a = await stack.raw('GET', path, [['Sec-WebSocket-Protocol', `${token}, v4.channel.k8s.io`]]);
        assertClean(a, 'system:anonymous');
        const raw = a.routed!.rawHeaders;
        const lines = raw.filter((_, i) => i % 2 === 1 && /^sec[-_]websocket[-_]protocol$/i.test(raw[i - 1]!));
        expect(lines).to.deep.equal(['v4.channel.k8s.io']);
      });

      it('a bearer subprotocol alone, in any case, or under Sec_WebSocket_Protocol is removed with its header', async () => {
        const a = await stack.raw(
          'GET',
          path,
          [
            ['Sec-WebSocket-Protocol', token],
            ['Sec_WebSocket_Protocol', `${token.toUpperCase()},v5.channel.k8s.io`],
          ],
          pki.alice,
        );
        assertClean(a, 'alice');
        const raw = a.routed!.rawHeaders;
        const found = raw.filter((v, i) => i % 2 === 1 && /bearer\.authorization/i.test(v));
        expect(found).to.deep.equal([]);
        expect(a.routed!.headerNames).to.not.include('sec-websocket-protocol');
        expect(raw).to.include('v5.channel.k8s.io');
      });
    });
  }
});
