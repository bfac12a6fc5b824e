// The refusal log line (lib/http/pipeline logAuthenticationRefusal) through every public adapter over real TLS: the
// primary cause leads in every top-level field (msg, check, code, error); the errors of the authenticators tried
// after it (the client-CA fallback) appear only in `causes` (issue 10, finding 11).
import { expect } from 'chai';
import { request, type Agent } from 'undici';
import { authorizerFunc, Decision } from '../../lib/authz/interfaces.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import { testPki } from '../support/pki.js';
import { clientAgent, type TestTlsServer } from '../support/tls-server.js';
import { publicAdapters, testTrustOptions } from '../support/adapters.js';
import { recordingLogger } from '../support/recording-logger.js';

const path = '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders';

describe('refusal log: the primary cause leads every top-level field (public adapters, real TLS)', function () {
  this.timeout(20_000);
  const pki = testPki();
  const agents: Agent[] = [];
  const agent = (cert: Parameters<typeof clientAgent>[0]) => {
    const a = clientAgent(cert);
    agents.push(a);
    return a;
  };
  after(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
  });

  for (const adapter of publicAdapters) {
    describe(adapter.name, () => {
      const logger = recordingLogger();
      let server: TestTlsServer;
      before(async () => {
        server = await adapter.start({
          ...testTrustOptions('test'),
          authorizer: authorizerFunc(async () => ({ decision: Decision.Allow, reason: '' })),
          logger,
        });
      });
      after(async () => {
        await server?.close();
      });

      const refused = async (cert: Parameters<typeof clientAgent>[0], headers: Record<string, string> = {}) => {
        logger.lines.length = 0;
        const res = await request(`${server.url}${path}`, { dispatcher: agent(cert), headers });
        expect(res.statusCode).to.equal(401);
        expect(await res.body.text()).to.equal(unauthorizedBody);
        const warns = logger.lines.filter((e) => e.level === 'warn');
        expect(warns, JSON.stringify(logger.lines)).to.have.length(1);
        return warns[0]!;
      };

      it('front-proxy certificate without X-Remote-User: check, code, error and msg are the missing username; the client-CA error only in causes', async () => {
        const line = await refused(pki.proxy);
        const declinedMessage = 'front-proxy certificate verified, but no username header has a non-empty first value';
        expect(line.fields).to.deep.include({
          authenticator: 'requestheader',
          check: 'username-header',
          code: 'ERR_KDA_BAD_HEADER',
          error: declinedMessage,
          subjectCN: 'front-proxy-client',
          caName: 'request-header::test',
          header: 'x-remote-user',
          method: 'GET',
          path,
        });
        expect(line.msg.startsWith(`request refused: ${declinedMessage}`), line.msg).to.equal(true);
        const top = JSON.stringify({ ...line.fields, causes: undefined, declined: undefined });
        expect(top).to.not.contain('unknown authority');
        expect(top).to.not.contain('ERR_KDA_CERT_UNTRUSTED');
        const causes = line.fields.causes as { authenticator?: string; check?: string; message?: string }[];
        expect(causes).to.have.length(1);
        expect(causes[0]).to.deep.include({ authenticator: 'x509', check: 'chain' });
        expect(causes[0]!.message).to.match(/failed: x509: certificate signed by unknown authority$/);
      });

      it('front-proxy certificate whose CN is not allowed: the allowed-names error leads, the client-CA error only in causes', async () => {
        const line = await refused(pki.proxyOtherCN, { 'X-Remote-User': 'alice' });
        expect(line.fields).to.deep.include({
          authenticator: 'requestheader',
          check: 'allowed-names',
          code: 'ERR_KDA_CN_NOT_ALLOWED',
          error: 'x509: subject with cn=not-the-proxy is not in the allowed list',
          subjectCN: 'not-the-proxy',
        });
        expect(line.msg.startsWith('request refused: [x509: subject with cn=not-the-proxy'), line.msg).to.equal(true);
        const causes = line.fields.causes as { authenticator?: string; message?: string }[];
        expect(causes.map((c) => c.authenticator)).to.deep.equal(['requestheader', 'x509']);
        expect(causes[1]!.message).to.match(/unknown authority$/);
      });

      it('a client certificate from an unknown CA: the only cause leads (x509 chain, unknown authority)', async () => {
        const line = await refused(pki.proxyFromOtherCA, { 'X-Remote-User': 'alice' });
        expect(line.fields).to.deep.include({ authenticator: 'requestheader', check: 'chain' });
        expect(line.fields.code).to.equal('ERR_KDA_CERT_UNTRUSTED');
        expect(line.fields.error).to.equal('x509: certificate signed by unknown authority');
      });
    });
  }
});
