import { expect } from 'chai';
import {
  requestAuthenticatorFunc,
  type AuthenticationResult,
  type RequestAuthenticator,
} from '../../lib/authn/interfaces.js';
import { unionAuthenticators, unionAuthenticatorsFailOnError } from '../../lib/authn/union.js';
import { KdaError } from '../../lib/errors.js';
import { fakeRequest } from '../support/authn-request.js';

const user = (name: string): AuthenticationResult => ({
  ok: true,
  user: { name, uid: '', groups: [], extra: {} },
  authenticator: name,
});
const fail = (msg: string): AuthenticationResult => ({ ok: false, error: new KdaError('ERR_KDA_CERT_UNTRUSTED', msg) });
const none: AuthenticationResult = { ok: false };

/** Returns a fixed result and records that it was called (Go's mockAuthRequestHandler). */
function mock(result: AuthenticationResult, calls: string[], id: string): RequestAuthenticator {
  return requestAuthenticatorFunc(async () => {
    calls.push(id);
    return result;
  });
}

interface Case {
  readonly name: string;
  readonly results: readonly AuthenticationResult[];
  readonly expectUser?: string;
  readonly expectError?: RegExp;
  readonly expectCalls: number;
  readonly failFastCalls?: number;
  readonly failFastError?: RegExp;
}

// Go: pkg/authentication/request/union/unionauth_test.go
const cases: readonly Case[] = [
  { name: 'authenticate request passes first', results: [user('one'), user('two')], expectUser: 'one', expectCalls: 1 },
  { name: 'authenticate request passes second', results: [none, user('two')], expectUser: 'two', expectCalls: 2 },
  { name: 'authenticate request fails with no opinion', results: [none, none], expectCalls: 2 },
  {
    name: 'authenticate request errors aggregate and mention first and second',
    results: [fail('first'), fail('second')],
    expectError: /^\[first, second\]$/,
    expectCalls: 2,
    failFastCalls: 1,
    failFastError: /^first$/,
  },
  {
    name: 'an error then a success: the success wins and the error is discarded',
    results: [fail('first'), user('two')],
    expectUser: 'two',
    expectCalls: 2,
    failFastCalls: 1,
    failFastError: /^first$/,
  },
  {
    name: 'no opinion, error, no opinion: the single error',
    results: [none, fail('only'), none],
    expectError: /^only$/,
    expectCalls: 3,
    failFastCalls: 2,
  },
];

describe('unionAuthenticators (Go union.New)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const calls: string[] = [];
      const u = unionAuthenticators(...c.results.map((r, i) => mock(r, calls, String(i))));
      const r = await u.authenticateRequest(fakeRequest());
      expect(calls).to.have.length(c.expectCalls);
      if (c.expectUser) expect(r.ok && r.user.name).to.equal(c.expectUser);
      else {
        expect(r.ok).to.equal(false);
        if (c.expectError) expect(!r.ok && r.error!.message).to.match(c.expectError);
        else expect(!r.ok && r.error).to.equal(undefined);
      }
    });
  }

  it('a single authenticator is returned as-is', () => {
    const a = mock(none, [], 'x');
    expect(unionAuthenticators(a)).to.equal(a);
    expect(unionAuthenticatorsFailOnError(a)).to.equal(a);
  });

  it('rejects non-authenticators at wiring time', () => {
    expect(() => unionAuthenticators({} as RequestAuthenticator)).to.throw(TypeError);
  });

  it('carries the declined details of members that had no opinion', async () => {
    const declining = requestAuthenticatorFunc(async () => ({
      ok: false,
      declined: [{ authenticator: 'requestheader' }],
    }));
    const r = await unionAuthenticators(declining, mock(fail('x509 said no'), [], 'b')).authenticateRequest(
      fakeRequest(),
    );
    expect(!r.ok && r.declined).to.deep.equal([{ authenticator: 'requestheader' }]);
    expect(!r.ok && r.error!.message).to.equal('x509 said no');
  });
});

describe('unionAuthenticatorsFailOnError (Go union.NewFailOnError)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const calls: string[] = [];
      const u = unionAuthenticatorsFailOnError(...c.results.map((r, i) => mock(r, calls, String(i))));
      const r = await u.authenticateRequest(fakeRequest());
      expect(calls).to.have.length(c.failFastCalls ?? c.expectCalls);
      if (c.failFastError) expect(!r.ok && r.error!.message).to.match(c.failFastError);
      else if (c.expectUser) expect(r.ok && r.user.name).to.equal(c.expectUser);
      else if (c.expectError) expect(!r.ok && r.error!.message).to.match(c.expectError);
      else expect(r).to.deep.equal({ ok: false });
    });
  }
});
