import type { X509Certificate } from 'node:crypto';

/**
 * The certificate fields Go exposes and node:crypto does not (or only as escaped text): the raw subject attributes
 * (Go's pkix.Name), SubjectKeyId and AuthorityKeyId. Read from the DER with a minimal walker; node:crypto has
 * already validated the encoding, so a malformed structure here only yields empty fields.
 */
export interface CertificateFields {
  /** Go `Subject.CommonName`: the last CN attribute, '' when none. */
  readonly commonName: string;
  /** Go `Subject.Organization`: every O attribute in certificate order. */
  readonly organizations: readonly string[];
  /** Values of subject attribute 1.3.6.1.4.1.57683.2 (Kubernetes user UID, 1.33+); non-strings become null. */
  readonly uids: readonly (string | null)[];
  readonly subjectKeyId: Buffer;
  readonly authorityKeyId: Buffer;
  /** Decimal serial number, as Go's `%d` of `SerialNumber`. */
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
  /** keyUsage bits as Go numbers them (digitalSignature = 1, keyCertSign = 32); 0 when absent. */
  readonly keyUsage: number;
  /** ms since epoch, parsed once. */
  readonly notBefore: number;
  readonly notAfter: number;
}

interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly pos: number;
  readonly start: number;
  readonly end: number;
  readonly next: number;
}

function readTlv(buf: Buffer, pos: number): Tlv {
  if (pos + 2 > buf.length) throw new RangeError('truncated DER');
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new RangeError('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > buf.length) throw new RangeError('truncated DER');
  return { tag, pos, start, end, next: end };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end;) {
    const t = readTlv(buf, p);
    out.push(t);
    p = t.next;
  }
  return out;
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of bytes) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  if (parts.length === 0) return '';
  const first = parts[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts.slice(1)].join('.');
}

function decodeString(tag: number, bytes: Buffer): string | null {
  switch (tag) {
    case 0x0c: // UTF8String
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
      return bytes.toString('utf8');
    case 0x14: // T61String: Go decodes it as ISO-8859-1
      return bytes.toString('latin1');
    case 0x1e: {
      // BMPString, UTF-16BE
      const swapped = Buffer.from(bytes);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case 0x1c: {
      // UniversalString, UTF-32BE
      let s = '';
      for (let i = 0; i + 3 < bytes.length; i += 4) s += String.fromCodePoint(bytes.readUInt32BE(i));
      return s;
    }
    default:
      return null;
  }
}

const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';
const OID_UID = '1.3.6.1.4.1.57683.2';
const OID_SKID = '2.5.29.14';
const OID_AKID = '2.5.29.35';
const OID_BC = '2.5.29.19';
const OID_KU = '2.5.29.15';

const cache = new WeakMap<X509Certificate, CertificateFields>();

/** Parsed once per certificate object and memoized. */
export function certificateFields(cert: X509Certificate): CertificateFields {
  let f = cache.get(cert);
  if (!f) {
    f = parseFields(cert);
    cache.set(cert, f);
  }
  return f;
}

function parseFields(cert: X509Certificate): CertificateFields {
  let commonName = '';
  const organizations: string[] = [];
  const uids: (string | null)[] = [];
  let subjectKeyId = Buffer.alloc(0);
  let authorityKeyId = Buffer.alloc(0);
  let rawSubject = Buffer.alloc(0);
  let rawIssuer = Buffer.alloc(0);
  let version = 1;
  let basicConstraintsValid = false;
  let isCA = false;
  let maxPathLen = -1;
  let keyUsage = 0;
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  const serialDecimal = BigInt('0x' + (cert.serialNumber || '0')).toString(10);
  try {
    const der = cert.raw;
    const certSeq = readTlv(der, 0);
    const tbs = children(der, certSeq)[0]!;
    const items = children(der, tbs);
    let i = 0;
    if (items[i]?.tag === 0xa0) {
      const v = children(der, items[i]!)[0];
      if (v) version = der[v.start]! + 1;
      i++;
    }
    i += 2; // serialNumber, signature algorithm
    const issuer = items[i++];
    if (issuer) rawIssuer = Buffer.from(der.subarray(issuer.pos, issuer.end));
    i++; // validity
    const subject = items[i++];
    if (subject) {
      rawSubject = Buffer.from(der.subarray(subject.pos, subject.end));
      for (const rdn of children(der, subject)) {
        for (const atv of children(der, rdn)) {
          const [oidTlv, valTlv] = children(der, atv);
          if (!oidTlv || !valTlv) continue;
          const oid = decodeOid(der.subarray(oidTlv.start, oidTlv.end));
          const value = decodeString(valTlv.tag, der.subarray(valTlv.start, valTlv.end));
          if (oid === OID_CN && value !== null) commonName = value;
          else if (oid === OID_O && value !== null) organizations.push(value);
          else if (oid === OID_UID) uids.push(value);
        }
      }
    }
    for (const item of items.slice(i)) {
      if (item.tag !== 0xa3) continue;
      const extSeq = children(der, item)[0];
      if (!extSeq) continue;
      for (const ext of children(der, extSeq)) {
        const parts = children(der, ext);
        const oid = decodeOid(der.subarray(parts[0]!.start, parts[0]!.end));
        const octets = parts[parts.length - 1]!;
        if (oid === OID_BC) {
          basicConstraintsValid = true;
          const seq = readTlv(der, octets.start);
          for (const c of children(der, seq)) {
            if (c.tag === 0x01) isCA = der[c.start] !== 0;
            else if (c.tag === 0x02) {
              let n = 0;
              for (let k = c.start; k < c.end; k++) n = n * 256 + der[k]!;
              maxPathLen = n;
            }
          }
        } else if (oid === OID_KU) {
          const bits = readTlv(der, octets.start);
          // BIT STRING: first octet = unused bits, then bit 0 is the MSB of the next octet (Go reverses them).
          for (let k = bits.start + 1; k < bits.end; k++) {
            const byte = der[k]!;
            for (let b = 0; b < 8; b++) {
              if (byte & (0x80 >> b)) keyUsage |= 1 << ((k - bits.start - 1) * 8 + b);
            }
          }
        } else if (oid === OID_SKID) {
          const inner = readTlv(der, octets.start);
          subjectKeyId = Buffer.from(der.subarray(inner.start, inner.end));
        } else if (oid === OID_AKID) {
          const seq = readTlv(der, octets.start);
          for (const c of children(der, seq)) {
            if (c.tag === 0x80) authorityKeyId = Buffer.from(der.subarray(c.start, c.end));
          }
        }
      }
    }
  } catch {
    // node:crypto accepted the certificate; a structure this walker does not understand only loses optional fields.
  }
  if (basicConstraintsValid && !isCA) maxPathLen = -1;
  return {
    commonName,
    organizations,
    uids,
    subjectKeyId,
    authorityKeyId,
    serialDecimal,
    rawSubject,
    rawIssuer,
    version,
    basicConstraintsValid,
    isCA,
    maxPathLen,
    keyUsage,
    notBefore,
    notAfter,
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

/** The issuer's CN for logs (Node's issuer text is `CN=..\nO=..`). */
export function issuerCommonName(cert: X509Certificate): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(cert.issuer);
  return m ? m[1]! : cert.issuer;
}
