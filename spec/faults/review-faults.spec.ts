// Review faults a real kube-apiserver cannot produce on demand — slow answers, 429 + Retry-After, 5xx bursts, garbage
// bodies — from an in-process fake apiserver (real HTTPS), seen through the whole path: Koa stack → TokenReview /
// SubjectAccessReview authenticators and authorizer → lib/cluster REST client → the fake. Every refusal is a 401/403
// /500 with Go's body, the retry counts are Go's (5 calls), and a failed review never lets a request through.
import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import Koa from 'koa';
import { request, type Agent } from 'undici';
import type { UserInfo } from '../../lib/authn/interfaces.js';
import { SubjectAccessReviewAuthorizer } from '../../lib/authz/subject-access-review.js';
import { delegatedTokenAuthenticator } from '../../lib/cluster/index.js';
import { RestClient } from '../../lib/cluster/rest-client.js';
import { subjectAccessReviewClient, tokenReviewClient } from '../../lib/cluster/review-clients.js';
import { internalError, unauthorizedBody } from '../../lib/http/status.js';
import { authenticate } from '../../lib/koa/authenticate.js';
import { authorize } from '../../lib/koa/authorize.js';
import { requestInfo } from '../../lib/koa/request-info.js';
import {
  sendJson,
  startFakeApiserver,
  status,
  type FakeApiserver,
  type RecordedRequest,
} from '../cluster/fake-apiserver.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';

const uri = '/apis/wardle.example.com/v1alpha1/namespaces/ns/flunders/f';
const tokenPath = '/apis/authentication.k8s.io/v1/tokenreviews';
const sarPath = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

type Reply = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

const tokenOk: Reply = (req, res) => {
  const token = (req.body as { spec: { token: string } }).spec.token;
  sendJson(res, 201, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    status: { authenticated: true, user: { username: `user-${token}`, groups: ['devs'] } },
  });
};
const sarAllowed: Reply = (_req, res) =>
  sendJson(res, 201, { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', status: { allowed: true } });

describe('faults: TokenReview / SubjectAccessReview through the full stack (in-process fake apiserver)', function () {
  this.timeout(20_000);
  let fake: FakeApiserver;
  let rest: RestClient;
  let server: TestTlsServer;
  let agent: Agent;
  let authorizer: SubjectAccessReviewAuthorizer;
  let onToken: Reply = tokenOk;
  let onSar: Reply = sarAllowed;
  const seen: UserInfo[] = [];
  let tokenSeq = 0;

  const calls = (p: string) => fake.requests.filter((r) => r.path === p).length;
  const get = async (token: string) => {
    const res = await request(`${server.url}${uri}`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
  };
  /** A token nobody used before, so neither the token cache nor the SAR cache answers. */
  const fresh = () => `t${++tokenSeq}`;

  before(async () => {
    fake = await startFakeApiserver((req, res) => (req.path === tokenPath ? onToken(req, res) : onSar(req, res)));
    rest = new RestClient({ connection: fake.connection(), qps: 0, timeout: 2_000 });
    const fastRetries = { initialDelay: 5, factor: 1.5, jitter: 0, steps: 5 };
    authorizer = new SubjectAccessReviewAuthorizer({
      client: subjectAccessReviewClient(rest),
      clientTimeout: 300,
      retryBackoff: fastRetries,
    });
    const app = new Koa();
    app.use(requestInfo());
    app.use(
      authenticate({
        tokenAuthenticator: delegatedTokenAuthenticator(tokenReviewClient(rest), {
          tokenRequestTimeout: 300,
          retryBackoff: fastRetries,
        }),
      }),
    );
    app.use(authorize({ authorizer }));
    app.use((ctx) => {
      seen.push((ctx.state as { user: UserInfo }).user);
      ctx.body = 'ok';
    });
    server = await startTlsServer(app.callback());
    agent = clientAgent();
  });
  afterEach(() => {
    onToken = tokenOk;
    onSar = sarAllowed;
  });
  after(async () => {
    await agent?.close();
    await server?.close();
    await authorizer?.close();
    await rest?.close();
    await fake?.close();
  });

  it('baseline: token reviewed, SAR allowed → 200 as the token user', async () => {
    const t = fresh();
    const r = await get(t);
    expect(r.status).to.equal(200);
    expect(seen.at(-1)!.name).to.equal(`user-${t}`);
  });

  describe('SubjectAccessReview', () => {
    it('5xx burst shorter than the retry budget (4 × 500, then allowed) → 200 after exactly 5 calls', async () => {
      let n = 0;
      onSar = (req, res) => {
        if (++n <= 4) sendJson(res, 500, status(500, 'InternalError', 'etcd is on fire'));
        else void sarAllowed(req, res);
      };
      const before = calls(sarPath);
      const r = await get(fresh());
      expect(r.status).to.equal(200);
      expect(calls(sarPath) - before).to.equal(5);
    });

    it("5xx for longer than the retry budget → 500 with Go's body after exactly 5 calls, handler not reached", async () => {
      onSar = (_req, res) => sendJson(res, 500, status(500, 'InternalError', 'etcd is on fire'));
      const before = calls(sarPath);
      const seenBefore = seen.length;
      const r = await get(fresh());
      expect(r.status).to.equal(500);
      expect(r.headers['content-type']).to.equal('text/plain; charset=utf-8');
      expect(r.body).to.equal(internalError(uri, 'etcd is on fire').body);
      expect(calls(sarPath) - before).to.equal(5);
      expect(seen.length).to.equal(seenBefore);
    });

    it('503 with Retry-After then allowed → 200 after 2 calls (Retry-After makes it retryable, as SuggestsClientDelay)', async () => {
      let n = 0;
      onSar = (req, res) => {
        if (++n === 1) sendJson(res, 503, status(503, 'ServiceUnavailable', 'try later'), { 'retry-after': '1' });
        else void sarAllowed(req, res);
      };
      const before = calls(sarPath);
      const r = await get(fresh());
      expect(r.status).to.equal(200);
      expect(calls(sarPath) - before).to.equal(2);
    });

    it('503 without Retry-After is not retried (Go DefaultShouldRetry) → 500 after exactly 1 call', async () => {
      onSar = (_req, res) => sendJson(res, 503, status(503, 'ServiceUnavailable', 'try later'));
      const before = calls(sarPath);
      const r = await get(fresh());
      expect(r.status).to.equal(500);
      expect(r.body).to.equal(internalError(uri, 'try later').body);
      expect(calls(sarPath) - before).to.equal(1);
    });

    it('429 + Retry-After then allowed → 200 after 2 calls', async () => {
      let n = 0;
      onSar = (req, res) => {
        if (++n === 1) sendJson(res, 429, status(429, 'TooManyRequests', 'slow down'), { 'retry-after': '1' });
        else void sarAllowed(req, res);
      };
      const before = calls(sarPath);
      const r = await get(fresh());
      expect(r.status).to.equal(200);
      expect(calls(sarPath) - before).to.equal(2);
    });

    it('429 for longer than the retry budget → 500 after exactly 5 calls', async function () {
      this.timeout(30_000);
      onSar = (_req, res) => sendJson(res, 429, status(429, 'TooManyRequests', 'slow down'));
      const before = calls(sarPath);
      const r = await get(fresh());
      expect(r.status).to.equal(500);
      expect(r.body).to.equal(internalError(uri, 'slow down').body);
      expect(calls(sarPath) - before).to.equal(5);
    });

    it('a SAR answer slower than clientTimeout → 500 (timed out, not retried), handler not reached', async () => {
      const pending: ServerResponse[] = [];
      onSar = (_req, res) => {
        pending.push(res); // never answered until the test ends
      };
      const before = calls(sarPath);
      const seenBefore = seen.length;
      const r = await get(fresh());
      for (const res of pending) res.destroy();
      expect(r.status).to.equal(500);
      expect(r.body).to.equal(internalError(uri, 'subjectaccessreviews call timed out after 300ms').body);
      expect(calls(sarPath) - before).to.equal(1);
      expect(seen.length).to.equal(seenBefore);
    });

    it('a garbage (non-JSON) 201 body → 500, never allowed', async () => {
      onSar = (_req, res) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{"status": {"allowed": tru');
      };
      const seenBefore = seen.length;
      const r = await get(fresh());
      expect(r.status).to.equal(500);
      expect(r.body).to.match(
        /^Internal Server Error: "\/apis\/wardle\.example\.com\/v1alpha1\/namespaces\/ns\/flunders\/f": /,
      );
      expect(seen.length).to.equal(seenBefore);
    });

    it('a JSON body that is not a SubjectAccessReview (allowed as a string) → 403, never allowed', async () => {
      onSar = (_req, res) => sendJson(res, 201, { status: { allowed: 'true', reason: 'looks allowed' } });
      const seenBefore = seen.length;
      const r = await get(fresh());
      expect(r.status).to.equal(403);
      expect(JSON.parse(r.body)).to.include({ kind: 'Status', code: 403, reason: 'Forbidden' });
      expect(seen.length).to.equal(seenBefore);
    });

    it('the connection cut mid-answer (socket destroyed) → retried as a reset, then 200', async () => {
      let n = 0;
      onSar = (req, res) => {
        if (++n === 1) res.socket?.destroy();
        else void sarAllowed(req, res);
      };
      const r = await get(fresh());
      expect(r.status).to.equal(200);
      expect(n).to.equal(2);
    });
  });

  describe('TokenReview', () => {
    it('5xx burst (4 × 500, then authenticated) → 200 after exactly 5 calls', async () => {
      let n = 0;
      onToken = (req, res) => {
        if (++n <= 4) sendJson(res, 500, status(500, 'InternalError', 'boom'));
        else void tokenOk(req, res);
      };
      const before = calls(tokenPath);
      const t = fresh();
      const r = await get(t);
      expect(r.status).to.equal(200);
      expect(seen.at(-1)!.name).to.equal(`user-${t}`);
      expect(calls(tokenPath) - before).to.equal(5);
    });

    it('5xx for longer than the retry budget → 401 (generic body) after exactly 5 calls, never anonymous', async () => {
      onToken = (_req, res) => sendJson(res, 500, status(500, 'InternalError', 'boom'));
      const before = calls(tokenPath);
      const seenBefore = seen.length;
      const r = await get(fresh());
      expect(r.status).to.equal(401);
      expect(r.body).to.equal(unauthorizedBody);
      expect(calls(tokenPath) - before).to.equal(5);
      expect(seen.length).to.equal(seenBefore);
    });

    it('429 + Retry-After then authenticated → 200 after 2 calls', async () => {
      let n = 0;
      onToken = (req, res) => {
        if (++n === 1) sendJson(res, 429, status(429, 'TooManyRequests', 'slow down'), { 'retry-after': '1' });
        else void tokenOk(req, res);
      };
      const before = calls(tokenPath);
      const r = await get(fresh());
      expect(r.status).to.equal(200);
      expect(calls(tokenPath) - before).to.equal(2);
    });

    it('a TokenReview slower than tokenRequestTimeout → 401, and the failure is not cached', async () => {
      const pending: ServerResponse[] = [];
      onToken = (_req, res) => {
        pending.push(res);
      };
      const t = fresh();
      const r = await get(t);
      for (const res of pending) res.destroy();
      expect(r.status).to.equal(401);
      expect(r.body).to.equal(unauthorizedBody);
      onToken = tokenOk;
      const again = await get(t);
      expect(again.status, 'errors are never cached (Go cacheErrs=false)').to.equal(200);
    });

    it('a garbage TokenReview body → 401, never authenticated', async () => {
      onToken = (_req, res) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('<html>proxy error</html>');
      };
      const seenBefore = seen.length;
      const r = await get(fresh());
      expect(r.status).to.equal(401);
      expect(r.body).to.equal(unauthorizedBody);
      expect(seen.length).to.equal(seenBefore);
    });

    it('authenticated:true without a username → user "" + system:authenticated, exactly as Go (no extra check)', async () => {
      onToken = (_req, res) => sendJson(res, 201, { status: { authenticated: true, user: {} } });
      const r = await get(fresh());
      expect(r.status).to.equal(200);
      expect(seen.at(-1)).to.deep.equal({ name: '', uid: '', groups: ['system:authenticated'], extra: {} });
    });
  });
});
