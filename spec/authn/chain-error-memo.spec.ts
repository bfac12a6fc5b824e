// The refusal errors of the certificate authenticators (lib/authn/x509.ts `chainError`) are built once per cached
// verdict: on a keep-alive connection whose certificate the front-proxy verifier refuses (every client-certificate
// user meets it before the x509 authenticator), each request used to build the same KdaError again. The memo must
// never hand one connection's or one CA's error to another, and the error must say what it said before.
import { expect } from 'chai';
import { secureRequestHeaderAuthenticator } from '../../lib/authn/request-header.js';
import { x509Authenticator } from '../../lib/authn/x509.js';
import type { AuthenticationResult } from '../../lib/authn/interfaces.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { fakeRequest } from '../support/authn-request.js';
import { testPki } from '../support/pki.js';

const errorOf = (r: AuthenticationResult) => (r.ok ? undefined : r.error);

describe('chainError(): one error per cached verdict', () => {
  const pki = testPki();
  const frontProxyCA = staticCABundle(pki.frontProxyCA.certPem, 'request-header::test');
  const otherNameCA = staticCABundle(pki.frontProxyCA.certPem, 'request-header::other');
  const configProvider = staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] });
  const requestHeader = secureRequestHeaderAuthenticator({ caProvider: frontProxyCA, configProvider });

  it('the same connection gets the same error for a refused client-CA user; the content is the refusal', async () => {
    const connection = {};
    const first = errorOf(await requestHeader.authenticateRequest(fakeRequest([], [pki.alice.x509], connection)));
    const again = errorOf(await requestHeader.authenticateRequest(fakeRequest([], [pki.alice.x509], connection)));
    expect(first).to.be.instanceOf(Error);
    expect(again).to.equal(first);
    expect(first!.code).to.equal('ERR_KDA_CERT_UNTRUSTED');
    expect(first!.message).to.match(/unknown authority/);
    expect(first!.details).to.deep.include({
      authenticator: 'requestheader',
      subjectCN: 'alice',
      caName: 'request-header::test',
    });
  });

  it('another connection, another CA name, another authenticator or another certificate: its own error', async () => {
    const a = {};
    const b = {};
    const onA = errorOf(await requestHeader.authenticateRequest(fakeRequest([], [pki.alice.x509], a)));
    const onB = errorOf(await requestHeader.authenticateRequest(fakeRequest([], [pki.alice.x509], b)));
    expect(onB).to.not.equal(onA);
    expect(onB!.message).to.equal(onA!.message);

    const other = secureRequestHeaderAuthenticator({ caProvider: otherNameCA, configProvider });
    const named = errorOf(await other.authenticateRequest(fakeRequest([], [pki.alice.x509], a)));
    expect(named!.details.caName).to.equal('request-header::other');

    const x509 = x509Authenticator({ caProvider: staticCABundle(pki.otherCA.certPem, 'client-ca::test') });
    const byX509 = errorOf(await x509.authenticateRequest(fakeRequest([], [pki.alice.x509], a)));
    expect(byX509!.details.authenticator).to.equal('x509');
    expect(byX509!.message).to.match(/^verifying certificate SN=.* failed: /);

    const c = {};
    const noCN = errorOf(await requestHeader.authenticateRequest(fakeRequest([], [pki.clientNoCN.x509], c)));
    const alice = errorOf(await requestHeader.authenticateRequest(fakeRequest([], [pki.alice.x509], c)));
    expect(noCN!.details.subjectCN).to.equal('');
    expect(alice!.details.subjectCN).to.equal('alice');
  });
});
