// Over ~350 lines: Go's chain verification (validity, CA flags, pathLen, EKU on every element, critical extensions,
// name constraints refused) with the exact refusal causes the logs report; one algorithm, one file.
import type { X509Certificate } from 'node:crypto';
import { certificateFields, type CertificateFields } from './certificate-fields.js';
import type { CABundle } from './interfaces.js';

/** Which test a chain failed: the `check` field of refusal logs. */
export type ChainCheck =
  | 'malformed'
  | 'critical-extension'
  | 'name-constraints'
  | 'policies'
  | 'validity'
  | 'chain'
  | 'signature'
  | 'ca'
  | 'path-length'
  | 'eku'
  | 'signature-limit';

/** ok with the verified chain (leaf first, anchor last), or the failed check and Go's error text. */
export type ChainVerdict =
  | { readonly ok: true; readonly chain: readonly X509Certificate[] }
  | {
      readonly ok: false;
      readonly check: ChainCheck;
      /** The error text crypto/x509 would produce, e.g. `x509: certificate signed by unknown authority`. */
      readonly message: string;
      /** The certificate the failure is about (the leaf, or the candidate issuer named in the hint). */
      readonly certificate: X509Certificate;
    };

export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const OID_ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/** Go's maxChainSignatureChecks. */
const maxSignatureChecks = 100;
/** Bounds recursion on hostile chains; Go has no explicit limit besides the signature-check budget. */
const maxIntermediates = 10;
const keyUsageCertSign = 32;

const MSG_UNKNOWN_AUTHORITY = 'x509: certificate signed by unknown authority';
const MSG_CONSTRAINT = 'x509: invalid signature: parent certificate cannot sign this kind of certificate';
const MSG_NOT_AUTHORIZED = 'x509: certificate is not authorized to sign other certificates';
const MSG_PATH_LEN = 'x509: too many intermediates for path length constraint';
const MSG_USAGE = 'x509: certificate specifies an incompatible key usage';
const MSG_SIG_LIMIT = 'x509: signature check attempts limit reached while verifying certificate chain';
const MSG_CRITICAL = 'x509: unhandled critical extension';
const MSG_POLICIES = 'x509: the chain carries policy constraints or mappings, which this verifier does not evaluate';
const MSG_NAME_CONSTRAINTS =
  'x509: the issuer has name constraints, which this verifier does not evaluate: only certificates without subject alternative names verify under it';

/**
 * Verifies a TLS client certificate chain with the semantics of Go's `x509.Certificate.Verify` as k8s.io/apiserver
 * calls it (`Roots` = the bundle only, `Intermediates` = the rest of the client's chain, `KeyUsages` = clientAuth):
 *
 * - every certificate the client sent must parse under Go's `x509.ParseCertificate` rules (Go's TLS stack refuses the
 *   handshake otherwise: `tls: failed to parse client certificate: …`); bundle certificates that would not parse are
 *   never anchors;
 * - no certificate in the chain may carry a critical extension Go does not handle;
 * - the leaf must be within its validity window at `now` (an unreadable time is outside every window);
 * - a leaf byte-identical to a bundle certificate is a one-element chain;
 * - every bundle certificate is an anchor, including intermediates (no self-signed requirement);
 * - a parent must match the child's issuer name, be allowed to sign (basicConstraints CA on v3 certificates, keyCertSign
 *   if keyUsage is present), verify the signature, be within its validity window, respect pathLen, and, if taken from
 *   the client's intermediates, be a CA;
 * - in at least one chain, every certificate carrying an EKU extension must allow clientAuth or anyExtendedKeyUsage.
 *
 * - name constraints are not evaluated: an issuer carrying them only verifies leaves without DNS/e-mail/IP/URI subject
 *   alternative names (Go checks constraints against exactly those names, so such a chain verifies in Go too);
 *
 * - policy constraints, policy mappings and inhibitAnyPolicy (validated by Go 1.24+) are not evaluated: a chain
 *   carrying them is refused;
 *
 * Not checked (as in Go's use here, or not expressible with node:crypto): revocation, certificate policies alone.
 * Never throws: an unexpected failure is a refusal with check `malformed`.
 */
export function verifyClientChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  bundle: Pick<CABundle, 'certificates'>,
  now: number = Date.now(),
): ChainVerdict {
  return verifyWithWindow(leaf, intermediates, bundle.certificates, now).verdict;
}

interface Windowed {
  readonly verdict: ChainVerdict;
  /** The verdict cannot change while `from <= now <= until` (it depends on time only through validity windows). */
  readonly from: number;
  readonly until: number;
}

interface Ctx {
  readonly now: number;
  readonly anchors: readonly X509Certificate[];
  readonly intermediates: readonly X509Certificate[];
  sigChecks: number;
  from: number;
  until: number;
}

type ValidityError = string | undefined;

/**
 * Go's isValid time check, written so that an unreadable time (NaN) fails: each test asks whether `now` is inside,
 * never whether it is outside.
 */
function validity(ctx: Ctx, f: CertificateFields): ValidityError {
  const { now } = ctx;
  if (!(Number.isFinite(f.notBefore) && Number.isFinite(f.notAfter))) {
    // Nothing about the window is known: the verdict holds for this instant only.
    ctx.from = Math.max(ctx.from, now);
    ctx.until = Math.min(ctx.until, now);
    return 'x509: certificate has expired or is not yet valid: the validity period cannot be read';
  }
  if (!(now >= f.notBefore)) {
    ctx.until = Math.min(ctx.until, f.notBefore - 1);
    return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is before ${rfc3339(f.notBefore)}`;
  }
  if (!(now <= f.notAfter)) {
    ctx.from = Math.max(ctx.from, f.notAfter + 1);
    return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is after ${rfc3339(f.notAfter)}`;
  }
  ctx.from = Math.max(ctx.from, f.notBefore);
  ctx.until = Math.min(ctx.until, f.notAfter);
  return undefined;
}

function rfc3339(ms: number): string {
  const t = new Date(Math.floor(ms / 1000) * 1000);
  return Number.isNaN(t.getTime()) ? String(ms) : t.toISOString().replace('.000Z', 'Z');
}

function verifyWithWindow(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: number,
): Windowed {
  try {
    return verifyUnguarded(leaf, intermediates, anchors, now);
  } catch (err) {
    // Nothing on the authentication path may throw: an unexpected failure is a refusal, judged again next time.
    const message = `x509: certificate cannot be verified: ${(err as Error)?.message ?? String(err)}`;
    return { verdict: { ok: false, check: 'malformed', message, certificate: leaf }, from: now, until: now };
  }
}

function verifyUnguarded(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: number,
): Windowed {
  const ctx: Ctx = { now, anchors, intermediates, sigChecks: 0, from: -Infinity, until: Infinity };
  const done = (verdict: ChainVerdict): Windowed => ({ verdict, from: ctx.from, until: ctx.until });

  // Go's TLS server parses every certificate the client sent before anything else and refuses the handshake if one
  // does not parse; a malformed certificate can never take part in a chain.
  for (const sent of [leaf, ...intermediates]) {
    const malformed = certificateFields(sent).malformed;
    if (malformed !== undefined) {
      const message = `tls: failed to parse client certificate: ${malformed}`;
      return done({ ok: false, check: 'malformed', message, certificate: sent });
    }
  }

  const leafFields = certificateFields(leaf);
  if (leafFields.unhandledCriticalExtension) {
    return done({ ok: false, check: 'critical-extension', message: MSG_CRITICAL, certificate: leaf });
  }
  if (leafFields.policyConstraints) {
    return done({ ok: false, check: 'policies', message: MSG_POLICIES, certificate: leaf });
  }
  const leafErr = validity(ctx, leafFields);
  if (leafErr) return done({ ok: false, check: 'validity', message: leafErr, certificate: leaf });

  let chains: X509Certificate[][];
  if (anchors.some((a) => a.raw.equals(leaf.raw))) {
    chains = [[leaf]];
  } else {
    const built = buildChains(ctx, [leaf]);
    if (built.chains.length === 0) return done(built.failure);
    chains = built.chains;
  }
  const usable = chains.find(allowsClientAuth);
  if (!usable) return done({ ok: false, check: 'eku', message: MSG_USAGE, certificate: leaf });
  return done({ ok: true, chain: usable });
}

function allowsClientAuth(chain: readonly X509Certificate[]): boolean {
  // The EKU as Go parsed it from the DER (node:crypto's `keyUsage` is undefined when OpenSSL cannot decode the
  // extension, which would read as "unrestricted").
  return chain.every((c) => {
    const eku = certificateFields(c).extKeyUsage;
    return eku.length === 0 || eku.includes(OID_CLIENT_AUTH) || eku.includes(OID_ANY_EXTENDED_KEY_USAGE);
  });
}

interface Hint {
  readonly check: ChainCheck;
  readonly message: string;
  readonly certificate: X509Certificate;
}

type Failure = Extract<ChainVerdict, { ok: false }>;

function unknownAuthority(cert: X509Certificate, hint: Hint | undefined): Failure {
  if (!hint) return { ok: false, check: 'chain', message: MSG_UNKNOWN_AUTHORITY, certificate: cert };
  const f = certificateFields(hint.certificate);
  const name = f.commonName || f.organizations[0] || `serial:${f.serialDecimal}`;
  return {
    ok: false,
    check: hint.check,
    message: `${MSG_UNKNOWN_AUTHORITY} (possibly because of ${JSON.stringify(hint.message)} while trying to verify candidate authority certificate ${JSON.stringify(name)})`,
    certificate: hint.certificate,
  };
}

/** Go's potential-parent order inside one pool: matching key ids first, then one-sided, then mismatching. */
function potentialParents(child: CertificateFields, pool: readonly X509Certificate[]): X509Certificate[] {
  const match: X509Certificate[] = [];
  const oneSided: X509Certificate[] = [];
  const mismatch: X509Certificate[] = [];
  for (const c of pool) {
    const f = certificateFields(c);
    // A certificate Go could not parse is not in Go's pool at all.
    if (f.malformed !== undefined || !f.rawSubject.equals(child.rawIssuer)) continue;
    if (f.subjectKeyId.equals(child.authorityKeyId)) match.push(c);
    else if ((f.subjectKeyId.length === 0) !== (child.authorityKeyId.length === 0)) oneSided.push(c);
    else mismatch.push(c);
  }
  return [...match, ...oneSided, ...mismatch];
}

/** A port of crypto/x509 `buildChains`, including how it reports the first "hint" error. */
function buildChains(ctx: Ctx, current: readonly X509Certificate[]): { chains: X509Certificate[][]; failure: Failure } {
  const cert = current[current.length - 1]!;
  const child = certificateFields(cert);
  const chains: X509Certificate[][] = [];
  let hint: Hint | undefined;
  let err: Failure | undefined;

  const consider = (candidate: X509Certificate, kind: 'root' | 'intermediate'): void => {
    if (current.some((c) => c.raw.equals(candidate.raw))) return;
    if (++ctx.sigChecks > maxSignatureChecks) {
      err = { ok: false, check: 'signature-limit', message: MSG_SIG_LIMIT, certificate: cert };
      return;
    }
    const p = certificateFields(candidate);
    const sigErr = checkSignatureFrom(cert, candidate, p);
    if (sigErr) {
      hint ??= { ...sigErr, certificate: candidate };
      return;
    }
    if (p.unhandledCriticalExtension) {
      hint ??= { check: 'critical-extension', message: MSG_CRITICAL, certificate: candidate };
      return;
    }
    if (p.policyConstraints) {
      hint ??= { check: 'policies', message: MSG_POLICIES, certificate: candidate };
      return;
    }
    if (p.nameConstraints && certificateFields(current[0]!).hasSubjectAltNames) {
      hint ??= { check: 'name-constraints', message: MSG_NAME_CONSTRAINTS, certificate: candidate };
      return;
    }
    const vErr = validity(ctx, p);
    if (vErr) {
      hint ??= { check: 'validity', message: vErr, certificate: candidate };
      return;
    }
    if (kind === 'intermediate' && !(p.basicConstraintsValid && p.isCA)) {
      hint ??= { check: 'ca', message: MSG_NOT_AUTHORIZED, certificate: candidate };
      return;
    }
    if (p.basicConstraintsValid && p.maxPathLen >= 0 && current.length - 1 > p.maxPathLen) {
      hint ??= { check: 'path-length', message: MSG_PATH_LEN, certificate: candidate };
      return;
    }
    if (kind === 'root') {
      chains.push([...current, candidate]);
    } else if (current.length <= maxIntermediates) {
      const sub = buildChains(ctx, [...current, candidate]);
      // Go assigns the recursive call's error to the outer err: a failure deeper in the chain is what gets reported.
      err = sub.chains.length > 0 ? undefined : sub.failure;
      chains.push(...sub.chains);
    }
  };

  for (const c of potentialParents(child, ctx.anchors)) consider(c, 'root');
  for (const c of potentialParents(child, ctx.intermediates)) consider(c, 'intermediate');

  return { chains, failure: err ?? unknownAuthority(cert, hint) };
}

function checkSignatureFrom(
  cert: X509Certificate,
  parent: X509Certificate,
  p: CertificateFields,
): { check: ChainCheck; message: string } | undefined {
  if ((p.version === 3 && !p.basicConstraintsValid) || (p.basicConstraintsValid && !p.isCA)) {
    return { check: 'ca', message: MSG_CONSTRAINT };
  }
  if (p.keyUsage !== 0 && (p.keyUsage & keyUsageCertSign) === 0) return { check: 'ca', message: MSG_CONSTRAINT };
  let ok = false;
  try {
    ok = cert.verify(parent.publicKey);
  } catch {
    ok = false;
  }
  if (ok) return undefined;
  let type: string | undefined;
  try {
    type = parent.publicKey.asymmetricKeyType;
  } catch {
    type = undefined;
  }
  const message =
    type === 'ec'
      ? 'x509: ECDSA verification failure'
      : type === 'ed25519'
        ? 'x509: Ed25519 verification failure'
        : 'crypto/rsa: verification error';
  return { check: 'signature', message };
}

interface CacheEntry {
  readonly leaf: X509Certificate;
  readonly version: number;
  readonly result: Windowed;
}

/**
 * Per TLS connection, per bundle: the verdict for the chain this connection presented. A keep-alive connection pays
 * for verification once per bundle version; a new bundle (CA rotation) is a new key, so the next request on the same
 * connection is judged against it. Entries also expire when `now` leaves the window in which no validity check
 * could flip, so certificates that expire during a long-lived connection are refused like Go does.
 */
const verdictCache = new WeakMap<object, WeakMap<readonly X509Certificate[], CacheEntry>>();

/** Count of full verifications, for tests that assert the per-connection cache is used. */
export const chainVerifierStats = { verifications: 0 };

/**
 * {@link verifyClientChain} with a verdict cache keyed on `connection` (the TLS socket) and the bundle
 * (`certificates` identity + `version`). Without a connection it verifies every time.
 */
export function verifyClientChainCached(
  connection: object | undefined,
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  bundle: CABundle,
  now: number = Date.now(),
): ChainVerdict {
  if (!connection) {
    chainVerifierStats.verifications++;
    return verifyClientChain(leaf, intermediates, bundle, now);
  }
  let perConn = verdictCache.get(connection);
  if (!perConn) {
    perConn = new WeakMap();
    verdictCache.set(connection, perConn);
  }
  const hit = perConn.get(bundle.certificates);
  if (hit && hit.leaf === leaf && hit.version === bundle.version && now >= hit.result.from && now <= hit.result.until) {
    return hit.result.verdict;
  }
  chainVerifierStats.verifications++;
  const result = verifyWithWindow(leaf, intermediates, bundle.certificates, now);
  perConn.set(bundle.certificates, { leaf, version: bundle.version, result });
  return result.verdict;
}
