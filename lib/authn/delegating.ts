import { KdaError } from '../errors.js';
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
