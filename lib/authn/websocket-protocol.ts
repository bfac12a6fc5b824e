import { KdaError } from '../errors.js';
import { invalidBearerToken, type BearerTokenOptions } from './bearer-token.js';
import type { AuthenticationResult, AuthnRequest, RequestAuthenticator, TokenAuthenticator } from './interfaces.js';

export const bearerProtocolPrefix = 'base64url.bearer.authorization.k8s.io.';

/** wsstream.IsWebSocketRequest: `Upgrade: websocket` and a `Connection` header listing `upgrade`. */
export function isWebSocketRequest(req: Pick<AuthnRequest, 'header'>): boolean {
  if ((req.header('upgrade')[0] ?? '').toLowerCase() !== 'websocket') return false;
  return /(^|.*,\s*)upgrade($|\s*,)/.test((req.header('connection')[0] ?? '').toLowerCase());
}

export type ProtocolToken =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'error'; readonly message: string };

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
      if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1) {
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
  return {
    async authenticateRequest(req, signal): Promise<AuthenticationResult> {
      if (!isWebSocketRequest(req)) return { ok: false };
      const parsed = parseProtocolToken(req.header('sec-websocket-protocol'));
      if (parsed.kind === 'none') return { ok: false };
      if (parsed.kind === 'error') return fail(parsed.message);
      const r = await tokens.authenticateToken(parsed.token, { audiences, signal });
      if (r.ok) return { ...r, consumedHeaders: [...(r.consumedHeaders ?? []), 'sec-websocket-protocol'] };
      return r.error ? r : fail(invalidBearerToken);
    },
  };
}
