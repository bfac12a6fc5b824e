// The memo of certificateFields() (lib/trust/certificate-fields.ts): each TLS connection yields a new X509Certificate
// object for the same client certificate, so the fields are also remembered by the certificate's DER bytes — the
// same bytes give the same answer without parsing again, different bytes never share an answer, and the memo is
// bounded whatever a client sends.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { createCertificate } from '../../lib/dev-pki/certificates.js';
import {
  certificateFields,
  certificateFieldsMemoSize,
  parseCertificateFields,
} from '../../lib/trust/certificate-fields.js';
import { testPki } from '../support/pki.js';

describe('certificateFields() memo by DER', () => {
  it('answers a new X509Certificate object of known bytes with the fields already parsed', () => {
    const { proxy } = testPki();
    const first = certificateFields(new X509Certificate(proxy.certPem));
    const again = certificateFields(new X509Certificate(proxy.certPem));
    expect(again).to.equal(first);
    expect(again).to.deep.equal(parseCertificateFields(proxy.x509.raw));
    expect(again.commonName).to.equal('front-proxy-client');
  });

  it('never shares fields between different certificates, even with the same subject', () => {
    const { proxy, proxyFromOtherCA, proxyExpired } = testPki();
    const a = certificateFields(new X509Certificate(proxy.certPem));
    const b = certificateFields(new X509Certificate(proxyFromOtherCA.certPem));
    const c = certificateFields(new X509Certificate(proxyExpired.certPem));
    expect(b.commonName).to.equal(a.commonName);
    expect(b).to.not.equal(a);
    expect(b.rawIssuer.equals(a.rawIssuer)).to.equal(false);
    expect(c.notAfter).to.be.below(Date.now());
    expect(a.notAfter).to.be.above(Date.now());
  });

  it('stays correct after more distinct certificates than the memo holds pushed the first one out', () => {
    const { proxy, alice, clientCA } = testPki();
    const original = certificateFields(new X509Certificate(proxy.certPem));
    // 1100 distinct DER byte strings (> the 1024 bound): the same certificates with one serial byte changed each.
    for (let i = 0; i < 1100; i++) {
      const der = Buffer.from(alice.x509.raw);
      const serialAt = der.indexOf(Buffer.from(alice.x509.serialNumber.slice(-4), 'hex'));
      der.writeUInt16BE(i, serialAt);
      const f = certificateFields(new X509Certificate(der));
      expect(f.commonName).to.equal('alice');
    }
    const after = certificateFields(new X509Certificate(proxy.certPem));
    expect(after).to.deep.equal(original);
    expect(certificateFields(new X509Certificate(clientCA.certPem)).isCA).to.equal(true);
  });

  it('is bounded in bytes too: 200 crafted 40 KB certificates leave at most 4 MiB of DER in the memo', () => {
    // A client may present any certificate; one with 1600 SANs is ~40 KB (a real client certificate is 1–2 KB).
    const big = createCertificate({
      commonName: 'bloated',
      dnsNames: Array.from({ length: 1600 }, (_, i) => `name-${String(i).padStart(4, '0')}.bloated.example.com`),
    });
    const raw = new X509Certificate(big.certPem).raw;
    expect(raw.length).to.be.above(40_000);
    const serialAt = raw.indexOf(Buffer.from(new X509Certificate(big.certPem).serialNumber.slice(-4), 'hex'));
    for (let i = 0; i < 200; i++) {
      const der = Buffer.from(raw);
      der.writeUInt16BE(i, serialAt);
      expect(certificateFields(new X509Certificate(der))).to.include({
        commonName: 'bloated',
        hasSubjectAltNames: true,
      });
      const size = certificateFieldsMemoSize();
      expect(size.derBytes, `after ${i + 1} certificates`).to.be.at.most(4 * 1024 * 1024);
      expect(size.entries).to.be.at.most(1024);
    }
    // Full, not merely bounded: the budget is used, and each entry is still answered correctly.
    expect(certificateFieldsMemoSize().derBytes).to.be.above(4 * 1024 * 1024 - raw.length);
    const { proxy } = testPki();
    expect(certificateFields(new X509Certificate(proxy.certPem)).commonName).to.equal('front-proxy-client');
  });
});
