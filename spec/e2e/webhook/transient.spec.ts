import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { startControlPlane, type ControlPlane } from '../../../harness/control-plane.js';
import type { HttpResponse } from '../../../lib/http/status.js';
import { WebhookServer } from '../../../lib/webhook/server.js';
import { TransientError, tokenReviewWebhook, type ReviewWebhook } from '../../../lib/webhook/token-review-webhook.js';
import { eventually, recordingLogger } from '../../webhook/helpers.js';
import { webhookFailureLine, writeWebhookKubeconfig, writeWebhookPki } from './support.js';

/**
 * How kube-apiserver 1.20 treats each of our error answers, and why a "no" must be a 200: the same control plane
 * talks to our library handler, except for one token answered 401 the way the buggy webhooks do (in-process fake).
 */
describe('e2e webhook: kube-apiserver retry semantics of our TokenReview answers', function () {
  this.timeout(180_000);
  let dir: string;
  let server: WebhookServer;
  let cp: ControlPlane;
  let agent: Agent;
  const calls = new Map<string, number>();
  const logger = recordingLogger();

  const library = tokenReviewWebhook({
    logger,
    verify: async (token) => {
      const n = (calls.get(token) ?? 0) + 1;
      calls.set(token, n);
      if (token === 't-flaky-503' && n === 1) throw new TransientError(1, 'identity provider warming up');
      if (token === 't-flaky-429' && n === 1) throw new TransientError(1, 'slow down', { statusCode: 429 });
      if (token === 't-bug') throw new Error('verify crashed');
      if (token.startsWith('t-'))
        return { authenticated: true, user: { username: token.slice(2), groups: ['system:masters'] } };
      return { authenticated: false, error: 'unknown token' };
    },
  });

  /** Answers "no" for one token with HTTP 401, like rancher/kube-api-auth before the fix (in-process fake). */
  const withLegacy401: ReviewWebhook = {
    async handle(req: IncomingMessage): Promise<HttpResponse> {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      if ((JSON.parse(body.toString()) as { spec?: { token?: string } }).spec?.token === 'legacy-401') {
        calls.set('legacy-401', (calls.get('legacy-401') ?? 0) + 1);
        return {
          status: 401,
          headers: { 'content-type': 'application/json' },
          body: '{"kind":"Status","apiVersion":"v1","status":"Failure","code":401}',
        };
      }
      const replay = Object.assign(Readable.from([body]), {
        method: req.method,
        headers: req.headers,
        socket: req.socket,
      });
      return library.handle(replay as unknown as IncomingMessage);
    },
  };

  before(async function () {
    this.timeout(240_000);
    dir = mkdtempSync(join(tmpdir(), 'kda-e2e-webhook-retry-'));
    const pki = writeWebhookPki(dir);
    server = new WebhookServer({
      cert: pki.servingCertPem,
      key: pki.servingKeyPem,
      clientCa: readFileSync(pki.clientCaFile),
      tokenReview: withLegacy401,
      logger,
    });
    const { port } = await server.listen(0);
    const authn = writeWebhookKubeconfig(join(dir, 'authn.kubeconfig'), `https://127.0.0.1:${port}/authenticate`, pki);
    cp = await startControlPlane({
      extraApiServerFlags: [
        `--authentication-token-webhook-config-file=${authn}`,
        '--authentication-token-webhook-cache-ttl=0s',
      ],
    });
    agent = new Agent({ connect: { ca: cp.pki.ca.certPem } });
  });

  after(async function () {
    this.timeout(60_000);
    await agent?.close();
    await cp?.stop();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const get = async (token: string) => {
    const res = await request(`${cp.apiServerUrl}/api/v1/namespaces`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: agent,
    });
    await res.body.dump();
    return res.statusCode;
  };
  const kasLog = () => readFileSync(cp.apiServerLogPath, 'utf8');

  const transient = [
    { name: '503 with Retry-After: kube-apiserver waits, retries and the request succeeds', token: 't-flaky-503' },
    { name: '429 with Retry-After: kube-apiserver waits, retries and the request succeeds', token: 't-flaky-429' },
  ];
  for (const c of transient) {
    it(c.name, async () => {
      expect(await get(c.token)).to.equal(200);
      expect(calls.get(c.token)).to.equal(2);
      expect(kasLog()).not.to.include(webhookFailureLine);
    });
  }

  it('a "no" (200 authenticated:false) is one call, a 401 to the client, and no webhook failure', async () => {
    expect(await get('nobody')).to.equal(401);
    expect(calls.get('nobody')).to.equal(1);
    await eventually(() => kasLog().includes('unknown token'), 'the refusal reason in the kube-apiserver log');
    expect(kasLog()).not.to.include(webhookFailureLine);
  });

  it('a throwing verify (500) is retried by kube-apiserver as an outage, then 401; never authenticated', async () => {
    expect(await get('t-bug')).to.equal(401);
    expect(calls.get('t-bug')).to.be.greaterThan(1);
    await eventually(() => kasLog().includes(webhookFailureLine), 'the webhook failure line');
  });

  it('a webhook answering "no" with HTTP 401 (in-process fake of the legacy bug) is logged by kube-apiserver as a webhook failure', async () => {
    const before = kasLog().split(webhookFailureLine).length;
    expect(await get('legacy-401')).to.equal(401);
    await eventually(() => kasLog().split(webhookFailureLine).length > before, 'a new webhook failure line');
  });
});
