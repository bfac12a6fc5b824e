import { expect } from 'chai';
import { KdaError } from '../../lib/errors.js';
import { QpsLimiter } from '../../lib/cluster/qps-limiter.js';
import { KubeApiError, RestClient } from '../../lib/cluster/rest-client.js';
import { defaultShouldRetry } from '../../lib/util/review-retry.js';
import { testPki } from '../support/pki.js';
import { sendJson, startFakeApiserver, status, type FakeApiserver } from './fake-apiserver.js';

describe('cluster/rest-client', () => {
  let fake: FakeApiserver;
  const clients: RestClient[] = [];
  before(async () => {
    fake = await startFakeApiserver();
  });
  after(() => fake.close());
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.destroy()));
    fake.requests.length = 0;
  });
  const client = (opts: Partial<ConstructorParameters<typeof RestClient>[0]> = {}): RestClient => {
    const c = new RestClient({ connection: fake.connection(), ...opts });
    clients.push(c);
    return c;
  };

  it('presents the client certificate and calls the token provider per request', async () => {
    let n = 0;
    const alice = testPki().alice;
    const c = client({
      connection: fake.connection({ cert: alice.chainPem, key: alice.keyPem, token: () => `tok-${++n}` }),
    });
    fake.handle((req, res) => sendJson(res, 200, { path: req.path }));
    await c.get('/api/v1/a');
    await c.post('/api/v1/b', { x: 1 });
    expect(fake.requests.map((r) => r.peerCN)).to.deep.equal(['alice', 'alice']);
    expect(fake.requests.map((r) => r.headers.authorization)).to.deep.equal(['Bearer tok-1', 'Bearer tok-2']);
    expect(fake.requests[1]!.body).to.deep.equal({ x: 1 });
    expect(fake.requests[1]!.headers['content-type']).to.equal('application/json');
  });

  it('reuses keep-alive connections for sequential requests (20 calls, at most 2 TLS handshakes)', async () => {
    const c = client();
    fake.handle((_req, res) => sendJson(res, 200, {}));
    const before = fake.connections();
    for (let i = 0; i < 20; i++) await c.get('/x');
    // undici may open a second socket while the first is still settling after its handshake; never one per call.
    expect(fake.connections() - before).to.be.within(1, 2);
  });

  it('does not trust a server outside the configured CA', async () => {
    const c = client({ connection: fake.connection({ ca: testPki().otherCA.certPem }) });
    const err = await c.get('/x').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(KubeApiError);
    expect(defaultShouldRetry(err)).to.equal(false);
  });

  interface ErrorCase {
    readonly name: string;
    readonly respond: Parameters<FakeApiserver['handle']>[0];
    readonly statusCode?: number;
    readonly reason?: string;
    readonly retryAfterSeconds?: number;
    readonly code?: string;
    readonly retryable: boolean;
    readonly message?: RegExp;
  }
  const cases: readonly ErrorCase[] = [
    {
      name: '403 Status body: reason Forbidden, message kept, not retried',
      respond: (_q, res) => sendJson(res, 403, status(403, 'Forbidden', 'tokenreviews is forbidden: User "x"')),
      statusCode: 403,
      reason: 'Forbidden',
      retryable: false,
      message: /^tokenreviews is forbidden: User "x"$/,
    },
    {
      name: '500 plain text (in-process fake): InternalError inferred, retried',
      respond: (_q, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('boom');
      },
      statusCode: 500,
      reason: 'InternalError',
      retryable: true,
      message: /HTTP 500 \(InternalError\): boom/,
    },
    {
      name: '429 with Retry-After (in-process fake): retryAfterSeconds, retried',
      respond: (_q, res) => sendJson(res, 429, status(429, 'TooManyRequests', 'slow down'), { 'retry-after': '3' }),
      statusCode: 429,
      reason: 'TooManyRequests',
      retryAfterSeconds: 3,
      retryable: true,
    },
    {
      name: '503 without Retry-After (in-process fake): not retried',
      respond: (_q, res) => sendJson(res, 503, status(503, 'ServiceUnavailable', 'unavailable')),
      statusCode: 503,
      reason: 'ServiceUnavailable',
      retryable: false,
    },
    {
      name: '503 with details.retryAfterSeconds (in-process fake): retried',
      respond: (_q, res) => sendJson(res, 503, status(503, 'ServiceUnavailable', 'later', { retryAfterSeconds: 1 })),
      statusCode: 503,
      retryAfterSeconds: 1,
      retryable: true,
    },
    {
      name: '503 Status without details, with Retry-After (in-process fake): retried (client-go waits for the header)',
      respond: (_q, res) => sendJson(res, 503, status(503, 'ServiceUnavailable', 'later'), { 'retry-after': '2' }),
      statusCode: 503,
      retryAfterSeconds: 2,
      retryable: true,
    },
    {
      name: '403 Status with a Retry-After header: not retried (client-go waits only on 429 and 5xx)',
      respond: (_q, res) => sendJson(res, 403, status(403, 'Forbidden', 'no'), { 'retry-after': '2' }),
      statusCode: 403,
      reason: 'Forbidden',
      retryable: false,
    },
    {
      name: '403 without a Status body, with Retry-After (in-process fake): retried (the generic Status carries it)',
      respond: (_q, res) => {
        res.writeHead(403, { 'content-type': 'text/plain', 'retry-after': '2' });
        res.end('no');
      },
      statusCode: 403,
      reason: 'Forbidden',
      retryAfterSeconds: 2,
      retryable: true,
    },
    {
      name: '503 without a Status body, with Retry-After (in-process fake): the generic Status carries it, retried',
      respond: (_q, res) => {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '2' });
        res.end('busy');
      },
      statusCode: 503,
      reason: 'ServiceUnavailable',
      retryAfterSeconds: 2,
      retryable: true,
    },
    {
      name: 'ServerTimeout Status with details (in-process fake): retried (Go SuggestsClientDelay)',
      respond: (_q, res) => sendJson(res, 500, status(500, 'ServerTimeout', 'try again', { name: 'x' })),
      statusCode: 500,
      reason: 'ServerTimeout',
      retryAfterSeconds: 0,
      retryable: true,
    },
    {
      name: 'ServerTimeout Status without details (in-process fake): not retried',
      respond: (_q, res) => sendJson(res, 500, status(500, 'ServerTimeout', 'try again')),
      statusCode: 500,
      reason: 'ServerTimeout',
      retryable: false,
    },
    {
      name: '504 without body (in-process fake): Timeout inferred, retried',
      respond: (_q, res) => {
        res.writeHead(504);
        res.end();
      },
      statusCode: 504,
      reason: 'Timeout',
      retryable: true,
    },
    {
      name: '404: not retried',
      respond: (_q, res) => sendJson(res, 404, status(404, 'NotFound', 'not found')),
      statusCode: 404,
      reason: 'NotFound',
      retryable: false,
    },
    {
      name: 'garbage 200 body (in-process fake): decode error, not retried',
      respond: (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"kind":');
      },
      statusCode: 200,
      code: 'EDECODE',
      retryable: false,
      message: /cannot decode response body/,
    },
    {
      name: 'connection reset mid-request (in-process fake): network code, retried',
      respond: (q) => {
        q.raw.socket.destroy();
      },
      retryable: true,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      fake.handle(c.respond);
      const err = await client()
        .get('/x')
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).to.be.instanceOf(KubeApiError);
      const e = err as KubeApiError;
      expect(e.statusCode).to.equal(c.statusCode);
      if (c.reason) expect(e.reason).to.equal(c.reason);
      expect(e.retryAfterSeconds).to.equal(c.retryAfterSeconds);
      expect(e.code).to.equal('ERR_KDA_KUBE_API');
      expect(e).to.be.instanceOf(KdaError);
      if (c.code) expect(e.networkCode).to.equal(c.code);
      if (c.statusCode === undefined) expect(e.networkCode).to.be.a('string');
      if (c.message) expect(e.message).to.match(c.message);
      // The one predicate decides on the error itself, as the review clients hand it to the retry loop.
      expect(defaultShouldRetry(e)).to.equal(c.retryable);
    });
  }

  it('times out a hanging server (in-process fake): ETIMEDOUT, not retried', async () => {
    fake.handle(() => {
      /* never answers */
    });
    const err = (await client({ timeout: 200 })
      .get('/hang')
      .catch((e: unknown) => e)) as KubeApiError;
    expect(err).to.be.instanceOf(KubeApiError);
    expect(err.networkCode).to.equal('ETIMEDOUT');
    expect(err.timedOut).to.equal(true);
    expect(defaultShouldRetry(err)).to.equal(false);
  });

  it("reports the caller's abort as ABORT_ERR", async () => {
    const ac = new AbortController();
    // Aborted once the request is in flight: when the server has it (and never answers).
    fake.handle(() => ac.abort());
    const p = client().get('/hang', { signal: ac.signal });
    const err = (await p.catch((e: unknown) => e)) as KubeApiError;
    expect(err.networkCode).to.equal('ABORT_ERR');
  });

  it('close() is idempotent and later calls fail with ERR_KDA_CLOSED', async () => {
    const c = client();
    await c.close();
    await c.close();
    const err = await c.get('/x').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(KdaError);
    expect((err as KdaError).code).to.equal('ERR_KDA_CLOSED');
  });

  it('sends the query string', async () => {
    fake.handle((_q, res) => sendJson(res, 200, {}));
    await client().get('/api/v1/namespaces/kube-system/configmaps', {
      query: { fieldSelector: 'metadata.name=x', limit: 5, skip: undefined },
    });
    const q = fake.requests[0]!.query;
    expect(q.get('fieldSelector')).to.equal('metadata.name=x');
    expect(q.get('limit')).to.equal('5');
    expect(q.has('skip')).to.equal(false);
  });
});

describe('cluster/qps-limiter', () => {
  it('lets a burst through, then makes the next caller wait; an abort while waiting rejects', async () => {
    const l = new QpsLimiter(0.001, 2);
    await l.acquire();
    await l.acquire();
    const ac = new AbortController();
    let settled = false;
    const third = l.acquire(ac.signal).finally(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).to.equal(false);
    ac.abort(new Error('gave up'));
    const err = await third.catch((e: unknown) => e);
    expect((err as Error).message).to.equal('gave up');
  });

  it('refills with time (injected clock)', async () => {
    let now = 0;
    const l = new QpsLimiter(10, 1, () => now);
    await l.acquire();
    now += 100; // one token at 10 qps
    let settled = false;
    await l.acquire().then(() => (settled = true));
    expect(settled).to.equal(true);
  });
});
