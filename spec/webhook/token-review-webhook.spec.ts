import { expect } from 'chai';
import { Readable } from 'node:stream';
import { request } from 'undici';
import {
  TransientError,
  tokenReviewWebhook,
  type VerifyResult,
  type VerifyToken,
} from '../../lib/webhook/token-review-webhook.js';
import { waitFor } from '../support/wait-for.js';
import { post, recordingLogger, serveWebhook, type Served } from './helpers.js';

const v1 = 'authentication.k8s.io/v1';
const v1beta1 = 'authentication.k8s.io/v1beta1';

const review = (token: unknown, apiVersion: unknown = v1, extra: Record<string, unknown> = {}) => ({
  apiVersion,
  kind: 'TokenReview',
  spec: { token, ...extra },
});

const alice: VerifyResult = {
  authenticated: true,
  user: { username: 'alice', uid: 'a-1', groups: ['devs', 'team,with,commas'], extra: { scopes: ['read', 'write'] } },
};

/** The verify every case uses: the token names the outcome. */
const verify: VerifyToken = async (token, audiences) => {
  switch (token) {
    case 'alice':
      return alice;
    case 'aud':
      return { authenticated: true, user: { username: 'aud-user' }, audiences: [...audiences, 'extra-aud'] };
    case 'nope':
      return { authenticated: false };
    case 'expired':
      return { authenticated: false, error: 'token expired' };
    case 'busy':
      throw new TransientError(7, 'backend throttled', { statusCode: 429 });
    case 'down':
      throw new TransientError(2.2, 'identity provider unavailable');
    case 'bug':
      throw new Error('secret internal detail');
    case 'no-username':
      return { authenticated: true, user: { username: '' } };
    case 'garbage':
      return 'yes' as unknown as VerifyResult;
    default:
      return { authenticated: false };
  }
};

interface Case {
  readonly name: string;
  readonly body?: unknown;
  readonly raw?: string;
  readonly method?: 'GET' | 'PUT';
  readonly contentType?: string | null;
  readonly expectStatus: number;
  readonly expectReviewStatus?: Record<string, unknown>;
  readonly expectApiVersion?: string;
  readonly expectReason?: string;
  readonly expectRetryAfter?: string;
  readonly expectMessage?: RegExp;
}

const cases: readonly Case[] = [
  {
    name: 'v1 authenticated round trip',
    body: review('alice'),
    expectStatus: 200,
    expectApiVersion: v1,
    expectReviewStatus: {
      authenticated: true,
      user: {
        username: 'alice',
        uid: 'a-1',
        groups: ['devs', 'team,with,commas'],
        extra: { scopes: ['read', 'write'] },
      },
    },
  },
  {
    name: 'v1beta1 authenticated round trip echoes v1beta1',
    body: review('alice', v1beta1),
    expectStatus: 200,
    expectApiVersion: v1beta1,
    expectReviewStatus: {
      authenticated: true,
      user: {
        username: 'alice',
        uid: 'a-1',
        groups: ['devs', 'team,with,commas'],
        extra: { scopes: ['read', 'write'] },
      },
    },
  },
  {
    name: 'audiences reach verify and come back',
    body: review('aud', v1, { audiences: ['https://kubernetes.default.svc'] }),
    expectStatus: 200,
    expectApiVersion: v1,
    expectReviewStatus: {
      authenticated: true,
      user: { username: 'aud-user' },
      audiences: ['https://kubernetes.default.svc', 'extra-aud'],
    },
  },
  {
    name: '"no" is 200 authenticated:false, not 401',
    body: review('nope'),
    expectStatus: 200,
    expectApiVersion: v1,
    expectReviewStatus: { authenticated: false },
  },
  {
    name: '"no" with a reason is 200 with status.error',
    body: review('expired', v1beta1),
    expectStatus: 200,
    expectApiVersion: v1beta1,
    expectReviewStatus: { authenticated: false, error: 'token expired' },
  },
  {
    name: 'malformed JSON is 400',
    raw: '{"apiVersion":',
    expectStatus: 400,
    expectReason: 'BadRequest',
    expectMessage: /invalid JSON/,
  },
  { name: 'JSON array is 400', raw: '[]', expectStatus: 400, expectReason: 'BadRequest' },
  {
    name: 'wrong kind is 400',
    body: { ...review('alice'), kind: 'SubjectAccessReview' },
    expectStatus: 400,
    expectReason: 'BadRequest',
    expectMessage: /kind must be "TokenReview"/,
  },
  {
    name: 'wrong apiVersion is 400',
    body: review('alice', 'authentication.k8s.io/v2'),
    expectStatus: 400,
    expectReason: 'BadRequest',
    expectMessage: /apiVersion must be one of/,
  },
  {
    name: 'missing spec.token is 400',
    body: { apiVersion: v1, kind: 'TokenReview', spec: {} },
    expectStatus: 400,
    expectMessage: /spec.token/,
  },
  { name: 'empty spec.token is 400', body: review(''), expectStatus: 400, expectMessage: /spec.token/ },
  { name: 'non-string token is 400', body: review(42), expectStatus: 400, expectMessage: /spec.token/ },
  {
    name: 'bad audiences is 400',
    body: review('alice', v1, { audiences: 'x' }),
    expectStatus: 400,
    expectMessage: /audiences/,
  },
  { name: 'GET is 405', method: 'GET', expectStatus: 405, expectReason: 'MethodNotAllowed' },
  {
    name: 'text/plain is 415',
    body: review('alice'),
    contentType: 'text/plain',
    expectStatus: 415,
    expectReason: 'UnsupportedMediaType',
  },
  { name: 'missing Content-Type is 415', body: review('alice'), contentType: null, expectStatus: 415 },
  {
    name: 'Content-Type with charset is accepted',
    body: review('nope'),
    contentType: 'application/json; charset=utf-8',
    expectStatus: 200,
    expectReviewStatus: { authenticated: false },
  },
  {
    name: 'throttled verify is 429 with Retry-After',
    body: review('busy'),
    expectStatus: 429,
    expectReason: 'TooManyRequests',
    expectRetryAfter: '7',
  },
  {
    name: 'unavailable backend is 503 with Retry-After rounded up',
    body: review('down'),
    expectStatus: 503,
    expectReason: 'ServiceUnavailable',
    expectRetryAfter: '3',
  },
  {
    name: 'verify throwing is 500, never authenticated',
    body: review('bug'),
    expectStatus: 500,
    expectReason: 'InternalError',
  },
  {
    name: 'verify returning no username is 500',
    body: review('no-username'),
    expectStatus: 500,
    expectReason: 'InternalError',
  },
  {
    name: 'verify returning garbage is 500',
    body: review('garbage'),
    expectStatus: 500,
    expectReason: 'InternalError',
  },
];

describe('webhook/tokenReviewWebhook', () => {
  const logger = recordingLogger();
  let served: Served;
  before(async () => {
    served = await serveWebhook(tokenReviewWebhook({ verify, logger, maxBodyBytes: 4096 }));
  });
  after(() => served.close());

  for (const c of cases) {
    it(c.name, async () => {
      const res = await post(served, c.body, {
        ...(c.raw !== undefined ? { raw: c.raw } : {}),
        ...(c.method ? { method: c.method } : {}),
        ...(c.contentType !== undefined ? { contentType: c.contentType } : {}),
      });
      expect(res.status, res.text).to.equal(c.expectStatus);
      expect(res.headers['content-type']).to.equal('application/json');
      const body = res.json!;
      if (c.expectStatus === 200) {
        expect(body.kind).to.equal('TokenReview');
        expect(body.apiVersion).to.equal(c.expectApiVersion ?? v1);
        expect(body.status).to.deep.equal(c.expectReviewStatus);
        // The token is not echoed back: the response may end up in logs.
        expect(res.text).not.to.include('"token"');
      } else {
        expect(body).to.include({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: c.expectStatus });
        expect(body).not.to.have.property('status', 'Success');
        expect(res.text).not.to.include('authenticated');
        if (c.expectReason) expect(body.reason).to.equal(c.expectReason);
        if (c.expectMessage) expect(body.message).to.match(c.expectMessage);
      }
      if (c.expectRetryAfter) {
        expect(res.headers['retry-after']).to.equal(c.expectRetryAfter);
        expect(body.details).to.deep.equal({ retryAfterSeconds: Number(c.expectRetryAfter) });
      } else {
        expect(res.headers['retry-after']).to.equal(undefined);
      }
    });
  }

  it('405 names the allowed method', async () => {
    const res = await post(served, undefined, { method: 'GET' });
    expect(res.headers.allow).to.equal('POST');
  });

  it('a 500 is logged at error with the cause, and the cause is not sent', async () => {
    const res = await post(served, review('bug'));
    expect(res.text).not.to.include('secret internal detail');
    const line = logger.lines.find(
      (l) => l.level === 'error' && String((l.fields.err as Error)?.message).includes('secret internal detail'),
    );
    expect(line, JSON.stringify(logger.lines.map((l) => l.msg))).to.not.equal(undefined);
  });

  it('tokens are never logged, only fingerprints', async () => {
    await post(served, review('expired'));
    const all = JSON.stringify(logger.lines.map((l) => l.fields));
    expect(all).not.to.include('"expired"');
    expect(all).to.match(/"token":"[0-9a-f]{12}"/);
  });

  it('a body over maxBodyBytes with Content-Length is 413', async () => {
    const res = await post(served, review('alice', v1, { pad: 'x'.repeat(5000) }));
    expect(res.status).to.equal(413);
    expect(res.json).to.include({ kind: 'Status', reason: 'RequestEntityTooLarge', code: 413 });
  });

  it('a chunked body over maxBodyBytes (no Content-Length) is 413', async () => {
    const text = JSON.stringify(review('alice', v1, { pad: 'x'.repeat(5000) }));
    async function* chunks() {
      for (let i = 0; i < text.length; i += 1000) yield Buffer.from(text.slice(i, i + 1000));
    }
    const res = await request(`${served.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Readable.from(chunks()),
      dispatcher: served.agent,
    });
    expect(res.headers['content-length']).to.equal(undefined);
    expect(res.statusCode).to.equal(413);
    expect(await res.body.json()).to.include({ reason: 'RequestEntityTooLarge' });
  });

  it('a body exactly at maxBodyBytes is accepted', async () => {
    const base = JSON.stringify(review('nope', v1, { pad: '' }));
    const res = await post(served, undefined, {
      raw: JSON.stringify(review('nope', v1, { pad: 'y'.repeat(4096 - base.length) })),
    });
    expect(res.status).to.equal(200);
  });
});

describe('webhook/tokenReviewWebhook client disconnect', () => {
  let seen: AbortSignal | undefined;
  let onVerify: (() => void) | undefined;
  let served: Served;
  before(async () => {
    served = await serveWebhook(
      tokenReviewWebhook({
        verify: (_t, _a, signal) =>
          new Promise((resolve) => {
            seen = signal;
            onVerify?.();
            signal.addEventListener('abort', () => resolve({ authenticated: false }));
          }),
      }),
    );
  });
  after(() => served.close());

  it('aborts verify when the client goes away', async () => {
    const ac = new AbortController();
    const pending = request(`${served.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(review('slow')),
      dispatcher: served.agent,
      signal: ac.signal,
    }).catch((err: unknown) => err);
    const signal = await waitFor(() => seen, {
      what: 'verify to be called',
      wakeOn: (wake) => {
        onVerify = wake;
        return () => (onVerify = undefined);
      },
    });
    expect(signal.aborted).to.equal(false);
    ac.abort();
    await pending;
    // Undici may keep the socket for a moment; destroying the agent's sockets is what the server sees.
    await served.agent.destroy();
    await waitFor(() => signal.aborted, {
      what: "verify's signal to abort",
      wakeOn: (wake) => {
        signal.addEventListener('abort', wake);
        return () => signal.removeEventListener('abort', wake);
      },
    });
    expect(signal.aborted).to.equal(true);
  });
});

describe('webhook/tokenReviewWebhook options', () => {
  it('rejects a missing verify and a bad maxBodyBytes at construction', () => {
    expect(() => tokenReviewWebhook({} as never)).to.throw(TypeError, /verify/);
    expect(() => tokenReviewWebhook({ verify, maxBodyBytes: 0 })).to.throw(TypeError, /maxBodyBytes/);
  });

  it('TransientError is recognised across copies by its brand', () => {
    const e = new TransientError(0);
    expect(e).to.be.instanceOf(TransientError);
    expect(e.retryAfterS).to.equal(1);
    expect(e.statusCode).to.equal(503);
    expect(new Error('x')).not.to.be.instanceOf(TransientError);
  });
});
