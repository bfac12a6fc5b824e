// A DER reader with the rules of golang.org/x/crypto/cryptobyte, which Go's x509.ParseCertificate reads through:
// definite minimal lengths, minimal INTEGERs, strict BOOLEANs and BIT STRING padding, OIDs, the ASN.1 string types
// with Go's character-set checks, and pkix Names. Every refusal is a `Malformed` carrying Go's error text.
/** A DER violation or a value Go refuses: the message is Go's error text. */
export class Malformed extends Error {}

export interface Tlv {
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
export function readTlv(buf: Buffer, pos: number, limit: number): Tlv | undefined {
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
export class Reader {
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

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_SEQUENCE = 0x30;
export const TAG_SET = 0x31;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;

/** cryptobyte's checkASN1Integer: non-empty and minimally encoded. */
export function isMinimalInteger(b: Buffer): boolean {
  if (b.length === 0) return false;
  if (b.length === 1) return true;
  return !((b[0] === 0x00 && (b[1]! & 0x80) === 0) || (b[0] === 0xff && (b[1]! & 0x80) === 0x80));
}

/** A two's-complement INTEGER (already checked minimal) as a BigInt. */
export function integerValue(b: Buffer): bigint {
  const unsigned = BigInt('0x' + b.toString('hex'));
  return BigInt.asIntN(b.length * 8, unsigned);
}

/** cryptobyte's ReadASN1Integer into an int64: minimal and at most 8 octets. */
export function smallInteger(b: Buffer, message: string): number {
  if (!isMinimalInteger(b) || b.length > 8) throw new Malformed(message);
  return Number(integerValue(b));
}

/** cryptobyte's ReadASN1Boolean: exactly one octet, 0x00 or 0xff. */
export function booleanValue(b: Buffer, message: string): boolean {
  if (b.length !== 1 || (b[0] !== 0x00 && b[0] !== 0xff)) throw new Malformed(message);
  return b[0] === 0xff;
}

/** cryptobyte's ReadASN1BitString: a valid padding count, and the padding bits zero. Returns the bit octets. */
export function bitStringValue(b: Buffer, message: string): { readonly bits: Buffer; readonly bitLength: number } {
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
export function decodeOid(bytes: Buffer): string | undefined {
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

export function readOid(r: Reader, message: string): string {
  const oid = decodeOid(r.bytes(r.read(TAG_OID, message)));
  if (oid === undefined) throw new Malformed(message);
  return oid;
}

export const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Go's isPrintable (PrintableString, plus `*` and `&`, which Go tolerates). */
export function isPrintable(b: number): boolean {
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
export function asn1String(tag: number, bytes: Buffer): string {
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

export interface NameAttribute {
  readonly oid: string;
  readonly value: string;
}

/** Go's parseName: a SEQUENCE of SETs of {OID, string} SEQUENCEs. */
export function parseName(buf: Buffer, name: Tlv): NameAttribute[] {
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
