import { expect } from 'chai';
import { bearerTokenAuthenticator, parseBearerToken } from '../../lib/authn/bearer-token.js';
import { tokenAuthenticatorFunc, type AuthenticationResult } from '../../lib/authn/interfaces.js';
import { KdaError } from '../../lib/errors.js';
import { fakeRequest } from '../support/authn-request.js';

describe('parseBearerToken (Go bearertoken rules)', () => {
  const cases: readonly { name: string; header: string | undefined; token: string | undefined }[] = [
    { name: 'valid bearer token', header: 'Bearer abc123', token: 'abc123' },
    { name: 'lower-case scheme', header: 'bearer abc123', token: 'abc123' },
    { name: 'mixed-case scheme', header: 'BeArEr abc123', token: 'abc123' },
    { name: 'surrounding whitespace is trimmed', header: '  Bearer abc123  ', token: 'abc123' },
    { name: 'third part is ignored', header: 'Bearer abc def', token: 'abc' },
    { name: 'extra space before the token is ignored (empty token)', header: 'Bearer  abc', token: undefined },
    { name: 'no token', header: 'Bearer', token: undefined },
    { name: 'basic auth is not ours', header: 'Basic Zm9vOmJhcg==', token: undefined },
    { name: 'empty header', header: '', token: undefined },
    { name: 'missing header', header: undefined, token: undefined },
    { name: 'tab is not a separator', header: 'Bearer\tabc', token: undefined },
  ];
  for (const c of cases) it(c.name, () => expect(parseBearerToken(c.header)).to.equal(c.token));
});

describe('bearerTokenAuthenticator', () => {
  const ok: AuthenticationResult = {
    ok: true,
    user: { name: 'system:serviceaccount:ns:sa', uid: 'u', groups: ['system:serviceaccounts'], extra: {} },
    authenticator: 'tokenreview',
  };
  const seen: { token: string; audiences?: readonly string[] | undefined }[] = [];
  const tokens = tokenAuthenticatorFunc(async (token, opts) => {
    seen.push({ token, audiences: opts?.audiences });
    if (token === 'good') return ok;
    if (token === 'broken')
      return { ok: false, error: new KdaError('ERR_KDA_REVIEW_FAILED', 'tokenreview unavailable') };
    return { ok: false };
  });
  beforeEach(() => (seen.length = 0));

  it('accepted token: the token user, authorization consumed, audiences passed', async () => {
    const r = await bearerTokenAuthenticator(tokens, { audiences: ['api'] }).authenticateRequest(
      fakeRequest([['Authorization', 'Bearer good']]),
    );
    expect(r.ok && r.user).to.deep.equal(ok.ok && ok.user);
    expect(r.ok && r.consumedHeaders).to.deep.equal(['authorization']);
    expect(seen).to.deep.equal([{ token: 'good', audiences: ['api'] }]);
  });

  it('rejected token without an error: `invalid bearer token` (an error, so never anonymous)', async () => {
    const r = await bearerTokenAuthenticator(tokens).authenticateRequest(
      fakeRequest([['Authorization', 'Bearer bad']]),
    );
    expect(!r.ok && r.error!.message).to.equal('invalid bearer token');
    expect(!r.ok && r.error!.code).to.equal('ERR_KDA_TOKEN_REJECTED');
    expect(!r.ok && r.error!.details).to.deep.include({ authenticator: 'bearer-token', header: 'authorization' });
  });

  it('token authenticator error passes through', async () => {
    const r = await bearerTokenAuthenticator(tokens).authenticateRequest(
      fakeRequest([['Authorization', 'Bearer broken']]),
    );
    expect(!r.ok && r.error!.message).to.equal('tokenreview unavailable');
  });

  it('no header or another scheme: no opinion, token authenticator not called', async () => {
    for (const lines of [[], [['Authorization', 'Basic abc']]] as const) {
      expect(await bearerTokenAuthenticator(tokens).authenticateRequest(fakeRequest(lines))).to.deep.equal({
        ok: false,
      });
    }
    expect(seen).to.have.length(0);
  });

  it('only the first Authorization line counts', async () => {
    const r = await bearerTokenAuthenticator(tokens).authenticateRequest(
      fakeRequest([
        ['Authorization', 'Basic abc'],
        ['Authorization', 'Bearer good'],
      ]),
    );
    expect(r).to.deep.equal({ ok: false });
  });
});
