import { expect } from 'chai';
import Koa from 'koa';
import { Client, request, type Agent, type Dispatcher } from 'undici';
import { tokenAuthenticatorFunc } from '../../lib/authn/interfaces.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import {
  authenticate,
  authenticationChannel,
  type AuthenticateOptions,
  type AuthenticationEvent,
} from '../../lib/koa/authenticate.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { testPki, type TestCert } from '../support/pki.js';
import { swappableCA } from '../security/stack.js';
import { recordingLogger } from '../support/recording-logger.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';

const identityHeaders = [
  'authorization',
  'x-remote-user',
  'x-remote-uid',
  'x-remote-group',
  'x-remote-extra-scopes',
  'x-acme-user',
  'x-acme-group',
  'x-acme-extra-team',
];

interface Seen {
  user: { name: string; uid: string; groups: string[]; extra: Record<string, string[]> };
  authenticator: string;
  headers: Record<string, unknown>;
  distinct: Record<string, string[]>;
  raw: string[];
}

describe('authenticate() Koa middleware over real TLS', () => {
  const pki = testPki();
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  const socketIds = new WeakMap<object, number>();
  let nextSocketId = 1;

  async function serve(options: AuthenticateOptions): Promise<TestTlsServer> {
    const app = new Koa();
    app.silent = true;
    app.use(async (ctx, next) => {
      let id = socketIds.get(ctx.req.socket);
      if (!id) socketIds.set(ctx.req.socket, (id = nextSocketId++));
      ctx.set('x-socket-id', String(id));
      await next();
    });
    app.use(authenticate(options));
    app.use((ctx) => {
      const seen: Seen = {
        user: ctx.state.user,
        authenticator: ctx.state.authenticator,
        headers: { ...ctx.req.headers },
        distinct: { ...ctx.req.headersDistinct } as Record<string, string[]>,
        raw: [...ctx.req.rawHeaders],
      };
      ctx.body = seen;
    });
    const server = await startTlsServer(app.callback());
    closers.push(() => server.close());
    return server;
  }

  const agents = new Map<TestCert | undefined, Agent>();
  function agentFor(cert?: TestCert): Agent {
    let a = agents.get(cert);
    if (!a) {
      a = clientAgent(cert);
      agents.set(cert, a);
      const created = a;
      closers.push(() => created.close());
    }
    return a;
  }

  async function call(
    server: TestTlsServer,
    cert: TestCert | undefined,
    headers: Record<string, string | string[]> = {},
    dispatcher: Dispatcher = agentFor(cert),
  ) {
    const r = await request(server.url + '/apis/wardle.example.com/v1alpha1/flunders', { dispatcher, headers });
    const text = await r.body.text();
    return {
      status: r.statusCode,
      headers: r.headers,
      text,
      seen: r.statusCode === 200 ? (JSON.parse(text) as Seen) : undefined,
    };
  }

  const requestHeaderConfig = staticRequestHeaderConfig({
    usernameHeaders: ['X-Remote-User', 'X-Acme-User'],
    uidHeaders: ['X-Remote-Uid'],
    groupHeaders: ['X-Remote-Group', 'X-Acme-Group'],
    extraHeaderPrefixes: ['X-Remote-Extra-', 'X-Acme-Extra-'],
    allowedNames: ['front-proxy-client'],
  });

  describe('options = front-proxy CA + client CA + token, anonymous on', () => {
    let server: TestTlsServer;
    const logger = recordingLogger();
    const frontProxyCA = swappableCA('request-header::test', pki.frontProxyCA.certPem);
    const tokenAuthenticator = tokenAuthenticatorFunc(async (token) =>
      token === 'good-token'
        ? {
            ok: true,
            user: { name: 'system:serviceaccount:ns:sa', uid: 'sa-uid', groups: [], extra: {} },
            authenticator: 'tokenreview',
          }
        : { ok: false },
    );
    before(async () => {
      server = await serve({
        requestHeader: { caProvider: frontProxyCA, configProvider: requestHeaderConfig },
        clientCA: staticCABundle(pki.clientCA.certPem, 'client-ca::test'),
        tokenAuthenticator,
        logger,
      });
    });
    beforeEach(() => (logger.lines.length = 0));

    it('valid front-proxy request: user, uid, groups and extra exact; system:authenticated added once', async () => {
      const r = await call(server, pki.proxy, {
        'X-Remote-User': 'alice',
        'X-Remote-Uid': 'uid-42',
        'X-Remote-Group': ['devs', 'a, b', 'system:authenticated'],
        'X-Remote-Extra-Authentication.kubernetes.io%2fpod-Name': 'pod-1',
        'X-Remote-Extra-Scopes': ['', 'read'],
        'X-Remote-Extra-Bad%zzKey': 'raw',
        'X-Remote-Extra-': 'empty-key',
        'X-Acme-Extra-Team': 'blue',
      });
      expect(r.status).to.equal(200);
      expect(r.seen!.authenticator).to.equal('requestheader');
      expect(r.seen!.user).to.deep.equal({
        name: 'alice',
        uid: 'uid-42',
        groups: ['devs', 'a, b', 'system:authenticated'],
        extra: {
          'authentication.kubernetes.io/pod-name': ['pod-1'],
          scopes: ['', 'read'],
          'bad%zzkey': ['raw'],
          '': ['empty-key'],
          team: ['blue'],
        },
      });
      expect(logger.lines.filter((e) => e.level === 'warn')).to.deep.equal([]);
    });

    it('repeated X-Remote-Group lines and a group containing a comma; system:authenticated appended', async () => {
      const r = await call(server, pki.proxy, {
        'X-Remote-User': 'bob',
        'X-Remote-Group': ['x,y', 'z'],
        'X-Acme-Group': 'acme',
      });
      expect(r.seen!.user.groups).to.deep.equal(['x,y', 'z', 'acme', 'system:authenticated']);
    });

    it('front-proxy headers never reach the handler after success', async () => {
      const r = await call(server, pki.proxy, {
        'X-Remote-User': 'alice',
        'X-Remote-Group': 'g',
        'X-Remote-Extra-Scopes': 's',
        'X-Acme-User': 'x',
        'X-Acme-Group': 'y',
        'X-Acme-Extra-Team': 't',
        Authorization: 'Bearer good-token',
        'X-Keep': 'me',
      });
      for (const h of identityHeaders) {
        expect(r.seen!.headers, h).to.not.have.property(h);
        expect(r.seen!.distinct, h).to.not.have.property(h);
      }
      expect(r.seen!.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())).to.not.include.members(
        identityHeaders,
      );
      expect(r.seen!.headers['x-keep']).to.equal('me');
    });

    const refused: readonly { name: string; cert: TestCert; check: string; subjectCN: string; code: string }[] = [
      {
        name: 'disallowed CN',
        cert: pki.proxyOtherCN,
        check: 'allowed-names',
        subjectCN: 'not-the-proxy',
        code: 'ERR_KDA_CN_NOT_ALLOWED',
      },
      {
        name: 'unknown CA',
        cert: pki.proxyFromOtherCA,
        check: 'chain',
        subjectCN: 'front-proxy-client',
        code: 'ERR_KDA_CERT_UNTRUSTED',
      },
      {
        name: 'expired cert',
        cert: pki.proxyExpired,
        check: 'validity',
        subjectCN: 'front-proxy-client',
        code: 'ERR_KDA_CERT_UNTRUSTED',
      },
      {
        name: 'not-yet-valid cert',
        cert: pki.proxyNotYetValid,
        check: 'validity',
        subjectCN: 'front-proxy-client',
        code: 'ERR_KDA_CERT_UNTRUSTED',
      },
      {
        name: 'serverAuth-only EKU',
        cert: pki.proxyServerAuthOnly,
        check: 'eku',
        subjectCN: 'front-proxy-client',
        code: 'ERR_KDA_CERT_USAGE',
      },
      {
        name: 'intermediate with CA:false',
        cert: pki.proxyViaCaFalse,
        check: 'ca',
        subjectCN: 'front-proxy-client',
        code: 'ERR_KDA_CERT_UNTRUSTED',
      },
      {
        name: 'chain sent without its intermediate',
        cert: { ...pki.proxyViaIntermediate, chainPem: pki.proxyViaIntermediate.certPem },
        check: 'chain',
        subjectCN: 'front-proxy-client',
        code: 'ERR_KDA_CERT_UNTRUSTED',
      },
    ];
    for (const c of refused) {
      it(`${c.name} → 401 (not anonymous), one warn line with the cause`, async () => {
        const r = await call(server, c.cert, { 'X-Remote-User': 'alice' });
        expect(r.status).to.equal(401);
        expect(r.text).to.equal(unauthorizedBody);
        const warns = logger.lines.filter((e) => e.level === 'warn');
        expect(warns).to.have.length(1);
        expect(warns[0]!.fields).to.deep.include({
          authenticator: 'requestheader',
          check: c.check,
          subjectCN: c.subjectCN,
          caName: 'request-header::test',
          code: c.code,
          // Koa's ctx.path, read only for the refusal.
          method: 'GET',
          path: '/apis/wardle.example.com/v1alpha1/flunders',
        });
        expect(warns[0]!.fields.causes).to.have.length(2); // requestheader + x509, both explained
      });
    }

    it('no-EKU front-proxy cert → accepted', async () => {
      const r = await call(server, pki.proxyNoEku, { 'X-Remote-User': 'alice' });
      expect(r.status).to.equal(200);
      expect(r.seen!.user.name).to.equal('alice');
    });

    it('leaf via an intermediate → accepted', async () => {
      const r = await call(server, pki.proxyViaIntermediate, { 'X-Remote-User': 'alice' });
      expect(r.status).to.equal(200);
      expect(r.seen!.authenticator).to.equal('requestheader');
    });

    it('an empty first X-Remote-User line: the proxy is not trusted as a user → 401, and the log says why', async () => {
      const r = await call(server, pki.proxy, { 'X-Remote-User': ['', 'mallory'] });
      expect(r.status).to.equal(401);
      const warns = logger.lines.filter((e) => e.level === 'warn');
      expect(warns).to.have.length(1);
      expect(warns[0]!.fields).to.deep.include({
        authenticator: 'requestheader',
        check: 'username-header',
        subjectCN: 'front-proxy-client',
      });
      expect(warns[0]!.msg).to.match(/^request refused: front-proxy certificate verified, but no username header/);
    });

    it('client-CA user: name from CN, groups from O', async () => {
      const r = await call(server, pki.alice);
      expect(r.status).to.equal(200);
      expect(r.seen!.authenticator).to.equal('x509');
      expect(r.seen!.user.name).to.equal('alice');
      expect(r.seen!.user.groups).to.deep.equal(['developers', 'system:masters', 'system:authenticated']);
    });

    it('a client-CA cert with CN front-proxy-client is NOT trusted as the front proxy', async () => {
      const r = await call(server, pki.clientProxyCN, { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' });
      expect(r.status).to.equal(200);
      expect(r.seen!.authenticator).to.equal('x509');
      expect(r.seen!.user.name).to.equal('front-proxy-client');
      expect(r.seen!.user.groups).to.deep.equal(['system:authenticated']);
      expect(r.seen!.headers).to.not.have.property('x-remote-user');
    });

    it('spoofed identity headers without a client cert → anonymous, every identity header gone before the handler', async () => {
      const r = await call(server, undefined, {
        'X-Remote-User': 'admin',
        'X-Remote-Uid': 'u',
        'X-Remote-Group': ['system:masters', 'x'],
        'X-Remote-Extra-Scopes': 'all',
        'X-Acme-User': 'admin',
        'X-Acme-Group': 'system:masters',
        'X-Acme-Extra-Team': 'red',
        'X-Keep': 'me',
      });
      expect(r.status).to.equal(200);
      expect(r.seen!.user).to.deep.equal({
        name: 'system:anonymous',
        uid: '',
        groups: ['system:unauthenticated'],
        extra: {},
      });
      for (const h of identityHeaders) {
        expect(r.seen!.headers, h).to.not.have.property(h);
        expect(r.seen!.distinct, h).to.not.have.property(h);
      }
      const rawNames = r.seen!.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(rawNames.filter((n) => identityHeaders.includes(n))).to.deep.equal([]);
      expect(rawNames).to.include('x-keep');
    });

    it('bearer token: the token user, Authorization removed; a rejected token → 401 with the cause logged', async () => {
      const ok = await call(server, undefined, { Authorization: 'Bearer good-token' });
      expect(ok.seen!.user.name).to.equal('system:serviceaccount:ns:sa');
      expect(ok.seen!.headers).to.not.have.property('authorization');
      const bad = await call(server, undefined, { Authorization: 'Bearer nope' });
      expect(bad.status).to.equal(401);
      const warns = logger.lines.filter((e) => e.level === 'warn');
      expect(warns).to.have.length(1);
      expect(warns[0]!.fields).to.deep.include({
        authenticator: 'bearer-token',
        check: 'token',
        header: 'authorization',
      });
      expect(JSON.stringify(warns)).to.not.include('nope');
    });

    it('the 401 response byte for byte: Status JSON, application/json, no WWW-Authenticate', async () => {
      const r = await call(server, pki.proxyFromOtherCA, { 'X-Remote-User': 'alice' });
      expect(r.status).to.equal(401);
      expect(r.text).to.equal(
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n',
      );
      expect(r.headers['content-type']).to.equal('application/json');
      expect(r.headers['content-length']).to.equal(String(Buffer.byteLength(unauthorizedBody)));
      expect(r.headers).to.not.have.property('www-authenticate');
    });

    it('publishes one authentication event per request on kube-delegated-auth:authn (success / failure / error)', async () => {
      const events: AuthenticationEvent[] = [];
      const onEvent = (e: unknown) => events.push(e as AuthenticationEvent);
      authenticationChannel.subscribe(onEvent);
      try {
        await call(server, pki.proxy, { 'X-Remote-User': 'alice' });
        await call(server, pki.proxyOtherCN, { 'X-Remote-User': 'alice' });
        await call(server, undefined);
      } finally {
        authenticationChannel.unsubscribe(onEvent);
      }
      expect(events.map((e) => [e.result, e.authenticator])).to.deep.equal([
        ['success', 'requestheader'],
        ['error', undefined],
        ['success', 'anonymous'],
      ]);
      expect(events[1]!.error!.code).to.equal('ERR_KDA_CN_NOT_ALLOWED');
      for (const e of events) expect(e.durationSeconds).to.be.a('number').and.at.least(0);
    });

    it('a CA swap (provider version bump) applies to the next request on the same keep-alive connection', async () => {
      const client = new Client(server.url, {
        connect: { ca: pki.servingCA.certPem, cert: pki.proxy.chainPem, key: pki.proxy.keyPem },
      });
      closers.push(() => client.close());
      try {
        const before = await call(server, pki.proxy, { 'X-Remote-User': 'alice' }, client);
        expect(before.status).to.equal(200);
        frontProxyCA.swap(pki.otherCA.certPem);
        const afterSwap = await call(server, pki.proxy, { 'X-Remote-User': 'alice' }, client);
        expect(afterSwap.status).to.equal(401);
        expect(afterSwap.headers['x-socket-id'], 'same TLS socket').to.equal(before.headers['x-socket-id']);
        frontProxyCA.swap(pki.frontProxyCA.certPem);
        const restored = await call(server, pki.proxy, { 'X-Remote-User': 'alice' }, client);
        expect(restored.status).to.equal(200);
        expect(restored.headers['x-socket-id']).to.equal(before.headers['x-socket-id']);
      } finally {
        frontProxyCA.swap(pki.frontProxyCA.certPem);
      }
    });
  });

  describe('options.anonymous = false', () => {
    let server: TestTlsServer;
    const logger = recordingLogger();
    before(async () => {
      server = await serve({
        requestHeader: {
          caProvider: staticCABundle(pki.frontProxyCA.certPem, 'request-header::test'),
          configProvider: requestHeaderConfig,
        },
        anonymous: false,
        logger,
      });
    });

    it('no credentials → 401, logged at debug (not warn); the event says failure', async () => {
      const events: AuthenticationEvent[] = [];
      const onEvent = (e: unknown) => events.push(e as AuthenticationEvent);
      authenticationChannel.subscribe(onEvent);
      const r = await call(server, undefined, { 'X-Remote-User': 'admin' });
      expect(r.status).to.equal(401);
      expect(r.text).to.equal(unauthorizedBody);
      expect(logger.lines.map((e) => e.level)).to.deep.equal(['debug']);
      expect(logger.lines[0]!.fields).to.deep.include({ check: 'no-credentials' });
      authenticationChannel.unsubscribe(onEvent);
      expect(events.map((e) => e.result)).to.deep.equal(['failure']);
    });

    it('the front proxy still works', async () => {
      const r = await call(server, pki.proxy, { 'X-Remote-User': 'alice' });
      expect(r.status).to.equal(200);
      expect(r.seen!.user.groups).to.deep.equal(['system:authenticated']);
    });
  });

  describe('options.authenticator (a ready RequestAuthenticator)', () => {
    it('is used as-is; configured headers are still stripped', async () => {
      const server = await serve({
        authenticator: {
          authenticateRequest: async () => ({
            ok: true,
            user: { name: 'fixed', uid: '', groups: [], extra: {} },
            authenticator: 'custom',
          }),
        },
        requestHeader: { caProvider: staticCABundle(pki.frontProxyCA.certPem), configProvider: requestHeaderConfig },
      });
      const r = await call(server, undefined, { 'X-Acme-User': 'spoof', 'X-Remote-User': 'spoof' });
      expect(r.seen!.user.name).to.equal('fixed');
      expect(r.seen!.authenticator).to.equal('custom');
      expect(r.seen!.headers).to.not.have.property('x-acme-user');
      expect(r.seen!.headers).to.not.have.property('x-remote-user');
    });

    it('rejects a non-authenticator at wiring time', () => {
      expect(() => authenticate({ authenticator: {} as never })).to.throw(TypeError);
    });
  });
});
