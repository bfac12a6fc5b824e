import { newDelegatingAuthenticator } from './authn/delegating.js';
import type { RequestAuthenticator } from './authn/interfaces.js';
import type { CachedTokenAuthenticator } from './authn/token-cache.js';
import { newDelegatingAuthorizer, type DelegatingAuthorizer } from './authz/delegating.js';
import type { Authorizer } from './authz/interfaces.js';
import {
  createClusterClients,
  delegatedTokenAuthenticator,
  extensionApiserverAuthentication,
  type ClusterClients,
  type ExtensionApiserverAuthentication,
} from './cluster/index.js';
import { KdaError } from './errors.js';
import { noopLogger, type Logger } from './log.js';
import type { TrustSource, TrustStatus } from './trust/interfaces.js';

/**
 * Everything Go's `DelegatingAuthenticationOptions` + `DelegatingAuthorizationOptions` configure, under the names of
 * their flags. Durations are milliseconds.
 */
export interface DelegatedAuthOptions {
  /** One kubeconfig for both reviews and the ConfigMap. Default: `KUBECONFIG`, then the in-cluster service account. */
  readonly kubeconfig?: string;
  /** `--authentication-kubeconfig`: TokenReview and the ConfigMap. Default: `kubeconfig`. */
  readonly authenticationKubeconfig?: string;
  /** `--authorization-kubeconfig`: SubjectAccessReview. Default: `kubeconfig`. */
  readonly authorizationKubeconfig?: string;
  /** Environment used to find KUBECONFIG / KUBERNETES_SERVICE_HOST. Default: `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** `--client-ca-file`: overrides the ConfigMap's `client-ca-file`. */
  readonly clientCaFile?: string;
  /** `--requestheader-client-ca-file`: overrides the ConfigMap; the header lists below then apply. */
  readonly requestheaderClientCaFile?: string;
  /** `--requestheader-username-headers`. Default `['x-remote-user']` (with a CA file), else the ConfigMap's. */
  readonly requestheaderUsernameHeaders?: readonly string[];
  /** `--requestheader-uid-headers`. Default `[]`. */
  readonly requestheaderUidHeaders?: readonly string[];
  /** `--requestheader-group-headers`. Default `['x-remote-group']`. */
  readonly requestheaderGroupHeaders?: readonly string[];
  /** `--requestheader-extra-headers-prefix`. Default `['x-remote-extra-']`. */
  readonly requestheaderExtraHeadersPrefix?: readonly string[];
  /** `--requestheader-allowed-names`. Default `[]` = any CN signed by the front-proxy CA. */
  readonly requestheaderAllowedNames?: readonly string[];
  /** `--authentication-skip-lookup`: don't read the ConfigMap. Default false. */
  readonly authenticationSkipLookup?: boolean;
  /** `--authentication-tolerate-lookup-failure`: start even when the ConfigMap can't be read. Default false. */
  readonly authenticationTolerateLookupFailure?: boolean;
  /** Drop trust (refuse) instead of keeping last-known-good when the ConfigMap is deleted or garbled. Default false. */
  readonly failClosedOnTrustError?: boolean;
  /** `--authentication-token-webhook-cache-ttl`, ms. Default 10_000. */
  readonly authenticationTokenWebhookCacheTtl?: number;
  /** `--authorization-webhook-cache-authorized-ttl`, ms. Default 10_000. */
  readonly authorizationWebhookCacheAuthorizedTtl?: number;
  /** `--authorization-webhook-cache-unauthorized-ttl`, ms. Default 10_000. */
  readonly authorizationWebhookCacheUnauthorizedTtl?: number;
  /** `--authorization-always-allow-paths`. Default `['/healthz', '/readyz', '/livez']`. */
  readonly authorizationAlwaysAllowPaths?: readonly string[];
  /** Groups allowed without a review. Default `['system:masters']`. */
  readonly authorizationAlwaysAllowGroups?: readonly string[];
  /** Consulted after the always-allow authorizers, before the SubjectAccessReview. Default none. */
  readonly additionalAuthorizers?: readonly Authorizer[];
  /** Serve an expired *allowed* decision for this long while kube-apiserver fails, ms. Default 0 (off). */
  readonly staleIfErrorTtl?: number;
  /** Send field/label selector requirements in SubjectAccessReviews (clusters 1.31+). Default false. */
  readonly authorizationSelectors?: boolean;
  /** Requests without credentials become `system:anonymous`. Default true, as in Go; false refuses them with 401. */
  readonly anonymous?: boolean;
  /** Audiences requested for bearer tokens. Default none (Go's delegated setup sends none). */
  readonly apiAudiences?: readonly string[];
  /** Default: silent (NODE_DEBUG=kube-delegated-auth prints). */
  readonly logger?: Logger;
}

/** The assembled stack: the parts the framework adapters use, and its lifecycle. */
export interface DelegatedAuth {
  readonly authenticator: RequestAuthenticator;
  readonly authorizer: DelegatingAuthorizer;
  readonly tokenAuthenticator: CachedTokenAuthenticator;
  readonly trust: TrustSource;
  readonly clients: ClusterClients;
  readonly options: DelegatedAuthOptions;
  /** Reads the ConfigMap once (fails as Go does, e.g. with the `kubectl create rolebinding` fix) and starts watching. */
  start(signal?: AbortSignal): Promise<void>;
  /** Trust sources' health, for /readyz?verbose and metrics. */
  status(): readonly TrustStatus[];
  /** Stops the watch, timers and keep-alive connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Builds Go's delegated authentication and authorization against a cluster: trust from
 * kube-system/extension-apiserver-authentication (watched), front-proxy + client-certificate + cached TokenReview
 * authentication, and always-allow + cached SubjectAccessReview authorization. No I/O until `start()`.
 */
export function createDelegatedAuth(options: DelegatedAuthOptions = {}): DelegatedAuth {
  const logger = options.logger ?? noopLogger;
  const clients = createClusterClients({
    ...(options.kubeconfig !== undefined && { kubeconfig: options.kubeconfig }),
    ...(options.authenticationKubeconfig !== undefined && {
      authenticationKubeconfig: options.authenticationKubeconfig,
    }),
    ...(options.authorizationKubeconfig !== undefined && { authorizationKubeconfig: options.authorizationKubeconfig }),
    ...(options.env !== undefined && { env: options.env }),
  });
  const trust: ExtensionApiserverAuthentication = extensionApiserverAuthentication({
    client: clients.authentication,
    logger,
    ...(options.authenticationSkipLookup !== undefined && {
      authenticationSkipLookup: options.authenticationSkipLookup,
    }),
    ...(options.authenticationTolerateLookupFailure !== undefined && {
      authenticationTolerateLookupFailure: options.authenticationTolerateLookupFailure,
    }),
    ...(options.failClosedOnTrustError !== undefined && { failClosedOnTrustError: options.failClosedOnTrustError }),
    ...(options.clientCaFile !== undefined && { clientCaFile: options.clientCaFile }),
    // As in Go, the header flags apply together with --requestheader-client-ca-file; otherwise the ConfigMap's lists.
    ...(options.requestheaderClientCaFile !== undefined && {
      requestheaderClientCaFile: options.requestheaderClientCaFile,
      ...(options.requestheaderUsernameHeaders && {
        requestheaderUsernameHeaders: options.requestheaderUsernameHeaders,
      }),
      ...(options.requestheaderUidHeaders && { requestheaderUidHeaders: options.requestheaderUidHeaders }),
      ...(options.requestheaderGroupHeaders && { requestheaderGroupHeaders: options.requestheaderGroupHeaders }),
      ...(options.requestheaderExtraHeadersPrefix && {
        requestheaderExtraHeadersPrefix: options.requestheaderExtraHeadersPrefix,
      }),
      ...(options.requestheaderAllowedNames && { requestheaderAllowedNames: options.requestheaderAllowedNames }),
    }),
  });
  const tokenAuthenticator = delegatedTokenAuthenticator(clients.tokenReview, {
    logger,
    ...(options.authenticationTokenWebhookCacheTtl !== undefined && {
      authenticationTokenWebhookCacheTtl: options.authenticationTokenWebhookCacheTtl,
    }),
  });
  const authenticator = newDelegatingAuthenticator({
    requestHeader: { caProvider: trust.requestHeaderCA, configProvider: trust.requestHeaderConfig },
    clientCA: trust.clientCA,
    tokenAuthenticator,
    ...(options.anonymous !== undefined && { anonymous: options.anonymous }),
    ...(options.apiAudiences !== undefined && { apiAudiences: options.apiAudiences }),
  });
  const authorizer = newDelegatingAuthorizer({
    client: clients.subjectAccessReview,
    logger,
    ...(options.authorizationAlwaysAllowPaths !== undefined && {
      authorizationAlwaysAllowPaths: options.authorizationAlwaysAllowPaths,
    }),
    ...(options.authorizationAlwaysAllowGroups !== undefined && {
      authorizationAlwaysAllowGroups: options.authorizationAlwaysAllowGroups,
    }),
    ...(options.additionalAuthorizers !== undefined && { additionalAuthorizers: options.additionalAuthorizers }),
    ...(options.authorizationWebhookCacheAuthorizedTtl !== undefined && {
      authorizationWebhookCacheAuthorizedTtl: options.authorizationWebhookCacheAuthorizedTtl,
    }),
    ...(options.authorizationWebhookCacheUnauthorizedTtl !== undefined && {
      authorizationWebhookCacheUnauthorizedTtl: options.authorizationWebhookCacheUnauthorizedTtl,
    }),
    ...(options.staleIfErrorTtl !== undefined && { staleIfErrorTtl: options.staleIfErrorTtl }),
  });

  let state: 'new' | 'started' | 'closed' = 'new';
  let closing: Promise<void> | undefined;
  return {
    authenticator,
    authorizer,
    tokenAuthenticator,
    trust,
    clients,
    options,
    async start(signal) {
      if (state === 'closed') throw new KdaError('ERR_KDA_CLOSED', 'delegated auth is closed');
      if (state === 'started') return;
      await trust.runOnce(signal);
      trust.start();
      state = 'started';
    },
    status: () => trust.status(),
    close() {
      state = 'closed';
      closing ??= (async () => {
        await trust.close();
        await authorizer.close();
        await clients.close();
      })();
      return closing;
    },
  };
}
