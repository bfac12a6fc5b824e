// The composition root, over ~350 lines because it assembles both modes of the one stack (cluster: ConfigMap trust,
// TokenReview, SubjectAccessReview; local: CA files) and their shared lifecycle; the parts live in their rooms.
import { newDelegatingAuthenticator, type DelegatingAuthenticatorOptions } from './authn/delegating.js';
import type { RequestAuthenticator } from './authn/interfaces.js';
import type { CachedTokenAuthenticator } from './authn/token-cache.js';
import {
  newDelegatingAuthorizer,
  type DelegatingAuthorizer,
  type DelegatingAuthorizerOptions,
} from './authz/delegating.js';
import type { Authorizer } from './authz/interfaces.js';
import type { SubjectAccessReviewAuthorizerOptions } from './authz/subject-access-review.js';
import {
  createClusterClients,
  delegatedTokenAuthenticator,
  extensionApiserverAuthentication,
  type ClusterClients,
} from './cluster/clients.js';
import type {
  ExtensionApiserverAuthentication,
  ExtensionApiserverAuthenticationOptions,
} from './cluster/extension-apiserver-authentication.js';
import { InvalidOptionError, KdaError } from './errors.js';
import { noopLogger, type Logger } from './log.js';
import type { DelegatedAuthPipelineOptions, DelegatedAuthPipelineSource } from './http/pipeline.js';
import type { KdaMetrics } from './metrics/metrics.js';
import type { CABundleProvider, Listener, TrustSource, TrustStatus } from './trust/interfaces.js';
import { fileCABundle, staticRequestHeaderConfig, type FileCABundleProvider } from './trust/static.js';

/** The trust options (`--client-ca-file`, `--requestheader-*`, lookup flags, `failClosedOnTrustError`, ...). */
type TrustOptions = Omit<ExtensionApiserverAuthenticationOptions, 'client' | 'logger' | 'clock'>;

/**
 * Everything Go's `DelegatingAuthenticationOptions` + `DelegatingAuthorizationOptions` configure, under the names of
 * their flags. Durations are milliseconds. The trust options (`clientCaFile`, `requestheaderClientCaFile`,
 * `requestheaderAllowedNames` and the other `requestheader*` lists, `authenticationSkipLookup`,
 * `authenticationTolerateLookupFailure`, `failClosedOnTrustError`) are those of `ExtensionApiserverAuthentication`:
 * each one set overrides its ConfigMap key.
 */
export interface DelegatedAuthOptions
  extends
    TrustOptions,
    Pick<DelegatingAuthorizerOptions, 'authorizationAlwaysAllowPaths' | 'authorizationAlwaysAllowGroups'>,
    Pick<
      SubjectAccessReviewAuthorizerOptions,
      'authorizationWebhookCacheAuthorizedTtl' | 'authorizationWebhookCacheUnauthorizedTtl' | 'staleIfErrorTtl'
    >,
    Pick<DelegatingAuthenticatorOptions, 'anonymous' | 'apiAudiences'> {
  /**
   * `'cluster'` (default): trust from kube-system/extension-apiserver-authentication, TokenReview and
   * SubjectAccessReview through a kubeconfig. `'local'`: no cluster and no kubeconfig; trust from `clientCaFile`
   * and/or `requestheaderClientCaFile` (re-read when they change, every `pollInterval`), the `requestheader*` lists
   * as given (Go's defaults otherwise), no bearer tokens, and authorization by `authorizationAlwaysAllowGroups`,
   * `authorizationAlwaysAllowPaths` and `additionalAuthorizers` (e.g. `staticPolicyAuthorizer(policy)`); every other
   * request is 403. Options that only make sense against a cluster are an `InvalidOptionError` in local mode.
   */
  readonly mode?: 'cluster' | 'local';
  /** One kubeconfig for both reviews and the ConfigMap. Default: `KUBECONFIG`, then the in-cluster service account. */
  readonly kubeconfig?: string | undefined;
  /** `--authentication-kubeconfig`: TokenReview and the ConfigMap. Default: `kubeconfig`. */
  readonly authenticationKubeconfig?: string | undefined;
  /** `--authorization-kubeconfig`: SubjectAccessReview. Default: `kubeconfig`. */
  readonly authorizationKubeconfig?: string | undefined;
  /** Environment used to find KUBECONFIG / KUBERNETES_SERVICE_HOST. Default: `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** `--authentication-token-webhook-cache-ttl`, ms. Default 10_000. */
  readonly authenticationTokenWebhookCacheTtl?: number;
  /** Consulted after the always-allow authorizers, before the SubjectAccessReview. Default none. */
  readonly additionalAuthorizers?: readonly Authorizer[];
  /** Send field/label selector requirements in SubjectAccessReviews (clusters 1.31+). Default false. */
  readonly authorizationSelectors?: boolean;
  /** Default: silent (NODE_DEBUG=kube-delegated-auth prints). */
  readonly logger?: Logger;
  /**
   * Records the stack into these metrics (`createMetrics()` from `kube-delegated-auth/metrics`): each TokenReview and
   * SubjectAccessReview call, the token and decision caches, and the trust sources' state; removed again by
   * `close()` (the metrics object itself stays open: it is the caller's). Default: none.
   */
  readonly metrics?: Pick<
    KdaMetrics,
    'instrument' | 'instrumentTokenReviewClient' | 'instrumentSubjectAccessReviewClient'
  >;
}

/** Copies the keys of `from` that are set (exactOptionalPropertyTypes-friendly forwarding of options). */
function definedOnly<T extends object>(from: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(from)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * The assembled stack: the parts the framework adapters use, and its lifecycle. Every adapter's
 * `delegatedAuth(stack)` reads it through `pipelineOptions()`.
 */
export interface DelegatedAuth extends DelegatedAuthPipelineSource {
  readonly authenticator: RequestAuthenticator;
  readonly authorizer: DelegatingAuthorizer;
  /** The cached TokenReview authenticator; undefined in local mode (no bearer tokens without a cluster). */
  readonly tokenAuthenticator: CachedTokenAuthenticator | undefined;
  readonly trust: TrustSource;
  /** The kubeconfig-backed clients; undefined in local mode. */
  readonly clients: ClusterClients | undefined;
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
  if (options.mode === 'local') return createLocalDelegatedAuth(options);
  if (options.mode !== undefined && options.mode !== 'cluster') {
    throw new InvalidOptionError([`"mode": must be 'cluster' or 'local', got ${JSON.stringify(options.mode)}`]);
  }
  const logger = options.logger ?? noopLogger;
  const o = options;
  const clients = createClusterClients(
    definedOnly({
      kubeconfig: o.kubeconfig,
      authenticationKubeconfig: o.authenticationKubeconfig,
      authorizationKubeconfig: o.authorizationKubeconfig,
      env: o.env,
    }),
  );
  const trust: ExtensionApiserverAuthentication = extensionApiserverAuthentication({
    ...definedOnly({
      namespace: o.namespace,
      name: o.name,
      authenticationSkipLookup: o.authenticationSkipLookup,
      authenticationTolerateLookupFailure: o.authenticationTolerateLookupFailure,
      clientCaFile: o.clientCaFile,
      requestheaderClientCaFile: o.requestheaderClientCaFile,
      requestheaderUsernameHeaders: o.requestheaderUsernameHeaders,
      requestheaderUidHeaders: o.requestheaderUidHeaders,
      requestheaderGroupHeaders: o.requestheaderGroupHeaders,
      requestheaderExtraHeadersPrefix: o.requestheaderExtraHeadersPrefix,
      requestheaderAllowedNames: o.requestheaderAllowedNames,
      failClosedOnTrustError: o.failClosedOnTrustError,
      pollInterval: o.pollInterval,
      watchTimeoutSeconds: o.watchTimeoutSeconds,
      retryDelay: o.retryDelay,
      maxRetryDelay: o.maxRetryDelay,
    }),
    client: clients.authentication,
    logger,
  });
  const metrics = o.metrics;
  const tokenAuthenticator = delegatedTokenAuthenticator(
    metrics ? metrics.instrumentTokenReviewClient(clients.tokenReview) : clients.tokenReview,
    {
      ...definedOnly({ authenticationTokenWebhookCacheTtl: o.authenticationTokenWebhookCacheTtl }),
      logger,
    },
  );
  const authenticator = newDelegatingAuthenticator({
    ...definedOnly({ anonymous: o.anonymous, apiAudiences: o.apiAudiences }),
    requestHeader: { caProvider: trust.requestHeaderCA, configProvider: trust.requestHeaderConfig },
    clientCA: trust.clientCA,
    tokenAuthenticator,
  });
  const authorizer = newDelegatingAuthorizer({
    ...definedOnly({
      authorizationAlwaysAllowPaths: o.authorizationAlwaysAllowPaths,
      authorizationAlwaysAllowGroups: o.authorizationAlwaysAllowGroups,
      additionalAuthorizers: o.additionalAuthorizers,
      authorizationWebhookCacheAuthorizedTtl: o.authorizationWebhookCacheAuthorizedTtl,
      authorizationWebhookCacheUnauthorizedTtl: o.authorizationWebhookCacheUnauthorizedTtl,
      staleIfErrorTtl: o.staleIfErrorTtl,
    }),
    client: metrics
      ? metrics.instrumentSubjectAccessReviewClient(clients.subjectAccessReview)
      : clients.subjectAccessReview,
    logger,
  });
  // Scrape-time sources only: registering them does no I/O.
  const uninstrument = metrics?.instrument({ tokenCache: tokenAuthenticator, authorizer, trustSource: trust });

  return {
    authenticator,
    authorizer,
    tokenAuthenticator,
    trust,
    clients,
    options,
    pipelineOptions: () => pipelineOptions(authenticator, authorizer, trust, o),
    ...stackLifecycle(trust, async () => {
      await authorizer.close();
      await clients.close();
      uninstrument?.();
    }),
  };
}

/** Options that need a cluster (kubeconfig, ConfigMap lookup, TokenReview, SubjectAccessReview): refused in local mode. */
const clusterOnlyOptions = [
  'kubeconfig',
  'authenticationKubeconfig',
  'authorizationKubeconfig',
  'authenticationSkipLookup',
  'authenticationTolerateLookupFailure',
  'namespace',
  'name',
  'watchTimeoutSeconds',
  'retryDelay',
  'maxRetryDelay',
  'failClosedOnTrustError',
  'authenticationTokenWebhookCacheTtl',
  'authorizationWebhookCacheAuthorizedTtl',
  'authorizationWebhookCacheUnauthorizedTtl',
  'staleIfErrorTtl',
  'apiAudiences',
  'authorizationSelectors',
] as const satisfies readonly (keyof DelegatedAuthOptions)[];

/** The CA file options of local mode, with the flag each one is named after. */
const localCaFileOptions = [
  ['clientCaFile', '--client-ca-file'],
  ['requestheaderClientCaFile', '--requestheader-client-ca-file'],
] as const;

/**
 * What adapters run for a stack: its authenticator and authorizer, its live front-proxy header configuration (the
 * headers to strip), and the stack's `authorizationSelectors` and `logger`.
 */
function pipelineOptions(
  authenticator: RequestAuthenticator,
  authorizer: Authorizer,
  trust: TrustSource,
  o: DelegatedAuthOptions,
): DelegatedAuthPipelineOptions {
  return {
    authenticator,
    authorizer,
    requestHeader: { caProvider: trust.requestHeaderCA, configProvider: trust.requestHeaderConfig },
    ...definedOnly({ authorizationSelectors: o.authorizationSelectors, logger: o.logger }),
  };
}

/**
 * start/status/close of a stack, the same in both modes: start() primes the trust source once (Go's RunOnce) and
 * then follows it; close() is idempotent, stops the trust source first, then whatever else the mode holds.
 */
function stackLifecycle(
  trust: TrustSource,
  closeRest: () => Promise<void>,
): Pick<DelegatedAuth, 'start' | 'status' | 'close'> {
  let state: 'new' | 'started' | 'closed' = 'new';
  let closing: Promise<void> | undefined;
  return {
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
        await closeRest();
      })();
      return closing;
    },
  };
}

/** An empty CA provider: the authenticator using it has no opinion (Go: flag not set, authenticator not built). */
function absentCABundle(name: string): CABundleProvider {
  return { name, current: () => undefined, addListener: () => () => {} };
}

/**
 * Local mode of {@link createDelegatedAuth}: trust from CA files (Go's DynamicFileCAContent, re-read on change), the
 * request-header lists from options, no TokenReview and no SubjectAccessReview. No I/O until `start()`, which reads
 * every file once and rejects (naming the file) if one is unreadable or holds no certificate.
 */
function createLocalDelegatedAuth(o: DelegatedAuthOptions): DelegatedAuth {
  const logger = o.logger ?? noopLogger;
  const problems: string[] = [];
  for (const key of clusterOnlyOptions) {
    if (o[key] !== undefined) problems.push(`"${key}": not supported with mode 'local' (it needs a cluster)`);
  }
  if (o.metrics !== undefined) problems.push(`"metrics": not supported with mode 'local' yet`);
  for (const [key, flag] of localCaFileOptions) {
    const value = o[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      problems.push(`"${key}" (${flag}): must be a non-empty file path`);
    }
  }
  if (!o.clientCaFile && !o.requestheaderClientCaFile) {
    problems.push(
      `mode 'local' needs "clientCaFile" (--client-ca-file) and/or "requestheaderClientCaFile" ` +
        `(--requestheader-client-ca-file): without a CA nobody can authenticate`,
    );
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);

  const pollOptions = { ...definedOnly({ pollInterval: o.pollInterval }), logger };
  const files: FileCABundleProvider[] = [];
  const fileOrAbsent = (path: string | undefined, name: string): CABundleProvider => {
    if (!path) return absentCABundle(name);
    const provider = fileCABundle(path, { ...pollOptions, name: `${name}::${path}` });
    files.push(provider);
    return provider;
  };
  const clientCA = fileOrAbsent(o.clientCaFile, 'client-ca-bundle');
  const requestHeaderCA = fileOrAbsent(o.requestheaderClientCaFile, 'request-header');
  const requestHeaderConfig = staticRequestHeaderConfig(
    definedOnly({
      usernameHeaders: o.requestheaderUsernameHeaders,
      uidHeaders: o.requestheaderUidHeaders,
      groupHeaders: o.requestheaderGroupHeaders,
      extraHeaderPrefixes: o.requestheaderExtraHeadersPrefix,
      allowedNames: o.requestheaderAllowedNames,
    }),
  );
  const trust: TrustSource = {
    clientCA,
    requestHeaderCA,
    requestHeaderConfig,
    addListener(listener: Listener) {
      const removers = files.map((f) => f.addListener(listener));
      return () => removers.forEach((remove) => remove());
    },
    status: () => files.map((f) => ({ name: f.name, loaded: f.current() !== undefined })),
    async runOnce() {
      await Promise.all(files.map((f) => f.runOnce()));
    },
    start() {
      for (const f of files) f.start();
    },
    async close() {
      await Promise.all(files.map((f) => f.close()));
    },
  };
  const authenticator = newDelegatingAuthenticator({
    ...definedOnly({ anonymous: o.anonymous }),
    requestHeader: { caProvider: requestHeaderCA, configProvider: requestHeaderConfig },
    clientCA,
  });
  const authorizer = newDelegatingAuthorizer({
    ...definedOnly({
      authorizationAlwaysAllowPaths: o.authorizationAlwaysAllowPaths,
      authorizationAlwaysAllowGroups: o.authorizationAlwaysAllowGroups,
      additionalAuthorizers: o.additionalAuthorizers,
    }),
    // Its only log line warns that no authorization kubeconfig was given: by design in local mode.
    logger: noopLogger,
  });

  return {
    authenticator,
    authorizer,
    tokenAuthenticator: undefined,
    trust,
    clients: undefined,
    options: o,
    pipelineOptions: () => pipelineOptions(authenticator, authorizer, trust, o),
    ...stackLifecycle(trust, () => authorizer.close()),
  };
}
