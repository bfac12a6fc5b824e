import { KdaError } from '../errors.js';
import { invalidBearerToken, type BearerTokenOptions } from './bearer-token.js';
import type { AuthenticationResult, AuthnRequest, RequestAuthenticator, TokenAuthenticator } from './interfaces.js';

export const bearerProtocolPrefix = 'base64url.bearer.authorization.k8s.io.';

/**
 * wsstream.IsWebSocketRequest as Kubernetes 1.29+ has it: the first `Upgrade` line equals `websocket` (Go's
 * `strings.EqualFold`), and **any** `Connection` line contains `upgrade` in any case (`httpstream.IsUpgradeRequest`,
 * a substring test: `Connection: keep-alive, Upgrade` and a second `Connection: upgrade` line both count).
 *
 * Both are hand-written scans over the header text, deliberately without a regular expression: this runs on every
 * request before anyone is authenticated, and the pre-1.29 pattern `(^|.*,\s*)upgrade($|\s*,)` backtracks in V8
 * (one 16 kB `Connection` line cost ~0.4 s of CPU). Each scan here reads every character a bounded number of times.
 */
export function isWebSocketRequest(req: Pick<AuthnRequest, 'header'>): boolean {
  if (!equalFoldWebsocket(req.header('upgrade')[0] ?? '')) return false;
  for (const line of req.header('connection')) if (containsUpgrade(line)) return true;
  return false;
}

const websocket = 'websocket';
const upgrade = 'upgrade';

/** ASCII letter lower-cased; other code units unchanged. */
function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/**
 * Go's `strings.EqualFold(v, "websocket")`: Unicode simple case folding, under which the only non-ASCII code points
 * equivalent to a letter of `websocket` are KELVIN SIGN (U+212A, folds with k) and LATIN SMALL LETTER LONG S (U+017F,
 * folds with s).
 */
function equalFoldWebsocket(v: string): boolean {
  if (v.length !== websocket.length) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const want = websocket.charCodeAt(i);
    if (lowerAscii(c) === want) continue;
    if (want === 0x6b /* k */ && c === 0x212a) continue;
    if (want === 0x73 /* s */ && c === 0x17f) continue;
    return false;
  }
  return true;
}

/**
 * `strings.Contains(strings.ToLower(line), "upgrade")` without building the lower-cased copy. No code point outside
 * ASCII lower-cases (in Go) to a letter of `upgrade`, so ASCII folding is exact. A naive search: at most
 * `upgrade.length` comparisons per character, i.e. linear in the line.
 */
function containsUpgrade(line: string): boolean {
  const last = line.length - upgrade.length;
  for (let i = 0; i <= last; i++) {
    let j = 0;
    while (j < upgrade.length && lowerAscii(line.charCodeAt(i + j)) === upgrade.charCodeAt(j)) j++;
    if (j === upgrade.length) return true;
  }
  return false;
}

export type ProtocolToken =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'error'; readonly message: string };

/** base64.RawURLEncoding's alphabet and length rule (no padding; a length of 4n+1 cannot be decoded). */
function isRawUrlBase64(s: string): boolean {
  if (s.length % 4 === 1) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Go's websocket ProtocolAuthenticator parsing of `Sec-WebSocket-Protocol` lines. */
export function parseProtocolToken(lines: readonly string[]): ProtocolToken {
  let token = '';
  let sawToken = false;
  let others = 0;
  for (const line of lines) {
    for (const raw of line.split(',')) {
      const protocol = raw.trim();
      if (!protocol.startsWith(bearerProtocolPrefix)) {
        others++;
        continue;
      }
      if (sawToken) return { kind: 'error', message: 'multiple base64.bearer.authorization tokens specified' };
      sawToken = true;
      const encoded = protocol.slice(bearerProtocolPrefix.length);
      // base64.RawURLEncoding: URL alphabet, no padding.
      if (!isRawUrlBase64(encoded)) {
        return { kind: 'error', message: 'invalid base64.bearer.authorization token encoding' };
      }
      try {
        token = utf8.decode(Buffer.from(encoded, 'base64url'));
      } catch {
        return { kind: 'error', message: 'invalid base64.bearer.authorization token' };
      }
    }
  }
  if (token.length > 0 && others === 0) return { kind: 'error', message: 'missing additional subprotocol' };
  if (token.length === 0) return { kind: 'none' };
  return { kind: 'token', token };
}

/**
 * Go's websocket ProtocolAuthenticator: for WebSocket upgrades, a bearer token carried as the subprotocol
 * `base64url.bearer.authorization.k8s.io.<base64url(token)>`. On success `sec-websocket-protocol` is reported consumed:
 * the adapter removes only the token entry and keeps the other protocols.
 */
export function websocketProtocolAuthenticator(
  tokens: TokenAuthenticator,
  options: BearerTokenOptions = {},
): RequestAuthenticator {
  const audiences = options.audiences;
  const fail = (message: string): AuthenticationResult => ({
    ok: false,
    error: new KdaError('ERR_KDA_TOKEN_REJECTED', message, {
      details: { authenticator: 'websocket-protocol', check: 'token', header: 'sec-websocket-protocol' },
    }),
  });
  const fromToken = (r: AuthenticationResult): AuthenticationResult => {
    if (r.ok) return { ...r, consumedHeaders: [...(r.consumedHeaders ?? []), 'sec-websocket-protocol'] };
    return r.error ? r : fail(invalidBearerToken);
  };
  const tokenOptions = { audiences };
  return {
    async authenticateRequest(req, signal): Promise<AuthenticationResult> {
      if (!isWebSocketRequest(req)) return { ok: false };
      const parsed = parseProtocolToken(req.header('sec-websocket-protocol'));
      if (parsed.kind === 'none') return { ok: false };
      if (parsed.kind === 'error') return fail(parsed.message);
      return fromToken(await tokens.authenticateToken(parsed.token, { audiences, signal }));
    },
    authenticateRequestSync(req): AuthenticationResult | undefined {
      if (!isWebSocketRequest(req)) return { ok: false };
      const parsed = parseProtocolToken(req.header('sec-websocket-protocol'));
      if (parsed.kind === 'none') return { ok: false };
      if (parsed.kind === 'error') return fail(parsed.message);
      const r = tokens.authenticateTokenSync?.(parsed.token, tokenOptions);
      return r === undefined ? undefined : fromToken(r);
    },
  };
}
