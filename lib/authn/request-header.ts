import { KdaError } from '../errors.js';
import { certificateFields, issuerCommonName } from '../trust/certificate-fields.js';
import type { CABundleProvider, RequestHeaderConfig, RequestHeaderConfigProvider } from '../trust/interfaces.js';
import type { AuthenticationResult, AuthnRequest, RequestAuthenticator, UserInfo } from './interfaces.js';
import { unescapeExtraKey } from './path-unescape.js';
import { requestHeaderNames } from './request-header-names.js';
import { chainError, thrownRefusal, verifyRequestCertificate, type Clock } from './x509.js';

/** Go's headerValue: the first line of the first listed header whose first line is non-empty; '' when none. */
export function firstHeaderValue(req: Pick<AuthnRequest, 'header'>, names: readonly string[]): string {
  for (const name of names) {
    if (!name) continue;
    const v = req.header(name)[0];
    if (v) return v;
  }
  return '';
}

/** Go's allHeaderValues: every non-empty line of every listed header, in list then arrival order; never comma-split. */
export function allHeaderValues(req: Pick<AuthnRequest, 'header'>, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    if (!name) continue;
    for (const v of req.header(name)) if (v.length > 0) out.push(v);
  }
  return out;
}

/**
 * Go's newExtra: for each prefix (in order), each header whose name starts with it (ASCII case-insensitive) adds all
 * its lines, empty ones included, under `unescapeExtraKey(lower(name minus prefix))`.
 */
export function extraFromHeaders(
  req: Pick<AuthnRequest, 'header' | 'headerNames'>,
  prefixes: readonly string[],
): Record<string, string[]> {
  let extra: Map<string, string[]> | undefined;
  let names: readonly string[] | undefined;
  for (const prefix of prefixes) {
    if (!prefix) continue;
    const lowerPrefix = prefix.toLowerCase();
    const sameLength = lowerPrefix.length === prefix.length;
    names ??= req.headerNames();
    for (const name of names) {
      if (name.length < prefix.length) continue;
      // Node's names are already lower-case: startsWith decides without slicing; other names take the exact test.
      const fast = sameLength && name.startsWith(lowerPrefix);
      if (!fast && name.slice(0, prefix.length).toLowerCase() !== lowerPrefix) continue;
      const key = unescapeExtraKey(name.slice(prefix.length).toLowerCase());
      extra ??= new Map();
      let values = extra.get(key);
      if (!values) extra.set(key, (values = []));
      values.push(...req.header(name));
    }
  }
  return extra ? Object.fromEntries(extra) : {};
}

/** Header names (lower-case) this configuration reads on this request: the set Go clears after front-proxy auth. */
function consumedHeaders(req: AuthnRequest, config: RequestHeaderConfig): readonly string[] {
  const { named, namedSet, prefixes } = requestHeaderNames(config);
  let out: string[] | undefined;
  if (prefixes.length > 0) {
    for (const name of req.headerNames()) {
      if (namedSet.has(name) || (out !== undefined && out.includes(name))) continue;
      for (const p of prefixes) {
        if (name.startsWith(p)) {
          (out ??= [...named]).push(name);
          break;
        }
      }
    }
  }
  // Without extra headers on the request the answer is the configuration's own frozen list: no allocation.
  return out ?? named;
}

/**
 * Go's requestHeaderAuthRequestHandler (headers only, no certificate check: use {@link secureRequestHeaderAuthenticator}
 * unless something else already verified the proxy). No username → no opinion.
 */
export function requestHeaderAuthenticator(configProvider: RequestHeaderConfigProvider): RequestAuthenticator {
  const authenticate = (req: AuthnRequest): AuthenticationResult => {
    const config = configProvider.current();
    if (!config) return { ok: false };
    return fromHeaders(req, config);
  };
  return {
    async authenticateRequest(req): Promise<AuthenticationResult> {
      return authenticate(req);
    },
    // Header reads only: always answered at once.
    authenticateRequestSync: authenticate,
  };
}

function fromHeaders(req: AuthnRequest, config: RequestHeaderConfig): AuthenticationResult {
  const name = firstHeaderValue(req, config.usernameHeaders);
  if (!name) return { ok: false };
  const user: UserInfo = {
    name,
    uid: firstHeaderValue(req, config.uidHeaders),
    groups: allHeaderValues(req, config.groupHeaders),
    extra: extraFromHeaders(req, config.extraHeaderPrefixes),
  };
  return { ok: true, user, authenticator: 'requestheader', consumedHeaders: consumedHeaders(req, config) };
}

export interface SecureRequestHeaderOptions {
  /** The front-proxy CA (`--requestheader-client-ca-file` / ConfigMap `requestheader-client-ca-file`). */
  readonly caProvider: CABundleProvider;
  /** Header lists and allowed names (flags or ConfigMap). */
  readonly configProvider: RequestHeaderConfigProvider;
  /** Default: Date.now. */
  readonly clock?: Clock | undefined;
}

/**
 * Go's NewDynamicVerifyOptionsSecure: the client certificate must verify against the front-proxy CA (clientAuth EKU)
 * and its CN must be in `allowedNames` (exact, case-sensitive; empty list = any CN); only then are the X-Remote-*
 * headers read. No certificate, no CA or no configuration yet → no opinion.
 */
export function secureRequestHeaderAuthenticator(options: SecureRequestHeaderOptions): RequestAuthenticator {
  const { caProvider, configProvider } = options;
  const clock = options.clock ?? Date.now;
  const authenticate = (req: AuthnRequest): AuthenticationResult => {
    const config = configProvider.current();
    if (!config) return { ok: false };
    // Nothing escapes as an exception: see thrownRefusal.
    try {
      return fromVerifiedProxy(req, config);
    } catch (err) {
      return thrownRefusal('requestheader', caProvider, err);
    }
  };
  return {
    async authenticateRequest(req): Promise<AuthenticationResult> {
      return authenticate(req);
    },
    // Chain verification is CPU work (cached per connection and bundle version), never I/O: always answered at once.
    authenticateRequestSync: authenticate,
  };

  function fromVerifiedProxy(req: AuthnRequest, config: RequestHeaderConfig): AuthenticationResult {
    const outcome = verifyRequestCertificate(req, caProvider, clock);
    if (outcome.kind === 'no-opinion') return { ok: false };
    if (outcome.kind === 'failed') {
      const { leaf, failure } = outcome;
      return { ok: false, error: chainError('requestheader', caProvider, leaf, failure, failure.message) };
    }
    const leaf = outcome.chain[0]!;
    const cn = certificateFields(leaf).commonName;
    if (config.allowedNames.length > 0 && !config.allowedNames.includes(cn)) {
      return {
        ok: false,
        error: new KdaError('ERR_KDA_CN_NOT_ALLOWED', `x509: subject with cn=${cn} is not in the allowed list`, {
          details: {
            authenticator: 'requestheader',
            check: 'allowed-names',
            subjectCN: cn,
            issuer: issuerCommonName(leaf),
            caName: caProvider.name,
            allowedNames: [...config.allowedNames],
          },
        }),
      };
    }
    const r = fromHeaders(req, config);
    if (r.ok) return r;
    return {
      ok: false,
      declined: [
        {
          authenticator: 'requestheader',
          check: 'username-header',
          code: 'ERR_KDA_BAD_HEADER',
          subjectCN: cn,
          issuer: issuerCommonName(leaf),
          caName: caProvider.name,
          header: config.usernameHeaders.join(','),
          message: 'front-proxy certificate verified, but no username header has a non-empty first value',
        },
      ],
    };
  }
}
