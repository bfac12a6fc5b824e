import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createCertificate } from '../../lib/dev-pki/certificates.js';
import { fileCertKeyPair, staticCertKeyPair } from '../../lib/trust/serving-cert.js';
import { testPki } from '../support/pki.js';

describe('trust/serving-cert (Go DynamicCertKeyPairContent)', () => {
  const pki = testPki();
  // A certificate with its own key, so it does not match the shared test key.
  const other = createCertificate({ commonName: 'other-serving', issuer: pki.servingCA.issued });
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kda-serving-cert-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('staticCertKeyPair validates the pair at construction', () => {
    expect(staticCertKeyPair(pki.serving.certPem, pki.serving.keyPem).current()!.version).to.equal(1);
    expect(() => staticCertKeyPair(other.certPem, pki.serving.keyPem)).to.throw();
  });

  it('reads cert and key together; a half-written rotation (mismatched key) keeps serving the last good pair', async () => {
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, pki.serving.certPem);
    writeFileSync(keyFile, pki.serving.keyPem);
    const p = fileCertKeyPair(certFile, keyFile);
    expect(p.name).to.equal(`serving-cert::${certFile}::${keyFile}`);
    let notified = 0;
    p.addListener(() => notified++);
    await p.runOnce();
    expect(new X509Certificate(p.current()!.cert).subject).to.equal(pki.serving.x509.subject);

    writeFileSync(certFile, other.certPem); // the key has not been written yet
    await p.runOnce();
    expect([new X509Certificate(p.current()!.cert).subject, p.current()!.version, notified]).to.deep.equal([
      pki.serving.x509.subject,
      1,
      1,
    ]);
    expect(p.health.lastError, 'the refused pair shows in health').to.be.a('string');

    writeFileSync(keyFile, other.keyPem); // now the pair matches
    await p.runOnce();
    expect([p.current()!.cert, p.current()!.version, notified]).to.deep.equal([other.certPem, 2, 2]);
    expect(p.health.lastError).to.equal(undefined);
    await p.close();
  });

  it('runOnce() rejects with the read error while nothing good was loaded', async () => {
    const p = fileCertKeyPair(join(dir, 'no.crt'), join(dir, 'no.key'));
    const err = await p.runOnce().catch((e: unknown) => e);
    expect(err).to.have.property('code', 'ENOENT');
    expect(p.current()).to.equal(undefined);
    await p.close();
  });
});
