// Over ~350 lines: Go's x509.ParseCertificate rules for every field we read (DER lengths and tags, serial, names,
// times, extensions), kept in one file so each rule sits next to the Go error text it reproduces (issue 10 finding 3).
import type { X509Certificate } from 'node:crypto';

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

/** A DER violation or a value Go refuses: the message is Go's error text. */
class Malformed extends Error {}

interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly pos: number;
  readonly start: number;
  readonly end: number;
}

/**
 * cryptobyte's `readASN1`: low tag numbers only, definite lengths in the fewest octets (long form only from 128, no
 * leading zero octet), at most 4 length octets, inside `limit`. undefined when any rule is broken.
 */
function readTlv(buf: Buffer, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  const lenByte = buf[pos + 1]!;
  let len = lenByte;
  let start = pos + 2;
  if (lenByte & 0x80) {
    const n = lenByte & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    if (len < 128 || buf[start] === 0) return undefined;
    start += n;
  }
  const end = start + len;
  if (end > limit) return undefined;
  return { tag, pos, start, end };
}

/** A cursor over the contents of one constructed value, with cryptobyte's read/peek/optional semantics. */
class Reader {
  readonly buf: Buffer;
  readonly end: number;
  #pos: number;
  constructor(buf: Buffer, start: number, end: number) {
    this.buf = buf;
    this.end = end;
    this.#pos = start;
  }

  static of(buf: Buffer, tlv: Tlv): Reader {
    return new Reader(buf, tlv.start, tlv.end);
  }

  empty(): boolean {
    return this.#pos >= this.end;
  }

  peekTag(): number | undefined {
    return this.empty() ? undefined : this.buf[this.#pos];
  }

  /** Reads the next element, which must have `tag` (any tag when undefined); throws `message` otherwise. */
  read(tag: number | undefined, message: string): Tlv {
    const t = readTlv(this.buf, this.#pos, this.end);
    if (!t || (tag !== undefined && t.tag !== tag)) throw new Malformed(message);
    this.#pos = t.end;
    return t;
  }

  /** Reads the next element if it has `tag`; a present but broken element throws `message`. */
  optional(tag: number, message: string): Tlv | undefined {
    return this.peekTag() === tag ? this.read(tag, message) : undefined;
  }

  bytes(t: Tlv): Buffer {
    return this.buf.subarray(t.start, t.end);
  }
}

const TAG_BOOLEAN = 0x01;
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;

/** cryptobyte's checkASN1Integer: non-empty and minimally encoded. */
function isMinimalInteger(b: Buffer): boolean {
  if (b.length === 0) return false;
  if (b.length === 1) return true;
  return !((b[0] === 0x00 && (b[1]! & 0x80) === 0) || (b[0] === 0xff && (b[1]! & 0x80) === 0x80));
}

/** A two's-complement INTEGER (already checked minimal) as a BigInt. */
function integerValue(b: Buffer): bigint {
  const unsigned = BigInt('0x' + b.toString('hex'));
  return BigInt.asIntN(b.length * 8, unsigned);
}

/** cryptobyte's ReadASN1Integer into an int64: minimal and at most 8 octets. */
function smallInteger(b: Buffer, message: string): number {
  if (!isMinimalInteger(b) || b.length > 8) throw new Malformed(message);
  return Number(integerValue(b));
}

/** cryptobyte's ReadASN1Boolean: exactly one octet, 0x00 or 0xff. */
function booleanValue(b: Buffer, message: string): boolean {
  if (b.length !== 1 || (b[0] !== 0x00 && b[0] !== 0xff)) throw new Malformed(message);
  return b[0] === 0xff;
}

/** cryptobyte's ReadASN1BitString: a valid padding count, and the padding bits zero. Returns the bit octets. */
function bitStringValue(b: Buffer, message: string): { readonly bits: Buffer; readonly bitLength: number } {
  if (b.length === 0) throw new Malformed(message);
  const padding = b[0]!;
  const bits = b.subarray(1);
  if (padding > 7 || (bits.length === 0 && padding !== 0)) throw new Malformed(message);
  if (bits.length > 0 && (bits[bits.length - 1]! & ((1 << padding) - 1)) !== 0) throw new Malformed(message);
  return { bits, bitLength: bits.length * 8 - padding };
}

/**
 * cryptobyte's ReadASN1ObjectIdentifier: non-empty, every arc in the fewest octets (no leading 0x80), at most 31 bits,
 * not truncated. undefined when invalid.
 */
function decodeOid(bytes: Buffer): string | undefined {
  if (bytes.length === 0) return undefined;
  const arcs: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    let v = 0;
    let done = false;
    for (let n = 0; i < bytes.length; n++) {
      if (n === 5 || v >= 1 << 24) return undefined;
      const b = bytes[i++]!;
      if (n === 0 && b === 0x80) return undefined;
      v = v * 128 + (b & 0x7f);
      if (!(b & 0x80)) {
        done = true;
        break;
      }
    }
    if (!done) return undefined;
    arcs.push(v);
  }
  const first = arcs[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

function readOid(r: Reader, message: string): string {
  const oid = decodeOid(r.bytes(r.read(TAG_OID, message)));
  if (oid === undefined) throw new Malformed(message);
  return oid;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Go's isPrintable (PrintableString, plus `*` and `&`, which Go tolerates). */
function isPrintable(b: number): boolean {
  return (
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x27 && b <= 0x29) ||
    (b >= 0x2b && b <= 0x2f) ||
    b === 0x20 ||
    b === 0x3a ||
    b === 0x3d ||
    b === 0x3f ||
    b === 0x2a ||
    b === 0x26
  );
}

/** Go's parseASN1String: the attribute value as a string, or the reason Go rejects it. */
function asn1String(tag: number, bytes: Buffer): string {
  switch (tag) {
    case 0x14: // T61String: Go decodes it as ISO-8859-1
      return bytes.toString('latin1');
    case 0x13: // PrintableString
      for (const b of bytes) if (!isPrintable(b)) throw new Malformed('invalid PrintableString');
      return bytes.toString('latin1');
    case 0x0c: // UTF8String
      try {
        return utf8.decode(bytes);
      } catch {
        throw new Malformed('invalid UTF-8 string');
      }
    case 0x1e: {
      // BMPString, UTF-16BE; Go strips one trailing NUL and refuses surrogates and non-characters.
      if (bytes.length % 2 !== 0) throw new Malformed('invalid BMPString');
      let b = bytes;
      if (b.length >= 2 && b[b.length - 1] === 0 && b[b.length - 2] === 0) b = b.subarray(0, b.length - 2);
      let s = '';
      for (let i = 0; i < b.length; i += 2) {
        const point = b.readUInt16BE(i);
        if (point === 0xfffe || point === 0xffff || (point >= 0xfdd0 && point <= 0xfdef)) {
          throw new Malformed('invalid BMPString');
        }
        if (point >= 0xd800 && point <= 0xdfff) throw new Malformed('invalid BMPString');
        s += String.fromCharCode(point);
      }
      return s;
    }
    case 0x16: // IA5String
      for (const b of bytes) if (b >= 0x80) throw new Malformed('invalid IA5String');
      return bytes.toString('latin1');
    case 0x12: // NumericString
      for (const b of bytes)
        if (!((b >= 0x30 && b <= 0x39) || b === 0x20)) throw new Malformed('invalid NumericString');
      return bytes.toString('latin1');
    default:
      throw new Malformed(`unsupported string type: ${tag}`);
  }
}

interface NameAttribute {
  readonly oid: string;
  readonly value: string;
}

/** Go's parseName: a SEQUENCE of SETs of {OID, string} SEQUENCEs. */
function parseName(buf: Buffer, name: Tlv): NameAttribute[] {
  const out: NameAttribute[] = [];
  const rdns = Reader.of(buf, name);
  while (!rdns.empty()) {
    const set = Reader.of(buf, rdns.read(TAG_SET, 'x509: invalid RDNSequence'));
    while (!set.empty()) {
      const atv = Reader.of(buf, set.read(TAG_SEQUENCE, 'x509: invalid RDNSequence: invalid attribute'));
      const oid = readOid(atv, 'x509: invalid RDNSequence: invalid attribute type');
      const v = atv.read(undefined, 'x509: invalid RDNSequence: failed to read attribute value');
      let value: string;
      try {
        value = asn1String(v.tag, atv.bytes(v));
      } catch (err) {
        throw new Malformed(`x509: invalid RDNSequence: invalid attribute value: ${(err as Error).message}`);
      }
      out.push({ oid, value });
    }
  }
  return out;
}

const digits = (s: string, from: number, n: number): number | undefined => {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) return undefined;
    v = v * 10 + (c - 0x30);
  }
  return v;
};

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** ms since epoch of a UTC calendar time (years 0-9999, unlike Date.UTC, which maps 0-99 to 1900-1999). */
function utcMillis(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime();
}

/**
 * The time zone suffix Go's `Z0700` layout both parses and re-formats identically (cryptobyte re-serialises and
 * compares): `Z`, or `±hhmm` with hh ≤ 24, mm ≤ 59 and a non-zero offset (`+0000` formats back as `Z`). Returns the
 * offset in minutes, or undefined.
 */
function zoneOffset(s: string, at: number): number | undefined {
  if (s.length === at + 1 && s[at] === 'Z') return 0;
  if (s.length !== at + 5 || (s[at] !== '+' && s[at] !== '-')) return undefined;
  const hh = digits(s, at + 1, 2);
  const mm = digits(s, at + 3, 2);
  if (hh === undefined || mm === undefined || hh > 24 || mm > 59 || hh * 60 + mm === 0) return undefined;
  return (s[at] === '-' ? -1 : 1) * (hh * 60 + mm);
}

/** The calendar fields must name a real instant (Go's time.Parse range checks). */
function validClock(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(mo, y) && h <= 23 && mi <= 59 && s <= 59;
}

/**
 * cryptobyte's ReadASN1UTCTime: `YYMMDDhhmmssZ` (or without seconds), a `±hhmm` zone allowed, canonical as Go
 * re-formats it; YY 50-99 are 1950-1999.
 */
export function parseUtcTime(s: string): number | undefined {
  for (const withSeconds of [true, false]) {
    const n = withSeconds ? 12 : 10;
    if (s.length < n + 1) continue;
    const yy = digits(s, 0, 2);
    const mo = digits(s, 2, 2);
    const d = digits(s, 4, 2);
    const h = digits(s, 6, 2);
    const mi = digits(s, 8, 2);
    const sec = withSeconds ? digits(s, 10, 2) : 0;
    const zone = zoneOffset(s, n);
    if ([yy, mo, d, h, mi, sec, zone].includes(undefined)) continue;
    const year = yy! >= 50 ? 1900 + yy! : 2000 + yy!;
    if (!validClock(year, mo!, d!, h!, mi!, sec!)) continue;
    return utcMillis(year, mo!, d!, h!, mi!, sec!) - zone! * 60_000;
  }
  return undefined;
}

/**
 * cryptobyte's ReadASN1GeneralizedTime: `YYYYMMDDhhmmssZ` or with a `±hhmm` zone, canonical as Go re-formats it (Go's
 * layout has no fractional seconds: `20060102150405Z0700`).
 */
export function parseGeneralizedTime(s: string): number | undefined {
  if (s.length < 15) return undefined;
  const y = digits(s, 0, 4);
  const mo = digits(s, 4, 2);
  const d = digits(s, 6, 2);
  const h = digits(s, 8, 2);
  const mi = digits(s, 10, 2);
  const sec = digits(s, 12, 2);
  const zone = zoneOffset(s, 14);
  if ([y, mo, d, h, mi, sec, zone].includes(undefined)) return undefined;
  if (!validClock(y!, mo!, d!, h!, mi!, sec!)) return undefined;
  return utcMillis(y!, mo!, d!, h!, mi!, sec!) - zone! * 60_000;
}

/** Go's parseTime: a UTCTime or a GeneralizedTime, nothing else. */
function readTime(r: Reader): number {
  const tag = r.peekTag();
  if (tag === TAG_UTC_TIME) {
    const t = parseUtcTime(r.bytes(r.read(TAG_UTC_TIME, 'x509: malformed UTCTime')).toString('latin1'));
    if (t === undefined) throw new Malformed('x509: malformed UTCTime');
    return t;
  }
  if (tag === TAG_GENERALIZED_TIME) {
    const raw = r.bytes(r.read(TAG_GENERALIZED_TIME, 'x509: malformed GeneralizedTime')).toString('latin1');
    const t = parseGeneralizedTime(raw);
    if (t === undefined) throw new Malformed('x509: malformed GeneralizedTime');
    return t;
  }
  throw new Malformed('x509: unsupported time format');
}

/** Go's parseAI: an OID and optional parameters. */
function readAlgorithm(r: Reader, message: string): Tlv {
  const seq = r.read(TAG_SEQUENCE, message);
  const ai = Reader.of(r.buf, seq);
  readOid(ai, 'x509: malformed OID');
  if (!ai.empty()) ai.read(undefined, 'x509: malformed parameters');
  return seq;
}

const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';
const OID_UID = '1.3.6.1.4.1.57683.2';
const OID_SKID = '2.5.29.14';
const OID_KU = '2.5.29.15';
const OID_SAN = '2.5.29.17';
const OID_BC = '2.5.29.19';
const OID_NAME_CONSTRAINTS = '2.5.29.30';
const OID_CRL_DP = '2.5.29.31';
const OID_POLICIES = '2.5.29.32';
const OID_POLICY_MAPPINGS = '2.5.29.33';
const OID_POLICY_CONSTRAINTS = '2.5.29.36';
const OID_INHIBIT_ANY_POLICY = '2.5.29.54';
const OID_AKID = '2.5.29.35';
const OID_EKU = '2.5.29.37';
const OID_AIA = '1.3.6.1.5.5.7.1.1';

interface Builder {
  commonName: string;
  organizations: string[];
  uids: (string | null)[];
  issuerCommonName: string;
  subjectKeyId: Buffer;
  authorityKeyId: Buffer;
  serialDecimal: string;
  rawSubject: Buffer;
  rawIssuer: Buffer;
  version: number;
  basicConstraintsValid: boolean;
  isCA: boolean;
  maxPathLen: number;
  keyUsage: number;
  extKeyUsage: string[];
  unhandledCriticalExtension: boolean;
  nameConstraints: boolean;
  policyConstraints: boolean;
  hasSubjectAltNames: boolean;
  notBefore: number;
  notAfter: number;
  /** A reason Go rejects the certificate that did not stop the walk (the negative serial). */
  softProblem: string | undefined;
}

/** Go's domainToReverseLabels: '' is fine; otherwise non-empty labels of printable ASCII, no trailing dot. */
function domainOk(domain: string): boolean {
  if (domain === '') return true;
  if (domain.endsWith('.')) return false;
  for (const label of domain.split('.')) {
    if (label === '') return false;
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (c < 33 || c > 126) return false;
    }
  }
  return true;
}

/**
 * A URI Go's `url.Parse` accepts, approximated from the safe side (anything this refuses Go may accept; nothing
 * it accepts does Go refuse): RFC 3986 characters only, valid %-escapes, a scheme before any ':' in the first
 * segment, and an authority host made of valid domain labels.
 */
function uriOk(uri: string): boolean {
  if (!/^[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]*$/.test(uri)) return false;
  if (/%(?![0-9A-Fa-f]{2})/.test(uri)) return false;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  const rest = scheme ? uri.slice(scheme[0].length) : uri;
  if (!scheme && /^[^/?#]*:/.test(uri)) return false;
  if (!rest.startsWith('//')) return true;
  let host = rest.slice(2).split(/[/?#]/, 1)[0]!;
  host = host.slice(host.lastIndexOf('@') + 1);
  if (host.includes('[') || host.includes(']')) return false;
  host = host.replace(/:[0-9]*$/, '');
  return !host.includes(':') && !host.includes('%') && domainOk(host);
}

/** Go's forEachSAN checks: the names Go decodes must be well-formed. Returns whether any name was decoded. */
function checkSubjectAltNames(r: Reader): boolean {
  const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, 'x509: invalid subject alternative names'));
  let any = false;
  while (!seq.empty()) {
    const name = seq.read(undefined, 'x509: invalid subject alternative name');
    const bytes = seq.bytes(name);
    const ia5 = () => bytes.every((b) => b < 0x80);
    switch (name.tag) {
      case 0x81:
        if (!ia5()) throw new Malformed(`x509: SAN rfc822Name is malformed`);
        any = true;
        break;
      case 0x82:
        if (!ia5()) throw new Malformed(`x509: SAN dNSName is malformed`);
        any = true;
        break;
      case 0x86:
        if (!ia5()) throw new Malformed(`x509: SAN uniformResourceIdentifier is malformed`);
        if (!uriOk(bytes.toString('latin1'))) {
          throw new Malformed(`x509: cannot parse URI ${JSON.stringify(bytes.toString('latin1'))}`);
        }
        any = true;
        break;
      case 0x87:
        if (bytes.length !== 4 && bytes.length !== 16) {
          throw new Malformed(`x509: cannot parse IP address of length ${bytes.length}`);
        }
        any = true;
        break;
      default:
        break;
    }
  }
  return any;
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

/**
 * Go's parseNameConstraintsExtension, structure and value checks (not the DNS label, e-mail and URI grammar):
 * SEQUENCE { [0] permitted, [1] excluded }, at least one non-empty, each subtree a SEQUENCE starting with a
 * GeneralName. Returns whether Go handles every name form in it (others make a critical extension unhandled).
 */
function checkNameConstraints(r: Reader): boolean {
  const message = 'x509: invalid NameConstraints extension';
  const top = Reader.of(r.buf, r.read(TAG_SEQUENCE, message));
  if (!r.empty()) throw new Malformed(message);
  const permitted = top.optional(0xa0, message);
  const excluded = top.optional(0xa1, message);
  if (!top.empty()) throw new Malformed(message);
  const size = (t: Tlv | undefined) => (t ? t.end - t.start : 0);
  if (size(permitted) === 0 && size(excluded) === 0) throw new Malformed('x509: empty name constraints extension');
  let handled = true;
  for (const subtrees of [permitted, excluded]) {
    if (!subtrees) continue;
    const list = Reader.of(r.buf, subtrees);
    while (!list.empty()) {
      const subtree = Reader.of(r.buf, list.read(TAG_SEQUENCE, message));
      const base = subtree.read(undefined, message);
      const value = subtree.bytes(base);
      if (base.tag === 0x82 || base.tag === 0x81 || base.tag === 0x86) {
        if (!value.every((c) => c < 0x80)) throw new Malformed('x509: invalid constraint value: invalid IA5String');
        const text = value.toString('latin1');
        const domain = text.startsWith('.') ? text.slice(1) : text;
        // Mailbox constraints (local@domain) and IP-looking URI constraints are refused outright: Go's grammar for
        // them is not reproduced here, and refusing is the safe side.
        const unsupported =
          (base.tag === 0x81 && text.includes('@')) || (base.tag === 0x86 && /^[0-9.:]*$/.test(domain));
        if (unsupported || !domainOk(domain))
          throw new Malformed(`x509: failed to parse name constraint ${JSON.stringify(text)}`);
      } else if (base.tag === 0x87) {
        if (value.length !== 8 && value.length !== 32) {
          throw new Malformed(`x509: IP constraint contained value of length ${value.length}`);
        }
        const mask = value.subarray(value.length / 2);
        const bits = [...mask].map((x) => x.toString(2).padStart(8, '0')).join('');
        if (!/^1*0*$/.test(bits))
          throw new Malformed(`x509: IP constraint contained invalid mask ${mask.toString('hex')}`);
      } else {
        handled = false;
      }
    }
  }
  return handled;
}

/** Go's processExtensions for one extension; returns whether Go handles it (an unhandled critical one fails Verify). */
function processExtension(b: Builder, oid: string, critical: boolean, r: Reader): boolean {
  switch (oid) {
    case OID_KU: {
      const { bits, bitLength } = bitStringValue(
        r.bytes(r.read(TAG_BIT_STRING, 'x509: invalid key usage')),
        'x509: invalid key usage',
      );
      let usage = 0;
      for (let i = 0; i < 9 && i < bitLength; i++) if (bits[i >> 3]! & (0x80 >> (i & 7))) usage |= 1 << i;
      b.keyUsage = usage;
      return true;
    }
    case OID_BC: {
      const message = 'x509: invalid basic constraints';
      const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, message));
      const ca = seq.optional(TAG_BOOLEAN, message);
      const isCA = ca ? booleanValue(seq.bytes(ca), message) : false;
      const len = seq.optional(TAG_INTEGER, message);
      const pathLen = len ? smallInteger(seq.bytes(len), message) : -1;
      // Current Go refuses a negative pathLenConstraint outright (older releases read it as "no limit").
      if (len && pathLen < 0) throw new Malformed(message);
      b.basicConstraintsValid = true;
      b.isCA = isCA;
      b.maxPathLen = pathLen;
      return true;
    }
    case OID_SAN:
      b.hasSubjectAltNames = checkSubjectAltNames(r);
      return b.hasSubjectAltNames;
    case OID_EKU: {
      const message = 'x509: invalid extended key usages';
      const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, message));
      const usages: string[] = [];
      while (!seq.empty()) usages.push(readOid(seq, message));
      b.extKeyUsage = usages;
      return true;
    }
    case OID_SKID: {
      if (critical) throw new Malformed('x509: subject key identifier incorrectly marked critical');
      const t = r.read(TAG_OCTET_STRING, 'x509: invalid subject key identifier');
      b.subjectKeyId = Buffer.from(r.bytes(t));
      return true;
    }
    case OID_AKID: {
      if (critical) throw new Malformed('x509: authority key identifier incorrectly marked critical');
      const message = 'x509: invalid authority key identifier';
      const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, message));
      const id = seq.optional(0x80, message);
      if (id) b.authorityKeyId = Buffer.from(seq.bytes(id));
      return true;
    }
    case OID_AIA: {
      if (critical) throw new Malformed('x509: authority info access incorrectly marked critical');
      const message = 'x509: invalid authority info access';
      const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, message));
      while (!seq.empty()) {
        const access = Reader.of(r.buf, seq.read(TAG_SEQUENCE, message));
        readOid(access, message);
        access.optional(0x86, message);
      }
      return true;
    }
    case OID_NAME_CONSTRAINTS:
      b.nameConstraints = true;
      return checkNameConstraints(r);
    case OID_CRL_DP: {
      const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, 'x509: invalid CRL distribution points'));
      const message = 'x509: invalid CRL distribution point';
      while (!seq.empty()) {
        const point = Reader.of(r.buf, seq.read(TAG_SEQUENCE, message));
        const pointName = point.optional(0xa0, message);
        if (!pointName) continue;
        const fullName = Reader.of(r.buf, Reader.of(r.buf, pointName).read(0xa0, message));
        while (fullName.peekTag() === 0x86) fullName.read(0x86, message);
      }
      return true;
    }
    case OID_POLICIES: {
      const message = 'x509: invalid certificate policies';
      const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, message));
      const seen = new Set<string>();
      while (!seq.empty()) {
        const policy = Reader.of(r.buf, seq.read(TAG_SEQUENCE, message));
        const id = policy.bytes(policy.read(TAG_OID, message));
        // newOIDFromDER: base-128 arcs of any size, but minimal and complete.
        const complete = id.length > 0 && (id[id.length - 1]! & 0x80) === 0;
        const minimal = id.every((byte, i) => byte !== 0x80 || (i > 0 && (id[i - 1]! & 0x80) !== 0));
        const key = id.toString('hex');
        if (!complete || !minimal || seen.has(key)) throw new Malformed(message);
        seen.add(key);
      }
      return true;
    }
    case OID_INHIBIT_ANY_POLICY: {
      const message = 'x509: invalid inhibit any policy extension';
      smallInteger(r.bytes(r.read(TAG_INTEGER, message)), message);
      b.policyConstraints = true;
      return true;
    }
    case OID_POLICY_CONSTRAINTS: {
      const message = 'x509: invalid policy constraints extension';
      const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, message));
      for (const tag of [0x80, 0x81]) {
        const v = seq.optional(tag, message);
        if (v) smallInteger(seq.bytes(v), message);
      }
      b.policyConstraints = true;
      return true;
    }
    case OID_POLICY_MAPPINGS: {
      const message = 'x509: invalid policy mappings extension';
      const seq = Reader.of(r.buf, r.read(TAG_SEQUENCE, message));
      while (!seq.empty()) {
        const mapping = Reader.of(r.buf, seq.read(TAG_SEQUENCE, message));
        readOid(mapping, message);
        readOid(mapping, message);
      }
      b.policyConstraints = true;
      return true;
    }
    default:
      return false;
  }
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
/** Also by DER (bounded, oldest out): each TLS connection yields a new X509Certificate for the same certificate. */
const byDer = new Map<string, CertificateFields>();
const maxByDer = 1024;

/** Parsed once per certificate (object, then DER) and memoized. Never throws: see {@link CertificateFields.malformed}. */
export function certificateFields(cert: X509Certificate): CertificateFields {
  let f = cache.get(cert);
  if (!f) {
    const der = cert.raw.toString('latin1');
    f = byDer.get(der) ?? parseCertificateFields(cert);
    if (byDer.set(der, f).size > maxByDer) byDer.delete(byDer.keys().next().value!);
    cache.set(cert, f);
  }
  return f;
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
