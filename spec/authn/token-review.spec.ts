import type { ServerResponse } from 'node:http';
import { expect } from 'chai';
import { TokenReviewAuthenticator } from '../../lib/authn/token-review.js';
import { RestClient } from '../../lib/cluster/rest-client.js';
import { tokenReviewClient, tokenReviewPath } from '../../lib/cluster/review-clients.js';
import { KdaError } from '../../lib/errors.js';
import {
  sendJson,
  startFakeApiserver,
  status,
  type FakeApiserver,
  type RecordedRequest,
} from '../cluster/fake-apiserver.js';

type Responder = (req: RecordedRequest, res: ServerResponse) => void;

const review = (s: object) => (_q: RecordedRequest, res: ServerResponse) =>
  sendJson(res, 201, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status: s });

const fail =
  (code: number, reason: string, headers: Record<string, string> = {}) =>
  (_q: RecordedRequest, res: ServerResponse) =>
    sendJson(res, code, status(code, reason, `${reason.toLowerCase()} from fake`), headers);

describe('authn/token-review', () => {
  let fake: FakeApiserver;
  let client: RestClient;
  let sleeps: number[];
  before(async () => {
    fake = await startFakeApiserver();
    client = new RestClient({ connection: fake.connection({ token: () => 'server-token' }) });
  });
  after(async () => {
    await client.destroy();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    sleeps = [];
  });

  /** Answers the n-th call with responders[n] (the last one repeats). */
  const sequence = (...responders: Responder[]) => {
    let n = 0;
    fake.handle((q, res) => responders[Math.min(n++, responders.length - 1)]!(q, res));
  };

  const authenticator = (opts: { tokenRequestTimeout?: number; implicitAudiences?: string[] } = {}) =>
    new TokenReviewAuthenticator({
      client: tokenReviewClient(client),
      retryBackoff: {
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        random: () => 0,
      },
      ...opts,
    });

  interface Case {
    readonly name: string;
    readonly responders: readonly Responder[];
    readonly audiences?: readonly string[];
    readonly implicitAudiences?: string[];
    readonly expectOk: boolean;
    readonly expectErrorCode?: string;
    readonly expectMessage?: RegExp;
    readonly expectUser?: object;
    readonly expectAudiences?: readonly string[];
    readonly expectCalls: number;
    readonly expectSleeps?: readonly number[];
  }

  const user = {
    username: 'system:serviceaccount:ns:sa',
    uid: 'u-1',
    groups: ['system:serviceaccounts'],
    extra: { 'authentication.kubernetes.io/pod-name': ['p'] },
  };
  const cases: readonly Case[] = [
    {
      name: 'authenticated: user mapped (name, uid, groups, extra)',
      responders: [review({ authenticated: true, user })],
      expectOk: true,
      expectUser: { name: user.username, uid: 'u-1', groups: ['system:serviceaccounts'], extra: user.extra },
      expectCalls: 1,
    },
    {
      name: 'authenticated without uid/groups/extra: empty values',
      responders: [review({ authenticated: true, user: { username: 'bob' } })],
      expectOk: true,
      expectUser: { name: 'bob', uid: '', groups: [], extra: {} },
      expectCalls: 1,
    },
    {
      name: 'not authenticated with status.error: error (never anonymous)',
      responders: [review({ authenticated: false, error: 'invalid bearer token, token lookup failed' })],
      expectOk: false,
      expectErrorCode: 'ERR_KDA_TOKEN_REJECTED',
      expectMessage: /^invalid bearer token, token lookup failed$/,
      expectCalls: 1,
    },
    {
      name: 'not authenticated without error: no opinion',
      responders: [review({ authenticated: false })],
      expectOk: false,
      expectCalls: 1,
    },
    {
      name: 'audiences: status audiences intersect the wanted ones',
      responders: [review({ authenticated: true, user, audiences: ['b', 'c'] })],
      audiences: ['a', 'b'],
      expectOk: true,
      expectAudiences: ['b'],
      expectCalls: 1,
    },
    {
      name: 'audiences: disjoint status audiences: not ok, no error',
      responders: [review({ authenticated: true, user, audiences: ['c'] })],
      audiences: ['a'],
      expectOk: false,
      expectCalls: 1,
    },
    {
      name: 'audiences: none in status, implicit audiences used',
      responders: [review({ authenticated: true, user })],
      audiences: ['api', 'x'],
      implicitAudiences: ['api'],
      expectOk: true,
      expectAudiences: ['api'],
      expectCalls: 1,
    },
    {
      name: '500 twice then success (in-process fake): retried with 500ms, 750ms',
      responders: [fail(500, 'InternalError'), fail(500, 'InternalError'), review({ authenticated: true, user })],
      expectOk: true,
      expectCalls: 3,
      expectSleeps: [500, 750],
    },
    {
      name: '500 burst (in-process fake): gives up after 5 calls',
      responders: [fail(500, 'InternalError')],
      expectOk: false,
      expectErrorCode: 'ERR_KDA_REVIEW_FAILED',
      expectMessage: /internalerror from fake/,
      expectCalls: 5,
      expectSleeps: [500, 750, 1125, 1687.5],
    },
    {
      name: '429 with Retry-After (in-process fake): retried',
      responders: [fail(429, 'TooManyRequests', { 'retry-after': '1' }), review({ authenticated: true, user })],
      expectOk: true,
      expectCalls: 2,
      expectSleeps: [500],
    },
    {
      name: '403 (missing system:auth-delegator): not retried, error',
      responders: [fail(403, 'Forbidden')],
      expectOk: false,
      expectErrorCode: 'ERR_KDA_REVIEW_FAILED',
      expectCalls: 1,
    },
    {
      name: '503 without Retry-After (in-process fake): not retried',
      responders: [fail(503, 'ServiceUnavailable')],
      expectOk: false,
      expectErrorCode: 'ERR_KDA_REVIEW_FAILED',
      expectCalls: 1,
    },
    {
      name: 'connection reset (in-process fake): retried',
      responders: [(q) => q.raw.socket.destroy(), review({ authenticated: true, user })],
      expectOk: true,
      expectCalls: 2,
      expectSleeps: [500],
    },
    {
      name: 'garbage body (in-process fake): decode error, not retried',
      responders: [
        (_q, res) => {
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end('<html>');
        },
      ],
      expectOk: false,
      expectErrorCode: 'ERR_KDA_REVIEW_FAILED',
      expectMessage: /cannot decode/,
      expectCalls: 1,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      sequence(...c.responders);
      const res = await authenticator(
        c.implicitAudiences ? { implicitAudiences: c.implicitAudiences } : {},
      ).authenticateToken('the-token', c.audiences ? { audiences: c.audiences } : {});
      expect(res.ok).to.equal(c.expectOk);
      if (res.ok) {
        expect(res.authenticator).to.equal('tokenreview');
        if (c.expectUser) expect(res.user).to.deep.equal(c.expectUser);
        expect(res.audiences).to.deep.equal(c.expectAudiences);
      } else if (c.expectErrorCode) {
        expect(res.error).to.be.instanceOf(KdaError);
        expect(res.error!.code).to.equal(c.expectErrorCode);
        if (c.expectMessage) expect(res.error!.message).to.match(c.expectMessage);
      } else {
        expect(res.error).to.equal(undefined);
      }
      expect(fake.requests.length).to.equal(c.expectCalls);
      expect(sleeps).to.deep.equal(c.expectSleeps ?? []);
    });
  }

  it('posts a v1 TokenReview with the token, audiences only when asked, and the server credential', async () => {
    sequence(review({ authenticated: true, user }));
    await authenticator().authenticateToken('t1');
    await authenticator().authenticateToken('t2', { audiences: ['aud'] });
    const [a, b] = fake.requests;
    expect(a!.method).to.equal('POST');
    expect(a!.path).to.equal(tokenReviewPath);
    expect(a!.headers.authorization).to.equal('Bearer server-token');
    expect(a!.body).to.deep.equal({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: 't1' },
    });
    expect(b!.body).to.deep.equal({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: 't2', audiences: ['aud'] },
    });
  });

  it('a hanging apiserver (in-process fake) is cut by the whole-call timeout: ERR_KDA_REVIEW_TIMEOUT', async () => {
    fake.handle(() => {
      /* never answers */
    });
    const res = await authenticator({ tokenRequestTimeout: 200 }).authenticateToken('t');
    expect(res.ok).to.equal(false);
    expect(!res.ok && res.error?.code).to.equal('ERR_KDA_REVIEW_TIMEOUT');
    expect(fake.requests.length).to.equal(1);
  });

  it('retries stop at the whole-call deadline (in-process fake 500s, real sleeps)', async () => {
    sequence(fail(500, 'InternalError'));
    const a = new TokenReviewAuthenticator({ client: tokenReviewClient(client), tokenRequestTimeout: 300 });
    const res = await a.authenticateToken('t');
    expect(res.ok).to.equal(false);
    expect(!res.ok && res.error?.code).to.equal('ERR_KDA_REVIEW_TIMEOUT');
    // 500 ms first sleep > 300 ms deadline: exactly one call.
    expect(fake.requests.length).to.equal(1);
  });

  it('rejects retry steps < 1 at construction', () => {
    expect(
      () => new TokenReviewAuthenticator({ client: tokenReviewClient(client), retryBackoff: { steps: 0 } }),
    ).to.throw(KdaError, 'number of webhook retry attempts must be greater than 1, but is: 0');
  });
});
