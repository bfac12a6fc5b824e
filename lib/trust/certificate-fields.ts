// Go's x509.ParseCertificate over a certificate's DER, for every field the library reads (issue 10 finding 3): the
// certificate walk, the public-key checks and the public API. The DER reader is lib/trust/der-reader.ts, the time
// rules asn1-time.ts, the extension rules certificate-extensions.ts; each rule sits next to the Go error text it
// reproduces.
import type { X509Certificate } from 'node:crypto';
import { readTime } from './asn1-time.js';
import { BoundedMemo } from '../util/bounded-memo.js';
import { OID_CN, OID_O, OID_UID, processExtension, type Builder } from './certificate-extensions.js';
import {
  Malformed,
  Reader,
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  bitStringValue,
  booleanValue,
  decodeOid,
  integerValue,
  isMinimalInteger,
  parseName,
  readOid,
  readTlv,
  smallInteger,
  type Tlv,
} from './der-reader.js';

/**
 * The certificate fields Go exposes and node:crypto does not (or only as escaped text): the raw subject attributes
 * (Go's pkix.Name), key identifiers, basicConstraints, keyUsage, EKU and the validity times — read from the DER with
 * the rules of Go's `x509.ParseCertificate` (golang.org/x/crypto/cryptobyte underneath).
 *
 * OpenSSL, which parsed the certificate for node:crypto and for the TLS handshake, is far more lenient than Go: it
 * accepts negative serial numbers, validity times that are not times, non-canonical lengths, booleans that are
 * neither 0x00 nor 0xff, strings of the wrong character set, duplicate extensions. Go's TLS stack refuses the
 * handshake for any certificate `ParseCertificate` rejects, so such a certificate never authenticates anyone in
 * Kubernetes. Here the parse never throws: a certificate Go would reject carries the reason in `malformed` (Go's
 * error text), and the chain verifier refuses it before looking at anything else.
 */
export interface CertificateFields {
  /** Go `Subject.CommonName`: the last CN attribute, '' when none. */
  readonly commonName: string;
  /** Go `Subject.Organization`: every O attribute in certificate order. */
  readonly organizations: readonly string[];
  /** Values of subject attribute 1.3.6.1.4.1.57683.2 (Kubernetes user UID, 1.33+); non-strings become null. */
  readonly uids: readonly (string | null)[];
  /** Go `Issuer.CommonName`, '' when none (for logs). */
  readonly issuerCommonName: string;
  readonly subjectKeyId: Buffer;
  readonly authorityKeyId: Buffer;
  /** Decimal serial number, as Go's `%d` of `SerialNumber` ('' when it cannot be read). */
  readonly serialDecimal: string;
  /** DER of the subject and issuer Names; Go links a chain by comparing these bytes. */
  readonly rawSubject: Buffer;
  readonly rawIssuer: Buffer;
  /** 1, 2 or 3. */
  readonly version: number;
  /** basicConstraints present (Go `BasicConstraintsValid`). */
  readonly basicConstraintsValid: boolean;
  readonly isCA: boolean;
  /** pathLenConstraint, -1 when absent (Go `MaxPathLen`). */
  readonly maxPathLen: number;
  /** keyUsage bits 0-8 as Go numbers them (digitalSignature = 1, keyCertSign = 32); 0 when absent. */
  readonly keyUsage: number;
  /** Extended key usage OIDs in certificate order ([] when the extension is absent or empty). */
  readonly extKeyUsage: readonly string[];
  /** A critical extension Go does not handle is present (Go's Verify: `x509: unhandled critical extension`). */
  readonly unhandledCriticalExtension: boolean;
  /** A nameConstraints extension is present (Go enforces it on issuers; see verifyClientChain). */
  readonly nameConstraints: boolean;
  /** policyConstraints, policyMappings or inhibitAnyPolicy is present (Go 1.24+ validates policies; not here). */
  readonly policyConstraints: boolean;
  /** The subjectAltName extension holds a DNS name, e-mail address, IP address or URI (what constraints apply to). */
  readonly hasSubjectAltNames: boolean;
  /** ms since epoch (whole seconds: Go's time layouts have no fraction); NaN when unreadable. */
  readonly notBefore: number;
  readonly notAfter: number;
  /**
   * Why Go's `x509.ParseCertificate` rejects this certificate, in Go's words (e.g. `x509: negative serial number`,
   * `x509: malformed UTCTime`); undefined when it parses. A malformed certificate must never verify.
   */
  readonly malformed: string | undefined;
}

const OID_RSA = '1.2.840.113549.1.1.1';
const OID_EC = '1.2.840.10045.2.1';
const OID_ED25519 = '1.3.101.112';
/** Named curves Go's x509 supports, with their coordinate size in octets. */
const curveSizes: Readonly<Record<string, number>> = {
  '1.3.132.0.33': 28, // P-224
  '1.2.840.10045.3.1.7': 32, // P-256
  '1.3.132.0.34': 48, // P-384
  '1.3.132.0.35': 66, // P-521
};

/**
 * Go's parsePublicKey for the algorithms it knows (an unknown algorithm parses, with no key): RSA needs NULL
 * parameters and a positive modulus and exponent in minimal INTEGERs; EC a supported named curve and an uncompressed
 * point of the right size (the point being on the curve is left to node:crypto, which refuses such keys); Ed25519 no
 * parameters and 32 octets.
 */
function checkPublicKey(algorithm: Reader, key: Buffer, bitLength: number): void {
  const id = readOid(algorithm, 'x509: malformed OID');
  const params = algorithm.empty() ? undefined : algorithm.read(undefined, 'x509: malformed parameters');
  const paramBytes = params ? algorithm.buf.subarray(params.pos, params.end) : undefined;
  if (bitLength % 8 !== 0) throw new Malformed('x509: malformed subjectPublicKey');
  if (id === OID_RSA) {
    if (!paramBytes || !paramBytes.equals(Buffer.from([0x05, 0x00]))) {
      throw new Malformed('x509: RSA key missing NULL parameters');
    }
    const keyTlv = readTlv(key, 0, key.length);
    if (!keyTlv || keyTlv.tag !== TAG_SEQUENCE) throw new Malformed('x509: invalid RSA public key');
    const r = Reader.of(key, keyTlv);
    const n = readTlv(key, keyTlv.start, keyTlv.end);
    if (!n || n.tag !== TAG_INTEGER || !isMinimalInteger(key.subarray(n.start, n.end))) {
      throw new Malformed('x509: invalid RSA modulus');
    }
    r.read(TAG_INTEGER, 'x509: invalid RSA modulus');
    const e = r.read(TAG_INTEGER, 'x509: invalid RSA public exponent');
    const exponent = smallInteger(r.bytes(e), 'x509: invalid RSA public exponent');
    if (integerValue(key.subarray(n.start, n.end)) <= 0n)
      throw new Malformed('x509: RSA modulus is not a positive number');
    if (exponent <= 0) throw new Malformed('x509: RSA public exponent is not a positive number');
  } else if (id === OID_EC) {
    const curve = params && params.tag === TAG_OID ? decodeOid(algorithm.bytes(params)) : undefined;
    const size = curve === undefined ? undefined : curveSizes[curve];
    if (size === undefined) throw new Malformed('x509: unsupported elliptic curve');
    if (key.length !== 1 + 2 * size || key[0] !== 0x04) {
      throw new Malformed('x509: failed to unmarshal elliptic curve point');
    }
  } else if (id === OID_ED25519) {
    if (params) throw new Malformed('x509: Ed25519 key encoded with illegal parameters');
    if (key.length !== 32) throw new Malformed('x509: wrong Ed25519 public key size');
  }
}

/** Go's parseAI: an OID and optional parameters. */
function readAlgorithm(r: Reader, message: string): Tlv {
  const seq = r.read(TAG_SEQUENCE, message);
  const ai = Reader.of(r.buf, seq);
  readOid(ai, 'x509: malformed OID');
  if (!ai.empty()) ai.read(undefined, 'x509: malformed parameters');
  return seq;
}

/** Go's parseCertificate over the DER, filling `b`; throws {@link Malformed} with Go's error text. */
function walk(der: Buffer, b: Builder): void {
  const top = new Reader(der, 0, der.length);
  const certTlv = top.read(TAG_SEQUENCE, 'x509: malformed certificate');
  if (!top.empty()) throw new Malformed('x509: trailing data');
  const cert = Reader.of(der, certTlv);
  const tbsTlv = cert.read(TAG_SEQUENCE, 'x509: malformed tbs certificate');
  const tbs = Reader.of(der, tbsTlv);

  const versionTlv = tbs.optional(0xa0, 'x509: malformed version');
  let version = 0;
  if (versionTlv) {
    const inner = Reader.of(der, versionTlv);
    version = smallInteger(inner.bytes(inner.read(TAG_INTEGER, 'x509: malformed version')), 'x509: malformed version');
  }
  if (version < 0) throw new Malformed('x509: malformed version');
  if (version + 1 > 3) throw new Malformed('x509: invalid version');
  b.version = version + 1;

  const serial = tbs.bytes(tbs.read(TAG_INTEGER, 'x509: malformed serial number'));
  if (!isMinimalInteger(serial)) throw new Malformed('x509: malformed serial number');
  const serialValue = integerValue(serial);
  b.serialDecimal = serialValue.toString(10);
  // Go 1.23+ (GODEBUG x509negativeserial=0, the default): negative serials are rejected. Keep reading for the logs.
  if (serialValue < 0n) b.softProblem ??= 'x509: negative serial number';

  const innerAlgorithm = readAlgorithm(tbs, 'x509: malformed signature algorithm identifier');
  const outerAlgorithm = readAlgorithm(cert, 'x509: malformed algorithm identifier');
  if (
    !der.subarray(innerAlgorithm.pos, innerAlgorithm.end).equals(der.subarray(outerAlgorithm.pos, outerAlgorithm.end))
  ) {
    throw new Malformed("x509: inner and outer signature algorithm identifiers don't match");
  }

  const issuer = tbs.read(TAG_SEQUENCE, 'x509: malformed issuer');
  b.rawIssuer = Buffer.from(der.subarray(issuer.pos, issuer.end));
  for (const a of parseName(der, issuer)) if (a.oid === OID_CN) b.issuerCommonName = a.value;

  const validity = Reader.of(der, tbs.read(TAG_SEQUENCE, 'x509: malformed validity'));
  b.notBefore = readTime(validity);
  b.notAfter = readTime(validity);

  const subject = tbs.read(TAG_SEQUENCE, 'x509: malformed subject');
  b.rawSubject = Buffer.from(der.subarray(subject.pos, subject.end));
  for (const a of parseName(der, subject)) {
    if (a.oid === OID_CN) b.commonName = a.value;
    else if (a.oid === OID_O) b.organizations.push(a.value);
    else if (a.oid === OID_UID) b.uids.push(a.value);
  }

  const spki = Reader.of(der, tbs.read(TAG_SEQUENCE, 'x509: malformed spki'));
  const keyAlgorithm = Reader.of(der, readAlgorithm(spki, 'x509: malformed public key algorithm identifier'));
  const publicKey = bitStringValue(
    spki.bytes(spki.read(TAG_BIT_STRING, 'x509: malformed subjectPublicKey')),
    'x509: malformed subjectPublicKey',
  );
  checkPublicKey(keyAlgorithm, publicKey.bits, publicKey.bitLength);

  if (b.version > 1) extensions(der, tbs, b);
  bitStringValue(cert.bytes(cert.read(TAG_BIT_STRING, 'x509: malformed signature')), 'x509: malformed signature');
}

/** Unique IDs (skipped) and, on v3 certificates only, the extensions: Go ignores a v1/v2 certificate's [3]. */
function extensions(der: Buffer, tbs: Reader, b: Builder): void {
  tbs.optional(0x81, 'x509: malformed issuerUniqueID');
  tbs.optional(0x82, 'x509: malformed subjectUniqueID');
  if (b.version !== 3) return;
  const extensionsTlv = tbs.optional(0xa3, 'x509: malformed extensions');
  if (!extensionsTlv) return;
  const list = Reader.of(der, Reader.of(der, extensionsTlv).read(TAG_SEQUENCE, 'x509: malformed extensions'));
  const seen = new Set<string>();
  while (!list.empty()) {
    const ext = Reader.of(der, list.read(TAG_SEQUENCE, 'x509: malformed extension'));
    const oid = readOid(ext, 'x509: malformed extension OID field');
    const criticalTlv = ext.optional(TAG_BOOLEAN, 'x509: malformed extension critical field');
    const critical = criticalTlv
      ? booleanValue(ext.bytes(criticalTlv), 'x509: malformed extension critical field')
      : false;
    const value = ext.read(TAG_OCTET_STRING, 'x509: malformed extension value field');
    if (seen.has(oid)) throw new Malformed(`x509: certificate contains duplicate extension with OID "${oid}"`);
    seen.add(oid);
    const handled = processExtension(b, oid, critical, Reader.of(der, value));
    if (critical && !handled) b.unhandledCriticalExtension = true;
  }
}

const cache = new WeakMap<X509Certificate, CertificateFields>();
/**
 * Also by DER: each TLS connection yields a new X509Certificate for the same certificate. Any client may present any
 * certificate (it is parsed before it is verified), so the memo is bounded in bytes too: 4 MiB holds the 1024-entry
 * bound's worth of real 1–2 KB client certificates, and no more than that of crafted ~100 KB ones.
 */
const byDer = new BoundedMemo<string, CertificateFields>(1024, 4 * 1024 * 1024);

/** Parsed once per certificate (object, then DER) and memoized. Never throws: see {@link CertificateFields.malformed}. */
export function certificateFields(cert: X509Certificate): CertificateFields {
  let f = cache.get(cert);
  if (!f) {
    const der = cert.raw.toString('latin1');
    f = byDer.get(der);
    if (!f) {
      f = parseCertificateFields(cert);
      byDer.set(der, f, der.length);
    }
    cache.set(cert, f);
  }
  return f;
}

/** What the DER memo of {@link certificateFields} holds now: for specs of its bounds, not a public API. */
export function certificateFieldsMemoSize(): { readonly entries: number; readonly derBytes: number } {
  return { entries: byDer.size, derBytes: byDer.bytes };
}

/** {@link certificateFields} without the cache, from a certificate or its DER. */
export function parseCertificateFields(cert: X509Certificate | Buffer): CertificateFields {
  const b: Builder = {
    commonName: '',
    organizations: [],
    uids: [],
    issuerCommonName: '',
    subjectKeyId: Buffer.alloc(0),
    authorityKeyId: Buffer.alloc(0),
    serialDecimal: '',
    rawSubject: Buffer.alloc(0),
    rawIssuer: Buffer.alloc(0),
    version: 1,
    basicConstraintsValid: false,
    isCA: false,
    maxPathLen: -1,
    keyUsage: 0,
    extKeyUsage: [],
    unhandledCriticalExtension: false,
    nameConstraints: false,
    policyConstraints: false,
    hasSubjectAltNames: false,
    notBefore: NaN,
    notAfter: NaN,
    softProblem: undefined,
  };
  let thrown: string | undefined;
  try {
    walk(Buffer.isBuffer(cert) ? cert : cert.raw, b);
  } catch (err) {
    // Anything unexpected is a malformed certificate too: this parse must never throw on the request path.
    thrown = err instanceof Malformed ? err.message : `x509: malformed certificate (${(err as Error)?.message})`;
  }
  // Go stops at the first problem; the negative serial comes before anything the walk went on to read.
  const malformed = b.softProblem ?? thrown;
  if (malformed !== undefined) {
    // Fail closed whatever a caller forgets to check: no validity window, not a CA, no usage.
    b.notBefore = NaN;
    b.notAfter = NaN;
    b.isCA = false;
    b.basicConstraintsValid = false;
    b.keyUsage = 0;
  }
  if (b.basicConstraintsValid && !b.isCA) b.maxPathLen = -1;
  return {
    commonName: b.commonName,
    organizations: b.organizations,
    uids: b.uids,
    issuerCommonName: b.issuerCommonName,
    subjectKeyId: b.subjectKeyId,
    authorityKeyId: b.authorityKeyId,
    serialDecimal: b.serialDecimal,
    rawSubject: b.rawSubject,
    rawIssuer: b.rawIssuer,
    version: b.version,
    basicConstraintsValid: b.basicConstraintsValid,
    isCA: b.isCA,
    maxPathLen: b.maxPathLen,
    keyUsage: b.keyUsage,
    extKeyUsage: b.extKeyUsage,
    unhandledCriticalExtension: b.unhandledCriticalExtension,
    nameConstraints: b.nameConstraints,
    policyConstraints: b.policyConstraints,
    hasSubjectAltNames: b.hasSubjectAltNames,
    notBefore: b.notBefore,
    notAfter: b.notAfter,
    malformed,
  };
}

/** Go's sliceToHex: upper-case hex bytes joined by ':'. */
export function keyIdHex(b: Buffer): string {
  return [...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

/** `SN=<decimal>, SKID=<hex>, AKID=<hex>`, as k8s.io/apiserver's certificateIdentifier. */
export function certificateIdentifier(cert: X509Certificate): string {
  const f = certificateFields(cert);
  return `SN=${f.serialDecimal}, SKID=${keyIdHex(f.subjectKeyId)}, AKID=${keyIdHex(f.authorityKeyId)}`;
}

/** The issuer's CN for logs; node:crypto's issuer text when the DER names none. Never throws. */
export function issuerCommonName(cert: X509Certificate): string {
  const cn = certificateFields(cert).issuerCommonName;
  if (cn !== '') return cn;
  try {
    return typeof cert.issuer === 'string' ? cert.issuer : '';
  } catch {
    return '';
  }
}
