import { expect } from 'chai';
import { createHash, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { credentialIdExtraKey, x509Authenticator } from '../../lib/authn/x509.js';
import type { CABundleProvider } from '../../lib/trust/interfaces.js';
import { staticCABundle } from '../../lib/trust/static.js';
import { fakeRequest } from '../support/authn-request.js';
import { testPki, type TestCert } from '../support/pki.js';

const day = 24 * 60 * 60 * 1000;

/** A client-CA certificate with arbitrary subject attributes (for the UID OID), signed with node-forge. */
function withSubject(
  issuer: TestCert,
  sharedPublicKeyPem: string,
  attrs: forge.pki.CertificateField[],
): X509Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(sharedPublicKeyPem);
  cert.serialNumber = '0a1b2c';
  cert.validity.notBefore = new Date(Date.now() - day);
  cert.validity.notAfter = new Date(Date.now() + day);
  cert.setSubject(attrs);
  cert.setIssuer(issuer.issued.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  cert.sign(issuer.issued.key, forge.md.sha256.create());
  return new X509Certificate(forge.pki.certificateToPem(cert));
}

describe('x509Authenticator (client-ca, Go CommonNameUserConversion)', () => {
  const pki = testPki();
  const ca = staticCABundle(pki.clientCA.certPem, 'client-ca::test');
  const auth = (caProvider: CABundleProvider = ca, clock?: () => number) => x509Authenticator({ caProvider, clock });
  const uidOid = '1.3.6.1.4.1.57683.2';
  const utf8 = forge.asn1.Type.UTF8;

  it('CN becomes the name, every O a group, the certificate hash the credential id', async () => {
    const r = await auth().authenticateRequest(fakeRequest([], [pki.alice.x509]));
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.authenticator).to.equal('x509');
    expect(r.user).to.deep.equal({
      name: 'alice',
      uid: '',
      groups: ['developers', 'system:masters'],
      extra: {
        [credentialIdExtraKey]: [`X509SHA256=${createHash('sha256').update(pki.alice.x509.raw).digest('hex')}`],
      },
    });
    expect(r.consumedHeaders).to.deep.equal([]);
  });

  it("the credential id, remembered per certificate object, stays each certificate's own on every request", async () => {
    const hash = (c: { raw: Buffer }) => `X509SHA256=${createHash('sha256').update(c.raw).digest('hex')}`;
    const other = pki.clientProxyCN.x509;
    for (let i = 0; i < 3; i++) {
      for (const cert of [pki.alice.x509, other]) {
        const r = await auth().authenticateRequest(fakeRequest([], [cert]));
        expect(r.ok && r.user.extra[credentialIdExtraKey]).to.deep.equal([hash(cert)]);
      }
    }
    expect(hash(pki.alice.x509)).to.not.equal(hash(other));
  });

  it('empty CN: no opinion (no error)', async () => {
    expect(await auth().authenticateRequest(fakeRequest([], [pki.clientNoCN.x509]))).to.deep.equal({ ok: false });
  });

  it('no client certificate or no CA yet: no opinion', async () => {
    expect(await auth().authenticateRequest(fakeRequest())).to.deep.equal({ ok: false });
    const pending: CABundleProvider = { name: 'p', current: () => undefined, addListener: () => () => {} };
    expect(await auth(pending).authenticateRequest(fakeRequest([], [pki.alice.x509]))).to.deep.equal({ ok: false });
  });

  it('unverifiable: `verifying certificate SN=<decimal>, SKID=<hex>, AKID=<hex> failed: <x509 error>`', async () => {
    const leaf = pki.proxy; // front-proxy CA, not the client CA
    const r = await auth().authenticateRequest(fakeRequest([], [leaf.x509]));
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    const sn = BigInt('0x' + leaf.issued.cert.serialNumber).toString(10);
    const hex = (h: string) => h.toUpperCase().match(/../g)!.join(':');
    const skid = hex(leaf.issued.cert.generateSubjectKeyIdentifier().toHex());
    const akid = hex(pki.frontProxyCA.issued.cert.generateSubjectKeyIdentifier().toHex());
    expect(r.error!.message).to.equal(
      `verifying certificate SN=${sn}, SKID=${skid}, AKID=${akid} failed: x509: certificate signed by unknown authority`,
    );
    expect(r.error!.details).to.deep.include({
      authenticator: 'x509',
      check: 'chain',
      subjectCN: 'front-proxy-client',
      issuer: 'test-front-proxy-ca',
      caName: 'client-ca::test',
    });
  });

  it('expired cert (Go CurrentTime moved forward)', async () => {
    const r = await auth(ca, () => Date.now() + 2 * 365 * day).authenticateRequest(fakeRequest([], [pki.alice.x509]));
    expect(!r.ok && r.error!.message).to.match(
      /failed: x509: certificate has expired or is not yet valid: current time .* is after /,
    );
    expect(!r.ok && r.error!.details.check).to.equal('validity');
  });

  it('future cert (Go CurrentTime moved back)', async () => {
    const r = await auth(ca, () => Date.now() - 2 * day).authenticateRequest(fakeRequest([], [pki.alice.x509]));
    expect(!r.ok && r.error!.message).to.match(/is before /);
  });

  describe('UID from subject attribute 1.3.6.1.4.1.57683.2 (1.33+)', () => {
    const make = (uids: string[]) =>
      withSubject(pki.clientCA, pki.sharedKey.publicKeyPem, [
        { shortName: 'CN', value: 'carol' },
        ...uids.map((value) => ({ type: uidOid, value, valueTagClass: utf8 }) as unknown as forge.pki.CertificateField),
      ]);
    const cases: readonly { name: string; uids: string[]; expectUid?: string; expectError?: string }[] = [
      { name: 'one uid', uids: ['uid-123'], expectUid: 'uid-123' },
      { name: 'multiple uids', uids: ['a', 'b'], expectError: 'expected 1 UID, but found multiple: [a b]' },
      { name: 'empty uid', uids: [''], expectError: 'UID cannot be an empty string' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const r = await auth().authenticateRequest(fakeRequest([], [make(c.uids)]));
        if (c.expectUid !== undefined) expect(r.ok && r.user.uid).to.equal(c.expectUid);
        else expect(!r.ok && r.error!.message).to.equal(c.expectError);
      });
    }
  });
});
