import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { InvalidOptionError } from '../errors.js';

const { pki, md, asn1 } = forge;

/** An RSA key pair in PEM (PKCS#1 private key, which node:tls accepts). */
export interface KeyPairPem {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

/** A certificate with its key, in PEM and as node-forge objects (for issuing further certificates). */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
}

export type ExtKeyUsage = 'clientAuth' | 'serverAuth';

export interface CertificateSpec {
  readonly commonName: string;
  /** Subject O values, in order (Kubernetes groups for client certificates). */
  readonly organizations?: readonly string[];
  /** basicConstraints CA:TRUE; default false. `false` on a would-be issuer produces a CA:FALSE certificate. */
  readonly isCA?: boolean;
  /** Omit basicConstraints entirely (for negative tests). */
  readonly omitBasicConstraints?: boolean;
  readonly pathLen?: number;
  /** EKU extension. Default: none for CAs, `['clientAuth']` for leaves. `[]` = no EKU extension at all. */
  readonly extKeyUsage?: readonly ExtKeyUsage[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Default: one hour ago (tolerates clock skew). */
  readonly notBefore?: Date;
  /** Default: one year after notBefore (ten years for CAs). */
  readonly notAfter?: Date;
  /** Issuer; absent = self-signed. */
  readonly issuer?: IssuedCertificate;
  /** Reuse a key pair (RSA generation costs ~100 ms). */
  readonly keyPair?: KeyPairPem;
}

/** Generates an RSA-2048 key pair with node:crypto (fast native path). */
export function generateKeyPair(bits = 2048): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function serialNumber(): string {
  // Positive 16-byte serial, as hex, as RFC 5280 recommends.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}

/**
 * PrintableString's alphabet (X.680): what Go's encoder writes as PrintableString. Go's parser refuses anything else
 * in a PrintableString (`x509: invalid RDNSequence: invalid attribute value: invalid PrintableString`), e.g. the `@`
 * of `host-ca@1700000000`, `_`, `*` or any non-ASCII letter.
 */
export const printableStringAlphabet = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A subject attribute encoded as Go encodes it: PrintableString when the alphabet allows, else UTF8String. */
function nameAttribute(shortName: string, value: string): forge.pki.CertificateField {
  const valueTagClass = printableStringAlphabet.test(value) ? asn1.Type.PRINTABLESTRING : asn1.Type.UTF8;
  return { shortName, value, valueTagClass } as unknown as forge.pki.CertificateField;
}

/** What Go's x509 parser would refuse in the SANs: a dNSName must be an IA5String (ASCII), an IP must parse. */
function sanProblems(spec: CertificateSpec): string[] {
  const problems: string[] = [];
  for (const name of spec.dnsNames ?? []) {
    if (name === '' || !/^[\x21-\x7e]+$/.test(name)) {
      problems.push(`DNS name ${JSON.stringify(name)} must be non-empty printable ASCII (an IA5String SAN)`);
    }
  }
  for (const ip of spec.ipAddresses ?? []) {
    if (isIP(ip) === 0) problems.push(`IP address ${JSON.stringify(ip)} is not an IPv4 or IPv6 address`);
  }
  return problems;
}

/**
 * Creates a certificate signed by `spec.issuer` (or self-signed). RSA, SHA-256. Everything it writes parses with Go's
 * `x509.ParseCertificate` (kube-apiserver's aggregator refuses the serving certificate otherwise): subject values
 * outside PrintableString's alphabet are UTF8String, the serial is positive and 16 bytes, validity is UTCTime before
 * 2050. Throws `InvalidOptionError` for a SAN Go would refuse.
 */
export function createCertificate(spec: CertificateSpec): IssuedCertificate {
  const problems = sanProblems(spec);
  if (problems.length > 0) throw new InvalidOptionError(problems);
  const keys = spec.keyPair ?? generateKeyPair();
  const key = pki.privateKeyFromPem(keys.privateKeyPem) as forge.pki.rsa.PrivateKey;
  const publicKey = pki.publicKeyFromPem(keys.publicKeyPem);
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  const notBefore = spec.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const years = spec.isCA ? 10 : 1;
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + years * 365 * 24 * 60 * 60 * 1000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;

  const subject: forge.pki.CertificateField[] = [nameAttribute('CN', spec.commonName)];
  for (const o of spec.organizations ?? []) subject.push(nameAttribute('O', o));
  cert.setSubject(subject);
  cert.setIssuer(spec.issuer ? spec.issuer.cert.subject.attributes : subject);

  const extensions: object[] = [];
  if (!spec.omitBasicConstraints) {
    const bc: Record<string, unknown> = { name: 'basicConstraints', cA: spec.isCA ?? false, critical: true };
    if (spec.isCA && spec.pathLen !== undefined) bc.pathLenConstraint = spec.pathLen;
    extensions.push(bc);
  }
  extensions.push(
    spec.isCA
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
  );
  const eku = spec.extKeyUsage ?? (spec.isCA ? [] : ['clientAuth']);
  if (eku.length > 0) {
    const ext: Record<string, unknown> = { name: 'extKeyUsage' };
    for (const u of eku) ext[u] = true;
    extensions.push(ext);
  }
  const altNames: object[] = [
    ...(spec.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(spec.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  extensions.push({ name: 'subjectKeyIdentifier' });
  if (spec.issuer) {
    extensions.push({
      name: 'authorityKeyIdentifier',
      keyIdentifier: spec.issuer.cert.generateSubjectKeyIdentifier().getBytes(),
    });
  }
  cert.setExtensions(extensions);
  cert.sign(spec.issuer ? spec.issuer.key : key, md.sha256.create());

  return { certPem: pki.certificateToPem(cert), keyPem: keys.privateKeyPem, cert, key };
}
