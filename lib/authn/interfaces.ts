import type { X509Certificate } from 'node:crypto';
import type { KdaError, KdaErrorDetails } from '../errors.js';

/** The authenticated identity. `uid` is '' when unknown. */
export interface UserInfo {
  readonly name: string;
  readonly uid: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

/**
 * ok:true = authenticated; ok:false without error = "not my credentials";
 * ok:false with error = mine, and bad or uncheckable.
 */
export type AuthenticationResult =
  | {
      readonly ok: true;
      readonly user: UserInfo;
      readonly audiences?: readonly string[];
      /** Name of the authenticator that succeeded, e.g. `requestheader`, `x509`, `tokenreview`, `anonymous`. */
      readonly authenticator: string;
      /** Header names (lower-case) the adapter must strip before the handler runs. */
      readonly consumedHeaders?: readonly string[];
    }
  | {
      readonly ok: false;
      readonly error?: KdaError;
      /**
       * Why authenticators that had no opinion declined, when that explains a refusal better than the error
       * (e.g. a verified front-proxy certificate without a username header). Logged, never sent to the client.
       */
      readonly declined?: readonly KdaErrorDetails[];
    };

/** The framework-agnostic view of an incoming request, built once per request in lib/http. */
export interface AuthnRequest {
  readonly method: string;
  /** Path plus raw query, as received. */
  readonly url: string;
  /** One entry per header line, in arrival order, never comma-split. Name is case-insensitive. */
  header(name: string): readonly string[];
  /** Every header name present, lower-case. */
  headerNames(): readonly string[];
  /** Leaf first, then the intermediates the client sent; [] when none. */
  readonly peerCertificates: readonly X509Certificate[];
  /** Identity of the TLS connection, used to cache chain verdicts per socket. Undefined for non-TLS. */
  readonly connection?: object | undefined;
}

export interface RequestAuthenticator {
  authenticateRequest(req: AuthnRequest, signal?: AbortSignal): Promise<AuthenticationResult>;
  /**
   * Optional fast path: the result `authenticateRequest` would give for `req`, when it can be had without I/O (a
   * certificate verdict cached for the connection, a header read, a cached token), else undefined: "cannot say now,
   * call `authenticateRequest`". Lets a middleware answer a request without awaiting a promise per authenticator
   * layer. The contract: an answer is exactly the asynchronous one, with the same effects (counters, caches); an
   * undefined leaves nothing that the following `authenticateRequest` call repeats (no counted hit, no log line);
   * a throw is what the asynchronous call would reject with. Composites (union, group adder) answer when their
   * members do.
   */
  authenticateRequestSync?(req: AuthnRequest): AuthenticationResult | undefined;
}

/** Options of {@link TokenAuthenticator.authenticateToken}. */
export interface TokenAuthenticationOptions {
  readonly audiences?: readonly string[] | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface TokenAuthenticator {
  authenticateToken(token: string, opts?: TokenAuthenticationOptions): Promise<AuthenticationResult>;
  /**
   * Optional fast path, as {@link RequestAuthenticator.authenticateRequestSync}: the result `authenticateToken` would
   * give without I/O (a fresh cache hit), else undefined, leaving no trace (no counted hit or miss).
   */
  authenticateTokenSync?(
    token: string,
    opts?: Omit<TokenAuthenticationOptions, 'signal'>,
  ): AuthenticationResult | undefined;
}

export function requestAuthenticatorFunc(
  fn: (req: AuthnRequest, signal?: AbortSignal) => Promise<AuthenticationResult>,
): RequestAuthenticator {
  return { authenticateRequest: fn };
}

export function tokenAuthenticatorFunc(fn: TokenAuthenticator['authenticateToken']): TokenAuthenticator {
  return { authenticateToken: fn };
}
