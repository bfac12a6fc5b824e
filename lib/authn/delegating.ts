import { InvalidOptionError, KdaError } from '../errors.js';
import type { CABundleProvider, RequestHeaderConfigProvider } from '../trust/interfaces.js';
import { anonymousAuthenticator } from './anonymous.js';
import { bearerTokenAuthenticator } from './bearer-token.js';
import { authenticatedGroupAdder } from './group-adder.js';
import type { RequestAuthenticator, TokenAuthenticator } from './interfaces.js';
import { secureRequestHeaderAuthenticator } from './request-header.js';
import { unionAuthenticators, unionAuthenticatorsFailOnError } from './union.js';
import { websocketProtocolAuthenticator } from './websocket-protocol.js';
import { x509Authenticator, type Clock } from './x509.js';

export interface DelegatingAuthenticatorOptions {
  /** Front-proxy (aggregator) authentication: the front-proxy CA and the header configuration. Default: off. */
  readonly requestHeader?: {
    readonly caProvider: CABundleProvider;
    readonly configProvider: RequestHeaderConfigProvider;
  };
  /** Client-certificate authentication (CN → user, O → groups) against this CA. Default: off. */
  readonly clientCA?: CABundleProvider;
  /** Bearer-token authentication (usually a cached TokenReview authenticator). Default: off. */
  readonly tokenAuthenticator?: TokenAuthenticator;
  /** Audiences passed with bearer tokens. Default: none, as in the delegated Go setup. */
  readonly apiAudiences?: readonly string[];
  /**
   * Requests without credentials become `system:anonymous`. Default true (Go always enables it for delegation).
   * false really refuses them (Go 1.26–1.30 `DisableAnonymous`; ignored by Go 1.31+, honoured here).
   */
  readonly anonymous?: boolean;
  /** Default: Date.now. */
  readonly clock?: Clock;
}

/**
 * Go's DelegatingAuthenticatorConfig.New:
 * `FailOnErrorUnion(AuthenticatedGroupAdder(Union(requestheader, x509, bearer, websocket)), Anonymous)`.
 * Order is fixed (front-proxy first). Bad credentials are refused even with anonymous on; missing ones are
 * anonymous. Throws `no authentication method configured` when nothing is configured and anonymous is off.
 */
export function newDelegatingAuthenticator(options: DelegatingAuthenticatorOptions = {}): RequestAuthenticator {
  validate(options);
  const { requestHeader, clientCA, tokenAuthenticator, clock } = options;
  const anonymous = options.anonymous ?? true;
  const members: RequestAuthenticator[] = [];
  if (requestHeader) {
    members.push(
      secureRequestHeaderAuthenticator({
        caProvider: requestHeader.caProvider,
        configProvider: requestHeader.configProvider,
        clock,
      }),
    );
  }
  if (clientCA) members.push(x509Authenticator({ caProvider: clientCA, clock }));
  if (tokenAuthenticator) {
    const audiences = options.apiAudiences;
    members.push(bearerTokenAuthenticator(tokenAuthenticator, { audiences }));
    members.push(websocketProtocolAuthenticator(tokenAuthenticator, { audiences }));
  }
  if (members.length === 0) {
    if (anonymous) return anonymousAuthenticator();
    throw new KdaError('ERR_KDA_INVALID_OPTION', 'no authentication method configured');
  }
  const authenticated = authenticatedGroupAdder(unionAuthenticators(...members));
  return anonymous ? unionAuthenticatorsFailOnError(authenticated, anonymousAuthenticator()) : authenticated;
}

const isProvider = (p: unknown): boolean =>
  typeof p === 'object' && p !== null && typeof (p as { current?: unknown }).current === 'function';

/** Collects every wiring mistake at once (Go's Validate() []error). */
function validate(o: DelegatingAuthenticatorOptions): void {
  const problems: string[] = [];
  if (o.requestHeader !== undefined) {
    if (!isProvider(o.requestHeader.caProvider)) {
      problems.push('"requestHeader.caProvider" must be a CABundleProvider (with current())');
    }
    if (!isProvider(o.requestHeader.configProvider)) {
      problems.push('"requestHeader.configProvider" must be a RequestHeaderConfigProvider (with current())');
    }
  }
  if (o.clientCA !== undefined && !isProvider(o.clientCA)) {
    problems.push('"clientCA" must be a CABundleProvider (with current())');
  }
  if (o.tokenAuthenticator !== undefined && typeof o.tokenAuthenticator?.authenticateToken !== 'function') {
    problems.push('"tokenAuthenticator" must implement authenticateToken');
  }
  if (o.anonymous !== undefined && typeof o.anonymous !== 'boolean') problems.push('"anonymous" must be a boolean');
  if (o.clock !== undefined && typeof o.clock !== 'function') problems.push('"clock" must be a function');
  if (problems.length > 0) throw new InvalidOptionError(problems);
}
