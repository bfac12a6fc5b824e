import { expect } from 'chai';
import { KdaError } from '../../lib/errors.js';
import { parsePemBundle } from '../../lib/trust/pem.js';
import { testPki } from '../support/pki.js';

describe('parsePemBundle', () => {
  const pki = testPki();

  it('parses every CERTIFICATE block in order and normalises the PEM', () => {
    const text = `comment line\n${pki.frontProxyCA.certPem}\n\n${pki.clientCA.certPem}trailing`;
    const b = parsePemBundle(text, 'bundle.crt');
    expect(b.certificates.map((c) => c.subject)).to.deep.equal(['CN=test-front-proxy-ca', 'CN=test-client-ca']);
    expect(b.pem).to.not.include('\r');
    expect(b.pem).to.not.include('comment');
    expect(b.pem.match(/-----BEGIN CERTIFICATE-----\n/g)).to.have.length(2);
    expect(parsePemBundle(b.pem).certificates.map((c) => c.fingerprint256)).to.deep.equal(
      b.certificates.map((c) => c.fingerprint256),
    );
  });

  it('skips non-certificate blocks (e.g. a private key in the same file)', () => {
    const b = parsePemBundle(Buffer.from(pki.proxy.keyPem + pki.frontProxyCA.certPem));
    expect(b.certificates).to.have.length(1);
  });

  const bad: readonly { name: string; text: string; match: RegExp }[] = [
    { name: 'empty input', text: '', match: /invalid CA bundle ca\.crt: data does not contain any valid/ },
    { name: 'only a key', text: pki.proxy.keyPem, match: /does not contain any valid RSA or ECDSA certificates/ },
    {
      name: 'second block is not base64',
      text: pki.frontProxyCA.certPem + '-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n',
      match: /ca\.crt: certificate block 2 is not valid base64/,
    },
    {
      name: 'block that is base64 but not a certificate',
      text: '-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n',
      match: /ca\.crt: certificate block 1 cannot be parsed/,
    },
    {
      name: 'mismatched BEGIN and END',
      text: '-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END PRIVATE KEY-----\n',
      match: /block 1 begins with "CERTIFICATE" but ends with "PRIVATE KEY"/,
    },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}, naming the bundle and block`, () => {
      let err: unknown;
      try {
        parsePemBundle(c.text, 'ca.crt');
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(KdaError);
      expect((err as KdaError).code).to.equal('ERR_KDA_TRUST_UNAVAILABLE');
      expect((err as KdaError).message).to.match(c.match);
      expect((err as KdaError).details.caName).to.equal('ca.crt');
    });
  }
});
