import { expect } from 'chai';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import { tokenAuthenticatorFunc } from '../../lib/authn/interfaces.js';
import { InvalidOptionError, KdaError } from '../../lib/errors.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { fakeRequest } from '../support/authn-request.js';
import { testPki } from '../support/pki.js';

describe('newDelegatingAuthenticator (Go DelegatingAuthenticatorConfig.New)', () => {
  const pki = testPki();
  const requestHeader = {
    caProvider: staticCABundle(pki.frontProxyCA.certPem, 'request-header'),
    configProvider: staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] }),
  };
  const clientCA = staticCABundle(pki.clientCA.certPem, 'client-ca');
  const calls: string[] = [];
  const tokenAuthenticator = tokenAuthenticatorFunc(async (token) => {
    calls.push(token);
    return token === 'good'
      ? {
          ok: true,
          user: { name: 'sa', uid: '', groups: ['system:serviceaccounts'], extra: {} },
          authenticator: 'tokenreview',
        }
      : { ok: false };
  });
  const full = newDelegatingAuthenticator({ requestHeader, clientCA, tokenAuthenticator });
  beforeEach(() => (calls.length = 0));

  it('nothing configured, anonymous on: everything is anonymous', async () => {
    const r = await newDelegatingAuthenticator().authenticateRequest(fakeRequest([['Authorization', 'Bearer x']]));
    expect(r.ok && r.user.name).to.equal('system:anonymous');
  });

  it('nothing configured, anonymous off: `no authentication method configured`', () => {
    expect(() => newDelegatingAuthenticator({ anonymous: false })).to.throw(
      KdaError,
      /^no authentication method configured$/,
    );
  });

  it('front-proxy first: a proxy request is the header user plus system:authenticated, token not consulted', async () => {
    const r = await full.authenticateRequest(
      fakeRequest(
        [
          ['X-Remote-User', 'alice'],
          ['X-Remote-Group', 'devs'],
          ['Authorization', 'Bearer good'],
        ],
        [pki.proxy.x509],
      ),
    );
    expect(r.ok && r.authenticator).to.equal('requestheader');
    expect(r.ok && r.user.groups).to.deep.equal(['devs', 'system:authenticated']);
    expect(calls).to.deep.equal([]);
  });

  it('client-CA user: front-proxy verification fails first, x509 succeeds', async () => {
    const r = await full.authenticateRequest(fakeRequest([], [pki.alice.x509]));
    expect(r.ok && r.authenticator).to.equal('x509');
    expect(r.ok && r.user.groups).to.deep.equal(['developers', 'system:masters', 'system:authenticated']);
  });

  it('a client-CA certificate with CN front-proxy-client is not a front proxy (X-Remote-User ignored)', async () => {
    const r = await full.authenticateRequest(fakeRequest([['X-Remote-User', 'admin']], [pki.clientProxyCN.x509]));
    expect(r.ok && r.authenticator).to.equal('x509');
    expect(r.ok && r.user.name).to.equal('front-proxy-client');
  });

  it('bad credentials are refused even with anonymous on (FailOnErrorUnion)', async () => {
    const bad = await full.authenticateRequest(fakeRequest([['Authorization', 'Bearer bad']]));
    expect(!bad.ok && bad.error!.message).to.equal('invalid bearer token');
    const unknownCert = await full.authenticateRequest(fakeRequest([], [pki.proxyFromOtherCA.x509]));
    expect(unknownCert.ok).to.equal(false);
    expect(!unknownCert.ok && unknownCert.error!.message).to.match(
      /^\[x509: certificate signed by unknown authority, verifying certificate SN=/,
    );
  });

  it('no credentials: anonymous, without system:authenticated', async () => {
    const r = await full.authenticateRequest(fakeRequest([['X-Remote-User', 'spoofed']]));
    expect(r.ok && r.user).to.deep.equal({
      name: 'system:anonymous',
      uid: '',
      groups: ['system:unauthenticated'],
      extra: {},
    });
  });

  it('anonymous: false really refuses requests without credentials (no error)', async () => {
    const strict = newDelegatingAuthenticator({ requestHeader, clientCA, tokenAuthenticator, anonymous: false });
    expect(await strict.authenticateRequest(fakeRequest())).to.deep.equal({ ok: false });
    const r = await strict.authenticateRequest(fakeRequest([['Authorization', 'Bearer good']]));
    expect(r.ok && r.user.groups).to.deep.equal(['system:serviceaccounts', 'system:authenticated']);
  });

  it('a WebSocket upgrade carrying the token as a subprotocol', async () => {
    const r = await full.authenticateRequest(
      fakeRequest([
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        [
          'Sec-WebSocket-Protocol',
          `base64url.bearer.authorization.k8s.io.${Buffer.from('good').toString('base64url')},v4.channel.k8s.io`,
        ],
      ]),
    );
    expect(r.ok && r.user.name).to.equal('sa');
    expect(r.ok && r.consumedHeaders).to.deep.equal(['sec-websocket-protocol']);
  });

  it('reports every wiring mistake at once', () => {
    let err: unknown;
    try {
      newDelegatingAuthenticator({
        requestHeader: { caProvider: {} as never, configProvider: undefined as never },
        clientCA: 'ca.crt' as never,
        tokenAuthenticator: {} as never,
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).code).to.equal('ERR_KDA_INVALID_OPTION');
    expect((err as InvalidOptionError).problems).to.have.length(4);
  });
});
