// The cluster side of the composition: the two review clients (one pool when both kubeconfigs agree), the cached
// TokenReview authenticator and the trust source, as Go's delegating options build them.
import { cachedTokenAuthenticator, type CachedTokenAuthenticator } from '../authn/token-cache.js';
import { TokenReviewAuthenticator, type TokenReviewAuthenticatorOptions } from '../authn/token-review.js';
import type { Logger } from '../log.js';
import {
  ExtensionApiserverAuthentication,
  type ExtensionApiserverAuthenticationOptions,
} from './extension-apiserver-authentication.js';
import { loadConnectionConfig, type LoadConnectionConfigOptions } from './kubeconfig.js';
import { RestClient, type RestClientOptions } from './rest-client.js';
import {
  subjectAccessReviewClient,
  tokenReviewClient,
  type SubjectAccessReviewClient,
  type TokenReviewClient,
} from './review-clients.js';
import type { Clock } from '../util/clock.js';

export interface ClusterClientsOptions extends Pick<
  RestClientOptions,
  'timeout' | 'qps' | 'burst' | 'connections' | 'userAgent'
> {
  /** `--authentication-kubeconfig`; default `kubeconfig`, then `KUBECONFIG`, then in-cluster. */
  readonly authenticationKubeconfig?: string | undefined;
  /** `--authorization-kubeconfig`; default `kubeconfig`, then `KUBECONFIG`, then in-cluster. */
  readonly authorizationKubeconfig?: string | undefined;
  /** One kubeconfig for both. */
  readonly kubeconfig?: string | undefined;
  readonly env?: LoadConnectionConfigOptions['env'];
  readonly serviceAccountDir?: string;
}

/** The two clients of a delegating extension apiserver (one shared pool when both resolve to the same config). */
export interface ClusterClients {
  readonly authentication: RestClient;
  readonly authorization: RestClient;
  readonly tokenReview: TokenReviewClient;
  readonly subjectAccessReview: SubjectAccessReviewClient;
  close(): Promise<void>;
}

/** Loads the kubeconfig(s) (throws Go's `failed to get delegated … kubeconfig`) and builds the clients. No I/O beyond reading config files. */
export function createClusterClients(opts: ClusterClientsOptions = {}): ClusterClients {
  const common = {
    ...(opts.env && { env: opts.env }),
    ...(opts.serviceAccountDir && { serviceAccountDir: opts.serviceAccountDir }),
  };
  const restOpts = {
    ...(opts.timeout !== undefined && { timeout: opts.timeout }),
    ...(opts.qps !== undefined && { qps: opts.qps }),
    ...(opts.burst !== undefined && { burst: opts.burst }),
    ...(opts.connections !== undefined && { connections: opts.connections }),
    ...(opts.userAgent !== undefined && { userAgent: opts.userAgent }),
  };
  const authnPath = opts.authenticationKubeconfig ?? opts.kubeconfig;
  const authzPath = opts.authorizationKubeconfig ?? opts.kubeconfig;
  const authentication = new RestClient({
    connection: loadConnectionConfig({
      ...common,
      ...(authnPath && { kubeconfig: authnPath }),
      purpose: 'authentication',
    }),
    ...restOpts,
  });
  const authorization =
    authzPath === authnPath
      ? authentication
      : new RestClient({
          connection: loadConnectionConfig({
            ...common,
            ...(authzPath && { kubeconfig: authzPath }),
            purpose: 'authorization',
          }),
          ...restOpts,
        });
  return {
    authentication,
    authorization,
    tokenReview: tokenReviewClient(authentication),
    subjectAccessReview: subjectAccessReviewClient(authorization),
    async close() {
      await authentication.close();
      await authorization.close();
    },
  };
}

export interface DelegatedTokenAuthenticatorOptions extends Omit<TokenReviewAuthenticatorOptions, 'client'> {
  /** `--authentication-token-webhook-cache-ttl`, ms. Default 10_000. */
  readonly authenticationTokenWebhookCacheTtl?: number;
  /** Token cache bound, entries. Default 32_768. */
  readonly maxEntries?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** TokenReview authenticator wrapped in the token cache, as Go's delegating authenticator builds it. */
export function delegatedTokenAuthenticator(
  client: TokenReviewClient,
  opts: DelegatedTokenAuthenticatorOptions = {},
): CachedTokenAuthenticator {
  const { authenticationTokenWebhookCacheTtl, maxEntries, clock, ...reviewOpts } = opts;
  return cachedTokenAuthenticator(new TokenReviewAuthenticator({ ...reviewOpts, client }), {
    ...(authenticationTokenWebhookCacheTtl !== undefined && { authenticationTokenWebhookCacheTtl }),
    ...(maxEntries !== undefined && { maxEntries }),
    ...(clock && { clock }),
  });
}

/** The cluster trust source (see `ExtensionApiserverAuthentication`). */
export function extensionApiserverAuthentication(
  opts: ExtensionApiserverAuthenticationOptions = {},
): ExtensionApiserverAuthentication {
  return new ExtensionApiserverAuthentication(opts);
}
