import { createHash, type X509Certificate } from 'node:crypto';
import { KdaError, type KdaErrorCode } from '../errors.js';
import { certificateFields, certificateIdentifier, issuerCommonName } from '../trust/certificate-fields.js';
import type { CABundleProvider } from '../trust/interfaces.js';
import { verifyClientChainCached, type ChainVerdict } from '../trust/verify-chain.js';
import type { AuthenticationResult, AuthnRequest, RequestAuthenticator, UserInfo } from './interfaces.js';

/** Milliseconds since the epoch; injectable for the Go `CurrentTime` cases. */
export type Clock = () => number;

/** Go 1.32+: the x509 authenticator records which certificate authenticated the user. */
export const credentialIdExtraKey = 'authentication.kubernetes.io/credential-id';

type Failure = Extract<ChainVerdict, { ok: false }>;

/** The outcome of verifying the request's client certificate against a provider. */
export type VerifyOutcome =
  | { readonly kind: 'no-opinion' }
  | { readonly kind: 'verified'; readonly chain: readonly X509Certificate[] }
  | { readonly kind: 'failed'; readonly leaf: X509Certificate; readonly failure: Failure };

/**
 * The shared first half of Go's x509 Verifier and Authenticator: no client certificate or no CA bundle yet means no
 * opinion; otherwise the chain is verified (cached per connection and bundle version).
 */
export function verifyRequestCertificate(req: AuthnRequest, ca: CABundleProvider, clock: Clock): VerifyOutcome {
  const [leaf, ...intermediates] = req.peerCertificates;
  if (!leaf) return { kind: 'no-opinion' };
  const bundle = ca.current();
  if (!bundle) return { kind: 'no-opinion' };
  const verdict = verifyClientChainCached(req.connection, leaf, intermediates, bundle, clock());
  return verdict.ok ? { kind: 'verified', chain: verdict.chain } : { kind: 'failed', leaf, failure: verdict };
}

/**
 * The errors already built for a verdict. The verdict of a connection's chain is cached per socket and bundle
 * (lib/trust/verify-chain), so every request on a keep-alive connection whose certificate one authenticator refuses
 * (a client-certificate user meets the front-proxy verifier first) would build the same error again, stack trace
 * included (≈ 4 µs). The error is a description of the verdict, never mutated downstream; a new verdict (another
 * connection, a CA rotation, the validity window passing) is a new key.
 */
const chainErrors = new WeakMap<Failure, { readonly leaf: X509Certificate; readonly error: KdaError }[]>();

/** Maps a chain failure onto an error code and structured log details (built once per verdict and message). */
export function chainError(
  authenticator: string,
  ca: CABundleProvider,
  leaf: X509Certificate,
  failure: Failure,
  message: string,
): KdaError {
  let built = chainErrors.get(failure);
  if (built) {
    for (const { leaf: l, error: e } of built) {
      const d = e.details;
      if (l === leaf && e.message === message && d.authenticator === authenticator && d.caName === ca.name) return e;
    }
  } else chainErrors.set(failure, (built = []));
  const error = buildChainError(authenticator, ca, leaf, failure, message);
  // Bounded: a verdict meets at most a few authenticators and CA names.
  if (built.length < 8) built.push({ leaf, error });
  return error;
}

function buildChainError(
  authenticator: string,
  ca: CABundleProvider,
  leaf: X509Certificate,
  failure: Failure,
  message: string,
): KdaError {
  // Every failure, a certificate Go could not parse included (`malformed`), is a refusal with its cause.
  const code: KdaErrorCode = failure.check === 'eku' ? 'ERR_KDA_CERT_USAGE' : 'ERR_KDA_CERT_UNTRUSTED';
  const details: Record<string, unknown> = {
    authenticator,
    check: failure.check,
    subjectCN: certificateFields(leaf).commonName,
    issuer: issuerCommonName(leaf),
    caName: ca.name,
  };
  if (failure.certificate !== leaf) details.certificateCN = certificateFields(failure.certificate).commonName;
  return new KdaError(code, message, { details });
}

/**
 * The refusal for an unexpected failure while reading or verifying the client's certificate (`err`): ok:false with
 * an error, hence a 401 and a log line with the cause, never a 500 and never an acceptance. Certificate
 * authenticators catch around their own work and answer this (a try block, not a closure per request).
 */
export function thrownRefusal(authenticator: string, ca: CABundleProvider, err: unknown): AuthenticationResult {
  const cause = err instanceof Error ? err.message : String(err);
  return {
    ok: false,
    error: new KdaError('ERR_KDA_CERT_UNTRUSTED', `x509: client certificate cannot be verified: ${cause}`, {
      cause: err,
      details: { authenticator, check: 'malformed', caName: ca.name },
    }),
  };
}

/** What the x509 authenticator makes of a verified leaf. ok:false without error = no opinion. */
export type UserConversion = (leaf: X509Certificate) => AuthenticationResult;

/**
 * Go's CommonNameUserConversion (1.33+): CN → name (empty CN = no opinion), every O → groups, subject attribute
 * 1.3.6.1.4.1.57683.2 → uid, and extra `authentication.kubernetes.io/credential-id: X509SHA256=<hex>`.
 */
export const commonNameUserConversion: UserConversion = (leaf) => {
  const f = certificateFields(leaf);
  if (f.commonName === '') return { ok: false };
  let uid = '';
  const uidError = (message: string) => ({
    ok: false as const,
    error: new KdaError('ERR_KDA_CERT_UNTRUSTED', message, {
      details: { authenticator: 'x509', check: 'uid', subjectCN: f.commonName },
    }),
  });
  if (f.uids.length > 0) {
    if (f.uids.some((u) => u === null)) return uidError('unable to parse UID into a string');
    if (f.uids.length !== 1) return uidError(`expected 1 UID, but found multiple: [${f.uids.join(' ')}]`);
    if (f.uids[0] === '') return uidError('UID cannot be an empty string');
    uid = f.uids[0]!;
  }
  const user: UserInfo = {
    name: f.commonName,
    uid,
    groups: [...f.organizations],
    extra: { [credentialIdExtraKey]: [credentialId(leaf)] },
  };
  return { ok: true, user, authenticator: 'x509', consumedHeaders: [] };
};

/**
 * `X509SHA256=<hex of the DER's SHA-256>`, once per certificate object: the leaf object lives as long as its TLS
 * socket (lib/http/request.ts), so a keep-alive connection hashes its certificate once, not on every request.
 */
const credentialIds = new WeakMap<X509Certificate, string>();
function credentialId(leaf: X509Certificate): string {
  let id = credentialIds.get(leaf);
  if (id === undefined) {
    id = `X509SHA256=${createHash('sha256').update(leaf.raw).digest('hex')}`;
    credentialIds.set(leaf, id);
  }
  return id;
}

export interface X509AuthenticatorOptions {
  /** The client CA (`--client-ca-file` / ConfigMap `client-ca-file`). Read per request. */
  readonly caProvider: CABundleProvider;
  /** Default: {@link commonNameUserConversion}. */
  readonly userConversion?: UserConversion;
  /** Default: Date.now. */
  readonly clock?: Clock | undefined;
}

/**
 * Go's x509.Authenticator (client-ca): a client certificate that verifies against the client CA authenticates as its
 * CN with its O values as groups. Failure message: `verifying certificate SN=…, SKID=…, AKID=… failed: <x509 error>`.
 */
export function x509Authenticator(options: X509AuthenticatorOptions): RequestAuthenticator {
  const { caProvider } = options;
  const convert = options.userConversion ?? commonNameUserConversion;
  const clock = options.clock ?? Date.now;
  // Nothing escapes as an exception: see thrownRefusal.
  const authenticate = (req: AuthnRequest): AuthenticationResult => {
    try {
      const outcome = verifyRequestCertificate(req, caProvider, clock);
      if (outcome.kind === 'no-opinion') return { ok: false };
      if (outcome.kind === 'failed') {
        const { leaf, failure } = outcome;
        const message = `verifying certificate ${certificateIdentifier(leaf)} failed: ${failure.message}`;
        return { ok: false, error: chainError('x509', caProvider, leaf, failure, message) };
      }
      return convert(outcome.chain[0]!);
    } catch (err) {
      return thrownRefusal('x509', caProvider, err);
    }
  };
  return {
    async authenticateRequest(req): Promise<AuthenticationResult> {
      return authenticate(req);
    },
    // Chain verification is CPU work (cached per connection and bundle version), never I/O: always answered at once.
    authenticateRequestSync: authenticate,
  };
}
