import { X509Certificate } from 'node:crypto';
import {
  createCertificate,
  generateKeyPair,
  type CertificateSpec,
  type IssuedCertificate,
  type KeyPairPem,
} from '../../lib/dev-pki/index.js';

/** A certificate with its key and the PEM a client sends (leaf + any intermediates). */
export interface TestCert {
  readonly certPem: string;
  readonly keyPem: string;
  /** certPem followed by the intermediates' PEM: what a TLS client should present. */
  readonly chainPem: string;
  readonly x509: X509Certificate;
  readonly issued: IssuedCertificate;
}

export interface TestPki {
  /** The key pair every leaf and intermediate shares (issue more variants with it in specs). */
  readonly sharedKey: KeyPairPem;
  readonly frontProxyCA: TestCert;
  readonly clientCA: TestCert;
  readonly otherCA: TestCert;
  readonly servingCA: TestCert;
  readonly serving: TestCert;
  /** Front-proxy CA → CN=front-proxy-client, clientAuth. */
  readonly proxy: TestCert;
  /** Front-proxy CA → CN=not-the-proxy. */
  readonly proxyOtherCN: TestCert;
  /** Front-proxy CA → CN=Front-Proxy-Client (case differs). */
  readonly proxyUpperCN: TestCert;
  readonly proxyExpired: TestCert;
  readonly proxyNotYetValid: TestCert;
  readonly proxyServerAuthOnly: TestCert;
  readonly proxyNoEku: TestCert;
  /** Front-proxy CA → CA intermediate → CN=front-proxy-client; chainPem includes the intermediate. */
  readonly proxyViaIntermediate: TestCert;
  readonly frontProxyIntermediate: TestCert;
  /** Front-proxy CA → CA:FALSE "intermediate" → CN=front-proxy-client; chainPem includes it. */
  readonly proxyViaCaFalse: TestCert;
  /** Front-proxy CA → expired CA intermediate → CN=front-proxy-client; chainPem includes it. */
  readonly proxyViaExpiredIntermediate: TestCert;
  /** Other CA → CN=front-proxy-client. */
  readonly proxyFromOtherCA: TestCert;
  /** Client CA → CN=alice, O=developers, O=system:masters. */
  readonly alice: TestCert;
  /** Client CA → CN=front-proxy-client (must not be trusted as the front proxy). */
  readonly clientProxyCN: TestCert;
  /** Client CA → no CN, O=ghosts. */
  readonly clientNoCN: TestCert;
}

const hour = 60 * 60 * 1000;
const day = 24 * hour;

let cached: TestPki | undefined;

/** A fresh RSA PKI, generated once per test run (~1-2 s); leaves and intermediates share one key for speed. */
export function testPki(): TestPki {
  cached ??= generate();
  return cached;
}

function generate(): TestPki {
  const shared = generateKeyPair();
  const wrap = (issued: IssuedCertificate, intermediates: readonly TestCert[] = []): TestCert => ({
    certPem: issued.certPem,
    keyPem: issued.keyPem,
    chainPem: issued.certPem + intermediates.map((i) => i.certPem).join(''),
    x509: new X509Certificate(issued.certPem),
    issued,
  });
  const ca = (commonName: string, keyPair = generateKeyPair(), extra: Partial<CertificateSpec> = {}) =>
    wrap(createCertificate({ commonName, isCA: true, keyPair, ...extra }));
  const leaf = (issuer: TestCert, spec: Partial<CertificateSpec> & { commonName: string }, via: TestCert[] = []) =>
    wrap(createCertificate({ keyPair: shared, issuer: issuer.issued, ...spec }), via);

  const frontProxyCA = ca('test-front-proxy-ca');
  const clientCA = ca('test-client-ca');
  const otherCA = ca('test-other-ca');
  const servingCA = ca('test-serving-ca', shared);
  const now = Date.now();

  const frontProxyIntermediate = wrap(
    createCertificate({
      commonName: 'test-front-proxy-intermediate',
      isCA: true,
      keyPair: shared,
      issuer: frontProxyCA.issued,
    }),
  );
  const caFalse = wrap(
    createCertificate({
      commonName: 'test-ca-false-intermediate',
      isCA: false,
      keyPair: shared,
      issuer: frontProxyCA.issued,
    }),
  );
  const expiredIntermediate = wrap(
    createCertificate({
      commonName: 'test-expired-intermediate',
      isCA: true,
      keyPair: shared,
      issuer: frontProxyCA.issued,
      notBefore: new Date(now - 400 * day),
      notAfter: new Date(now - day),
    }),
  );

  return {
    sharedKey: shared,
    frontProxyCA,
    clientCA,
    otherCA,
    servingCA,
    serving: leaf(servingCA, {
      commonName: 'localhost',
      extKeyUsage: ['serverAuth'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    }),
    proxy: leaf(frontProxyCA, { commonName: 'front-proxy-client' }),
    proxyOtherCN: leaf(frontProxyCA, { commonName: 'not-the-proxy' }),
    proxyUpperCN: leaf(frontProxyCA, { commonName: 'Front-Proxy-Client' }),
    proxyExpired: leaf(frontProxyCA, {
      commonName: 'front-proxy-client',
      notBefore: new Date(now - 30 * day),
      notAfter: new Date(now - day),
    }),
    proxyNotYetValid: leaf(frontProxyCA, {
      commonName: 'front-proxy-client',
      notBefore: new Date(now + day),
      notAfter: new Date(now + 30 * day),
    }),
    proxyServerAuthOnly: leaf(frontProxyCA, { commonName: 'front-proxy-client', extKeyUsage: ['serverAuth'] }),
    proxyNoEku: leaf(frontProxyCA, { commonName: 'front-proxy-client', extKeyUsage: [] }),
    frontProxyIntermediate,
    proxyViaIntermediate: leaf(frontProxyIntermediate, { commonName: 'front-proxy-client' }, [frontProxyIntermediate]),
    proxyViaCaFalse: leaf(caFalse, { commonName: 'front-proxy-client' }, [caFalse]),
    proxyViaExpiredIntermediate: leaf(expiredIntermediate, { commonName: 'front-proxy-client' }, [expiredIntermediate]),
    proxyFromOtherCA: leaf(otherCA, { commonName: 'front-proxy-client' }),
    alice: leaf(clientCA, { commonName: 'alice', organizations: ['developers', 'system:masters'] }),
    clientProxyCN: leaf(clientCA, { commonName: 'front-proxy-client' }),
    clientNoCN: leaf(clientCA, { commonName: '', organizations: ['ghosts'] }),
  };
}

/** Wraps an issued certificate (plus intermediates it should be sent with) as a {@link TestCert}. */
export function testCert(issued: IssuedCertificate, intermediates: readonly TestCert[] = []): TestCert {
  return {
    certPem: issued.certPem,
    keyPem: issued.keyPem,
    chainPem: issued.certPem + intermediates.map((i) => i.certPem).join(''),
    x509: new X509Certificate(issued.certPem),
    issued,
  };
}
