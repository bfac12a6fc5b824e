import { KdaError } from '../errors.js';
import type { AuthenticationResult, RequestAuthenticator, TokenAuthenticator } from './interfaces.js';

export interface BearerTokenOptions {
  /** Audiences passed to the token authenticator; default none (the delegated setup never sets API audiences). */
  readonly audiences?: readonly string[] | undefined;
}

/** Go's bearertoken.Authenticator text for a token the token authenticator rejected without an error. */
export const invalidBearerToken = 'invalid bearer token';

/** Go's bearertoken parsing: `Authorization: Bearer <token>` → the token, or undefined (no opinion). */
export function parseBearerToken(authorization: string | undefined): string | undefined {
  const auth = (authorization ?? '').trim();
  if (auth === '') return undefined;
  const parts = auth.split(' ');
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer') return undefined;
  // SplitN(auth, " ", 3): the token is the second field; an empty one (two spaces) is ignored, a third is ignored.
  const token = parts[1]!;
  return token === '' ? undefined : token;
}

/**
 * Go's bearertoken.Authenticator: reads the first `Authorization` line; a non-bearer or missing header is no opinion;
 * a token the inner authenticator does not accept is an error (`invalid bearer token` unless it gave one), so a bad
 * token gets 401 even with anonymous enabled. On success `authorization` is reported consumed.
 */
export function bearerTokenAuthenticator(
  tokens: TokenAuthenticator,
  options: BearerTokenOptions = {},
): RequestAuthenticator {
  const audiences = options.audiences;
  const tokenOptions = { audiences };
  return {
    async authenticateRequest(req, signal): Promise<AuthenticationResult> {
      const token = parseBearerToken(req.header('authorization')[0]);
      if (token === undefined) return { ok: false };
      return bearerResult(await tokens.authenticateToken(token, { audiences, signal }));
    },
    authenticateRequestSync(req): AuthenticationResult | undefined {
      const token = parseBearerToken(req.header('authorization')[0]);
      if (token === undefined) return { ok: false };
      const r = tokens.authenticateTokenSync?.(token, tokenOptions);
      return r === undefined ? undefined : bearerResult(r);
    },
  };
}

/** The request's answer for the token authenticator's. */
function bearerResult(r: AuthenticationResult): AuthenticationResult {
  if (r.ok) return { ...r, consumedHeaders: [...(r.consumedHeaders ?? []), 'authorization'] };
  if (r.error) return r;
  return {
    ok: false,
    error: new KdaError('ERR_KDA_TOKEN_REJECTED', invalidBearerToken, {
      details: { authenticator: 'bearer-token', check: 'token', header: 'authorization' },
    }),
  };
}
