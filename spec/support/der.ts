// A minimal DER writer for certificate mutation specs: every part of a TBSCertificate can be replaced by arbitrary
// bytes (wrong tags, bad lengths, garbage times), and the result re-signed with the issuing CA's key through
// node:crypto, so the signature check passes and the field checks themselves are exercised.
import { createPrivateKey, createPublicKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { certificateFields } from '../../lib/trust/certificate-fields.js';
import type { TestCert } from './pki.js';

/** DER length octets (definite, minimal). */
export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with a raw tag byte. */
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export const seq = (...c: Buffer[]) => tlv(0x30, ...c);
export const set = (...c: Buffer[]) => tlv(0x31, ...c);
export const octets = (b: Buffer) => tlv(0x04, b);
export const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
export const explicit = (n: number, ...c: Buffer[]) => tlv(0xa0 | n, ...c);

/** The minimal two's-complement INTEGER for a bigint. */
export function integer(v: bigint | number): Buffer {
  let n = BigInt(v);
  const bytes: number[] = [];
  for (;;) {
    bytes.unshift(Number(n & 0xffn));
    const rest = n >> 8n;
    const sign = bytes[0]! & 0x80;
    if ((rest === 0n && !sign) || (rest === -1n && sign)) break;
    n = rest;
  }
  return tlv(0x02, Buffer.from(bytes));
}

/** An OBJECT IDENTIFIER from dotted text. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const base128 = (v: number) => {
    const chunk = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  };
  base128(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) base128(a);
  return tlv(0x06, Buffer.from(out));
}

/** A BIT STRING with `unused` padding bits. */
export const bitString = (unused: number, bytes: Buffer) => tlv(0x03, Buffer.from([unused]), bytes);

/** A Name with one attribute per RDN: [oid, tag, value bytes]. */
export function name(...attrs: readonly (readonly [string, number, Buffer | string])[]): Buffer {
  return seq(
    ...attrs.map(([o, tag, v]) => set(seq(oid(o), tlv(tag, typeof v === 'string' ? Buffer.from(v, 'latin1') : v)))),
  );
}

export const OID = {
  cn: '2.5.4.3',
  o: '2.5.4.10',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  anyEKU: '2.5.29.37.0',
} as const;

export const sha256WithRSA = seq(oid(OID.sha256WithRSA), tlv(0x05));

export function extension(id: string, critical: boolean | undefined, value: Buffer): Buffer {
  return seq(oid(id), ...(critical === undefined ? [] : [bool(critical)]), octets(value));
}

/** UTCTime text for a date (YYMMDDhhmmssZ). */
export function utcTimeText(d: Date): string {
  const iso = d.toISOString();
  return (
    iso.slice(2, 4) +
    iso.slice(5, 7) +
    iso.slice(8, 10) +
    iso.slice(11, 13) +
    iso.slice(14, 16) +
    iso.slice(17, 19) +
    'Z'
  );
}

/** GeneralizedTime text for a date (YYYYMMDDhhmmssZ). */
export function generalizedTimeText(d: Date): string {
  return utcTimeText(d).replace(/^\d\d/, d.toISOString().slice(0, 4));
}

export const utcTime = (text: string) => tlv(0x17, Buffer.from(text, 'latin1'));
export const generalizedTime = (text: string) => tlv(0x18, Buffer.from(text, 'latin1'));

/** The parts of a TBSCertificate, each as complete DER (replace any with arbitrary bytes). */
export interface TbsParts {
  /** The [0] version element; null omits it (v1). */
  readonly version: Buffer | null;
  readonly serial: Buffer;
  readonly signature: Buffer;
  readonly issuer: Buffer;
  readonly validity: Buffer;
  readonly subject: Buffer;
  readonly spki: Buffer;
  /** Extension elements; null omits the [3] wrapper. */
  readonly extensions: readonly Buffer[] | null;
  /** Raw bytes appended inside the TBS after the extensions. */
  readonly trailer?: Buffer;
}

export interface Signer {
  readonly key: KeyObject;
  /** The issuer's subject Name DER and SubjectKeyId (for AKID). */
  readonly subject: Buffer;
  readonly subjectKeyId: Buffer;
}

/** A CA from the test PKI as a signer for raw TBS bytes. */
export function signerOf(ca: TestCert): Signer {
  const f = certificateFields(ca.x509);
  return {
    key: createPrivateKey(forge.pki.privateKeyToPem(ca.issued.key)),
    subject: f.rawSubject,
    subjectKeyId: f.subjectKeyId,
  };
}

/** A well-formed client-certificate TBS (v3, clientAuth, valid now ± a day) for `cn`, issued by `signer`. */
export function clientTbs(signer: Signer, publicKeyPem: string, cn: string, now = Date.now()): TbsParts {
  const day = 24 * 60 * 60 * 1000;
  return {
    version: explicit(0, integer(2)),
    serial: integer(0x1234567890n),
    signature: sha256WithRSA,
    issuer: signer.subject,
    validity: seq(utcTime(utcTimeText(new Date(now - day))), utcTime(utcTimeText(new Date(now + day)))),
    subject: name([OID.cn, 0x0c, Buffer.from(cn, 'utf8')]),
    spki: createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' }),
    extensions: [
      extension(OID.basicConstraints, true, seq()),
      extension(OID.keyUsage, true, bitString(5, Buffer.from([0xa0]))),
      extension(OID.extKeyUsage, undefined, seq(oid(OID.clientAuth))),
      extension(OID.subjectKeyId, undefined, octets(Buffer.from('0102030405060708090a0b0c0d0e0f1011121314', 'hex'))),
      extension(OID.authorityKeyId, undefined, seq(tlv(0x80, signer.subjectKeyId))),
    ],
  };
}

export function tbsDer(p: TbsParts): Buffer {
  return seq(
    ...(p.version ? [p.version] : []),
    p.serial,
    p.signature,
    p.issuer,
    p.validity,
    p.subject,
    p.spki,
    ...(p.extensions ? [explicit(3, seq(...p.extensions))] : []),
    ...(p.trailer ? [p.trailer] : []),
  );
}

/** Signs raw TBS bytes with the signer's key (RSA PKCS#1 v1.5, SHA-256) and wraps them into a Certificate. */
export function signTbs(tbs: Buffer, signer: Signer, algorithm: Buffer = sha256WithRSA): Buffer {
  const signature = sign('sha256', tbs, signer.key);
  return seq(tbs, algorithm, bitString(0, signature));
}

/** node:crypto's view of DER, or undefined when OpenSSL itself refuses it (it then never reaches the library). */
export function x509OrUndefined(der: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}
