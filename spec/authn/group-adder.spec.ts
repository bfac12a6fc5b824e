import { expect } from 'chai';
import { anonymousAuthenticator } from '../../lib/authn/anonymous.js';
import { authenticatedGroupAdder } from '../../lib/authn/group-adder.js';
import { requestAuthenticatorFunc, type AuthenticationResult, type UserInfo } from '../../lib/authn/interfaces.js';
import { KdaError } from '../../lib/errors.js';
import { fakeRequest } from '../support/authn-request.js';

const cases: readonly { name: string; user: UserInfo; expectGroups: readonly string[] }[] = [
  {
    name: 'adds system:authenticated at the end',
    user: { name: 'alice', uid: 'u1', groups: ['devs', 'ops'], extra: { k: ['v'] } },
    expectGroups: ['devs', 'ops', 'system:authenticated'],
  },
  {
    name: 'user without groups',
    user: { name: 'bob', uid: '', groups: [], extra: {} },
    expectGroups: ['system:authenticated'],
  },
  {
    name: 'already authenticated: added only once',
    user: { name: 'bob', uid: '', groups: ['system:authenticated', 'devs'], extra: {} },
    expectGroups: ['system:authenticated', 'devs'],
  },
  {
    name: 'unauthenticated group: unchanged',
    user: { name: 'x', uid: '', groups: ['system:unauthenticated'], extra: {} },
    expectGroups: ['system:unauthenticated'],
  },
  {
    name: 'system:anonymous: unchanged',
    user: { name: 'system:anonymous', uid: '', groups: ['custom'], extra: {} },
    expectGroups: ['custom'],
  },
];

describe('authenticatedGroupAdder', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const before = structuredClone(c.user);
      const inner: AuthenticationResult = {
        ok: true,
        user: c.user,
        authenticator: 'test',
        consumedHeaders: ['x-remote-user'],
      };
      const r = await authenticatedGroupAdder(requestAuthenticatorFunc(async () => inner)).authenticateRequest(
        fakeRequest(),
      );
      expect(r.ok).to.equal(true);
      if (!r.ok) return;
      expect(r.user.groups).to.deep.equal(c.expectGroups);
      expect(r.user.name).to.equal(c.user.name);
      expect(r.user.uid).to.equal(c.user.uid);
      expect(r.user.extra).to.deep.equal(c.user.extra);
      expect(r.authenticator).to.equal('test');
      expect(r.consumedHeaders).to.deep.equal(['x-remote-user']);
      expect(c.user, 'the inner user is not mutated').to.deep.equal(before);
    });
  }

  it('passes failures through untouched', async () => {
    const failure: AuthenticationResult = { ok: false, error: new KdaError('ERR_KDA_TOKEN_REJECTED', 'nope') };
    const r = await authenticatedGroupAdder(requestAuthenticatorFunc(async () => failure)).authenticateRequest(
      fakeRequest(),
    );
    expect(r).to.equal(failure);
  });
});

describe('anonymousAuthenticator', () => {
  it('is system:anonymous in system:unauthenticated', async () => {
    const r = await anonymousAuthenticator().authenticateRequest(fakeRequest([['X-Remote-User', 'spoofed']]));
    expect(r).to.deep.equal({
      ok: true,
      user: { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'], extra: {} },
      authenticator: 'anonymous',
      consumedHeaders: [],
    });
  });
});
