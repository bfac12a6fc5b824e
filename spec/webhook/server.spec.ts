import { expect } from 'chai';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import { createCertificate } from '../../lib/dev-pki/certificates.js';
import type { CertKeyPair } from '../../lib/trust/interfaces.js';
import { MutableProvider } from '../../lib/trust/mutable-provider.js';
import type { IdentityMappingStatus } from '../../lib/mapping/identity-mapping.js';
import { WebhookServer } from '../../lib/webhook/server.js';
import { tokenReviewWebhook } from '../../lib/webhook/token-review-webhook.js';
import { testPki } from '../support/pki.js';
import { post, recordingLogger, type Served } from './helpers.js';

describe('webhook/WebhookServer', () => {
  let status: IdentityMappingStatus = {
    source: '/etc/kda/mapping.yaml',
    loaded: false,
    version: 0,
    digest: '',
    rules: 0,
    errorCount: 1,
    lastError: 'boom',
  };
  let server: WebhookServer;
  let served: Served;
  const logger = recordingLogger();
  before(async () => {
    const pki = testPki();
    server = new WebhookServer({
      cert: pki.serving.certPem,
      key: pki.serving.keyPem,
      tokenReview: tokenReviewWebhook({ verify: async () => ({ authenticated: false }) }),
      mapping: { status: () => status },
      logger,
    });
    const { port } = await server.listen(0);
    const agent = new Agent({ connect: { ca: pki.servingCA.certPem } });
    served = { url: `https://127.0.0.1:${port}`, agent, server: undefined as never, close: () => agent.close() };
  });
  after(async () => {
    await served.close();
    await server.close();
  });

  it('/readyz is 503 naming the failed check (the error and source only in the log) until a mapping is loaded, then 200', async () => {
    const notReady = await post(served, undefined, { path: '/readyz', method: 'GET' });
    expect(notReady.status).to.equal(503);
    expect(notReady.json).to.deep.equal({ ready: false, checks: { 'identity-mapping': 'failed' } });
    expect(notReady.text).not.to.match(/boom|\/etc\/kda/);
    const logged = logger.lines.find((l) => /readyz check failed/.test(l.msg));
    expect([logged?.fields.lastError, logged?.fields.source]).to.deep.equal(['boom', '/etc/kda/mapping.yaml']);
    status = { ...status, loaded: true, version: 1 };
    const ready = await post(served, undefined, { path: '/readyz', method: 'GET' });
    expect([ready.status, ready.json]).to.deep.equal([200, { ready: true, checks: { 'identity-mapping': 'ok' } }]);
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

  it('is a router on createSecureServer: a servingCert provider rotates without a restart; listen() once', async () => {
    const pki = testPki();
    const other = createCertificate({
      commonName: 'webhook-2',
      issuer: pki.servingCA.issued,
      extKeyUsage: ['serverAuth'],
      ipAddresses: ['127.0.0.1'],
    });
    const servingCert = new MutableProvider<CertKeyPair>('webhook-serving');
    servingCert.set({ cert: pki.serving.certPem, key: pki.serving.keyPem, version: 1 });
    const s = new WebhookServer({ servingCert });
    expect(() => s.server, 'no server before listen()').to.throw(/not listening/);
    const { port } = await s.listen(0);
    const agent = new Agent({ connect: { ca: pki.servingCA.certPem } });
    const res = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: agent });
    expect(await res.body.text()).to.equal('ok');
    await agent.close();
    expect(await servedSubject(port, pki.servingCA.certPem)).to.equal(pki.serving.x509.subject);
    servingCert.set({ cert: other.certPem, key: other.keyPem, version: 2 });
    expect(await servedSubject(port, pki.servingCA.certPem)).to.equal('CN=webhook-2');
    const again = await s.listen(0).catch((e: unknown) => e);
    expect(again).to.have.property('code', 'ERR_KDA_CLOSED');
    await s.close();
  });

  it('requires cert and key', () => {
    expect(() => new WebhookServer({} as never)).to.throw(TypeError, /cert/);
  });
});

/** The subject of the certificate a fresh TLS connection is served (verified against `ca`). */
function servedSubject(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined }, () => {
      const subject = socket.getPeerX509Certificate()?.subject ?? '';
      socket.destroy();
      resolve(subject);
    });
    socket.on('error', reject);
  });
}
