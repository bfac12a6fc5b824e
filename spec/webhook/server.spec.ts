import { expect } from 'chai';
import { Agent } from 'undici';
import type { IdentityMappingStatus } from '../../lib/mapping/identity-mapping.js';
import { WebhookServer } from '../../lib/webhook/server.js';
import { tokenReviewWebhook } from '../../lib/webhook/token-review-webhook.js';
import { testPki } from '../support/pki.js';
import { post, type Served } from './helpers.js';

describe('webhook/WebhookServer', () => {
  let status: IdentityMappingStatus = {
    source: 'memory',
    loaded: false,
    version: 0,
    digest: '',
    rules: 0,
    errorCount: 1,
    lastError: 'boom',
  };
  let server: WebhookServer;
  let served: Served;
  before(async () => {
    const pki = testPki();
    server = new WebhookServer({
      cert: pki.serving.certPem,
      key: pki.serving.keyPem,
      tokenReview: tokenReviewWebhook({ verify: async () => ({ authenticated: false }) }),
      mapping: { status: () => status },
    });
    const { port } = await server.listen(0);
    const agent = new Agent({ connect: { ca: pki.servingCA.certPem } });
    served = { url: `https://127.0.0.1:${port}`, agent, server: undefined as never, close: () => agent.close() };
  });
  after(async () => {
    await served.close();
    await server.close();
  });

  it('/readyz is 503 with the mapping error until a mapping is loaded, then 200', async () => {
    const notReady = await post(served, undefined, { path: '/readyz', method: 'GET' });
    expect(notReady.status).to.equal(503);
    expect(notReady.json).to.deep.include({ ready: false });
    expect((notReady.json as { mapping: IdentityMappingStatus }).mapping.lastError).to.equal('boom');
    status = { ...status, loaded: true, version: 1 };
    expect((await post(served, undefined, { path: '/readyz', method: 'GET' })).status).to.equal(200);
  });

  it('/authorize without a SubjectAccessReview handler is 404', async () => {
    const res = await post(served, {}, { path: '/authorize' });
    expect(res.status).to.equal(404);
    expect(res.json).to.include({ kind: 'Status', reason: 'NotFound' });
  });

  it('/authenticate ignores the query string', async () => {
    const res = await post(
      served,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'x' } },
      { path: '/authenticate?timeout=10s' },
    );
    expect(res.status).to.equal(200);
  });

  it('close() is idempotent and stops listening', async () => {
    const pki = testPki();
    const s = new WebhookServer({ cert: pki.serving.certPem, key: pki.serving.keyPem });
    await s.listen(0);
    expect(s.server.listening).to.equal(true);
    await Promise.all([s.close(), s.close()]);
    expect(s.server.listening).to.equal(false);
  });

  it('requires cert and key', () => {
    expect(() => new WebhookServer({} as never)).to.throw(TypeError, /cert/);
  });
});
