// authenticationStep() (lib/http/authentication.ts), the WithAuthentication every adapter runs: whatever throws on
// the way (the authenticator, synchronously or by rejecting; a result that is not one; the header stripping) is
// answered with Go's fixed 500 and one error line naming the step, never a rejection the adapter would have to catch
// and never a success. Passes on the step before and after its single-try rewrite.
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { expect } from 'chai';
import type { AuthenticationResult, RequestAuthenticator } from '../../lib/authn/interfaces.js';
import { authenticationStep } from '../../lib/http/authentication.js';
import { panicResponse } from '../../lib/http/status.js';
import type { Logger } from '../../lib/log.js';

function request(): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = '/apis/x/v1/things';
  req.rawHeaders = ['X-Remote-User', 'mallory', 'Accept', '*/*'];
  req.headers = { 'x-remote-user': 'mallory', accept: '*/*' };
  req.headersDistinct = { 'x-remote-user': ['mallory'], accept: ['*/*'] };
  return req;
}

function capture(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const none = () => {};
  return { debug: none, info: none, warn: none, error: (_f: object, msg: string) => void errors.push(msg), errors };
}

const user = { name: 'alice', uid: '', groups: ['system:authenticated'], extra: {} };
const success: AuthenticationResult = { ok: true, user, authenticator: 'x509' } as AuthenticationResult;

describe('authenticationStep(): failures on the way are a 500, never a rejection', () => {
  const cases: [string, RequestAuthenticator['authenticateRequest']][] = [
    [
      'the authenticator throws synchronously',
      () => {
        throw new Error('sync bug');
      },
    ],
    ['the authenticator rejects', () => Promise.reject(new Error('async bug'))],
    ['the authenticator returns null', () => Promise.resolve(null as unknown as AuthenticationResult)],
    [
      'the result makes header stripping throw (consumedHeaders not a list)',
      () => Promise.resolve({ ...success, consumedHeaders: 42 } as unknown as AuthenticationResult),
    ],
  ];
  for (const [name, authenticateRequest] of cases) {
    it(`${name} → the 500 and one error line`, async () => {
      const logger = capture();
      const step = authenticationStep({ authenticator: { authenticateRequest }, logger });
      const outcome = await step(request(), '/apis/x/v1/things');
      expect(outcome.ok).to.equal(false);
      expect(outcome.ok === false && outcome.response).to.equal(panicResponse);
      expect(logger.errors).to.have.length(1);
      expect(logger.errors[0]).to.match(/^authentication failed unexpectedly: /);
    });
  }

  it('the same step answers a good result with the identity and strips the identity headers', async () => {
    const logger = capture();
    const step = authenticationStep({ authenticator: { authenticateRequest: () => Promise.resolve(success) }, logger });
    const req = request();
    const ok = await step(req);
    expect(ok.ok && ok.identity).to.deep.equal({ user, authenticator: 'x509' });
    expect(req.headers).to.deep.equal({ accept: '*/*' });
    expect(req.rawHeaders).to.deep.equal(['Accept', '*/*']);
    expect(logger.errors).to.have.length(0);
  });
});
