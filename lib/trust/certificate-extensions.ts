// Go's x509 rules for the parts of a certificate past its names and times: the extensions Go processes (key usage,
// EKU, basic constraints, key identifiers, subjectAltName well-formedness, name and policy constraints), the public key
// and which critical extensions Go leaves unhandled (a Verify failure).
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
  readOid,
  smallInteger,
  type Tlv,
} from './der-reader.js';

export const OID_CN = '2.5.4.3';
export const OID_O = '2.5.4.10';
export const OID_UID = '1.3.6.1.4.1.57683.2';
export const OID_SKID = '2.5.29.14';
export const OID_KU = '2.5.29.15';
export const OID_SAN = '2.5.29.17';
export const OID_BC = '2.5.29.19';
export const OID_NAME_CONSTRAINTS = '2.5.29.30';
export const OID_CRL_DP = '2.5.29.31';
export const OID_POLICIES = '2.5.29.32';
export const OID_POLICY_MAPPINGS = '2.5.29.33';
export const OID_POLICY_CONSTRAINTS = '2.5.29.36';
export const OID_INHIBIT_ANY_POLICY = '2.5.29.54';
export const OID_AKID = '2.5.29.35';
export const OID_EKU = '2.5.29.37';
export const OID_AIA = '1.3.6.1.5.5.7.1.1';

export interface Builder {
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
export function domainOk(domain: string): boolean {
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
export function uriOk(uri: string): boolean {
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
export function checkSubjectAltNames(r: Reader): boolean {
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

/**
 * Go's parseNameConstraintsExtension, structure and value checks (not the DNS label, e-mail and URI grammar):
 * SEQUENCE { [0] permitted, [1] excluded }, at least one non-empty, each subtree a SEQUENCE starting with a
 * GeneralName. Returns whether Go handles every name form in it (others make a critical extension unhandled).
 */
export function checkNameConstraints(r: Reader): boolean {
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
        // Go's domainNameValid(s, true) refuses a trailing '.' before it drops a leading one: "." itself is refused.
        if (unsupported || text.endsWith('.') || !domainOk(domain))
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
export function processExtension(b: Builder, oid: string, critical: boolean, r: Reader): boolean {
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
