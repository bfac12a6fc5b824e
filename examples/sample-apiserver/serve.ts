import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Middleware } from 'koa';
import type { ParsedServe, ServeOptions } from './options.js';
import {
  newDelegatingAuthenticator,
  newDelegatingAuthorizer,
  loadStaticPolicy,
  staticPolicyAuthorizer,
  type Logger,
  fileCABundle,
  staticRequestHeaderConfig,
  type FileCABundleProvider,
} from 'kube-delegated-auth';
import {
  authenticate,
  authorize,
  requestInfo,
  type KoaDelegatedAuth,
  type KoaDelegatedAuthOptions,
} from 'kube-delegated-auth/koa';
import { createPinoLogger, type LogLevel } from 'kube-delegated-auth/pino';
import { flagFile, loadCaBundle, loadServingPair, startupStep, type NamedFile } from 'kube-delegated-auth/startup';
import { metricsEndpoint, createMetrics, type KdaMetrics } from 'kube-delegated-auth/metrics';
import { devPkiFiles, writeDevPki } from 'kube-delegated-auth/dev-pki';
import { createSecureServer, type SecureServer } from 'kube-delegated-auth/server';
import { createSampleApp } from './app.js';
import { storageNotice, WidgetStore } from './widget-store.js';
import { sampleGroupVersion } from './api.js';
import { trustSourceChecks } from 'kube-delegated-auth/apiserver';

/** Why the server runs in cluster mode, or undefined for standalone mode. */
export function clusterModeReason(opts: ServeOptions, env: NodeJS.ProcessEnv): string | undefined {
  if (opts.kubeconfig) return '--kubeconfig';
  if (opts.authenticationKubeconfig) return '--authentication-kubeconfig';
  if (opts.authorizationKubeconfig) return '--authorization-kubeconfig';
  if (env.KUBECONFIG) return '$KUBECONFIG';
  if (env.KUBERNETES_SERVICE_HOST && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) {
    return 'in-cluster service account';
  }
  return undefined;
}

export interface SampleServerEnv {
  readonly logger: Logger;
  /** Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Base for relative paths (--cert-dir). Default process.cwd(). */
  readonly cwd?: string;
  /** Metrics to record into and serve on /metrics. Default: a new registry when `enableMetrics` is set, else none. */
  readonly metrics?: KdaMetrics;
}

export interface RunningSampleServer {
  readonly mode: 'standalone' | 'cluster';
  readonly server: SecureServer;
  /** Copy-paste commands that exercise the server: curl lines (standalone) or kubectl lines (cluster). */
  readonly examples: readonly { readonly title: string; readonly command: string }[];
  /** The metrics served on /metrics, when enabled. */
  readonly metrics?: KdaMetrics;
  close(): Promise<void>;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Paths under cwd are shown relative (shorter lines to paste); others absolute. */
function displayPath(cwd: string, p: string): string {
  const rel = relative(cwd, p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

/**
 * The auth chain (requestInfo → authenticate → authorize, Go's handler-chain order), then /metrics when enabled:
 * after authorize() it is a non-resource path like any other (get /metrics).
 */
function authPipeline(chain: readonly Middleware[], metrics?: KdaMetrics): Middleware[] {
  return metrics ? [...chain, metricsEndpoint(metrics)] : [...chain];
}

/** The server's metrics (when enabled) and how to release them. */
function serverMetrics(opts: ServeOptions, env: SampleServerEnv): { metrics?: KdaMetrics; close(): Promise<void> } {
  if (env.metrics) return { metrics: env.metrics, close: async () => {} };
  if (!opts.enableMetrics) return { close: async () => {} };
  const metrics = createMetrics({ defaultMetrics: true });
  return { metrics, close: () => metrics.close() };
}

/** `--bind-address A --secure-port P`: the subject of a failure to listen. */
function listenSubject(opts: ServeOptions): string {
  return `--bind-address ${opts.bindAddress} --secure-port ${opts.securePort}`;
}

/**
 * Standalone mode: a development PKI in --cert-dir (created on first start), front-proxy and client-certificate
 * trust from files (reloaded on change), and a static policy authorizer.
 */
async function startStandalone(opts: ServeOptions, env: SampleServerEnv): Promise<RunningSampleServer> {
  const { logger } = env;
  const cwd = env.cwd ?? process.cwd();
  const certDir = resolve(cwd, opts.certDir);
  const created = await startupStep(`--cert-dir ${certDir}`, () => writeDevPki(certDir), { file: certDir });
  if (created.length > 0) logger.info({ certDir }, 'created a development PKI');
  const inDir = (name: string) => join(certDir, name);
  // A file of the dev PKI is named by --cert-dir; rewriting the PKI is the fix for a damaged one.
  const regenerate = `kube-delegated-auth certs --dir ${shellQuote(certDir)} --overwrite`;
  const named = (flag: string, given: string | undefined, name: string): NamedFile & { fix?: string } =>
    given
      ? flagFile(flag, resolve(cwd, given))
      : { subject: `--cert-dir ${certDir} (${name})`, file: inDir(name), fix: regenerate };

  const clientCaNamed = named('--client-ca-file', opts.clientCaFile, devPkiFiles.clientCa);
  const frontProxyCaNamed = named(
    '--requestheader-client-ca-file',
    opts.requestheaderClientCaFile,
    devPkiFiles.frontProxyCa,
  );
  for (const f of [clientCaNamed, frontProxyCaNamed]) await loadCaBundle(f, f.fix);
  const certNamed = named('--tls-cert-file', opts.tlsCertFile, devPkiFiles.serving);
  const keyNamed = named('--tls-private-key-file', opts.tlsPrivateKeyFile, devPkiFiles.servingKey);
  await loadServingPair(certNamed, keyNamed, certNamed.fix);
  const tlsCertFile = certNamed.file;
  const tlsPrivateKeyFile = keyNamed.file;
  const clientCaFile = clientCaNamed.file;
  const frontProxyCaFile = frontProxyCaNamed.file;
  const clientCA = fileCABundle(clientCaFile, { name: `client-ca-bundle::${clientCaFile}`, logger });
  const requestHeaderCA = fileCABundle(frontProxyCaFile, { name: `request-header::${frontProxyCaFile}`, logger });
  const providers: FileCABundleProvider[] = [clientCA, requestHeaderCA];
  const closeAll = async () => {
    for (const p of providers) await p.close();
  };
  try {
    // Checked above; a file replaced since then still fails as one line naming its flag.
    await startupStep(clientCaNamed.subject, () => clientCA.runOnce(), { file: clientCaFile });
    await startupStep(frontProxyCaNamed.subject, () => requestHeaderCA.runOnce(), { file: frontProxyCaFile });
  } catch (err) {
    await closeAll();
    throw err;
  }
  for (const p of providers) p.start();

  const configProvider = staticRequestHeaderConfig({
    usernameHeaders: opts.requestheaderUsernameHeaders,
    uidHeaders: opts.requestheaderUidHeaders,
    groupHeaders: opts.requestheaderGroupHeaders,
    extraHeaderPrefixes: opts.requestheaderExtraHeadersPrefix,
    allowedNames: opts.requestheaderAllowedNames,
  });

  const policyFile = resolve(cwd, opts.policyFile);
  const policy = await startupStep(`--policy-file ${policyFile}`, () => loadStaticPolicy(policyFile), {
    file: policyFile,
  }).catch(async (err: unknown) => {
    await closeAll();
    throw err;
  });
  const m = serverMetrics(opts, env);
  const uninstrument = m.metrics?.instrument({ caProviders: providers });
  const requestHeader = { caProvider: requestHeaderCA, configProvider };
  // Go's handler-chain order: RequestInfo, then authentication, then authorization.
  const chain = [
    requestInfo({ logger }),
    authenticate({
      authenticator: newDelegatingAuthenticator({ requestHeader, clientCA, anonymous: opts.anonymousAuth }),
      requestHeader,
      logger,
    }),
    authorize({
      authorizer: newDelegatingAuthorizer({
        authorizationAlwaysAllowPaths: opts.authorizationAlwaysAllowPaths,
        // Standalone: a static policy stands where the SubjectAccessReview webhook is in a cluster.
        additionalAuthorizers: [staticPolicyAuthorizer(policy)],
      }),
      logger,
    }),
  ] as Middleware[];
  const pipeline = authPipeline(chain, m.metrics);

  // Owned here so shutdown can end open watch streams instead of waiting out shutdownTimeout for them.
  const store = new WidgetStore();
  logger.info({ storage: 'memory' }, storageNotice);
  // /readyz: one check per CA file (trust:client-ca-bundle, trust:request-header), both loaded before listening.
  const fileTrust = {
    status: () =>
      providers.map((p) => ({
        name: p.name,
        loaded: p.current() !== undefined,
        ...(p.health.lastError !== undefined && { lastError: p.health.lastError }),
      })),
  };
  const readinessChecks = trustSourceChecks(fileTrust, { requireClientCA: true });
  const app = createSampleApp({ pipeline, readinessChecks, logger, store });
  const server = createSecureServer({
    handler: app.callback(),
    tlsCertFile,
    tlsPrivateKeyFile,
    clientCA,
    requestHeaderCA,
    bindAddress: opts.bindAddress,
    securePort: opts.securePort,
    logger,
  });
  try {
    await startupStep(listenSubject(opts), () => server.listen());
  } catch (err) {
    uninstrument?.();
    await m.close();
    await closeAll();
    throw err;
  }

  const p = (name: string) => shellQuote(displayPath(cwd, inDir(name)));
  const cacert = opts.tlsCertFile ? '<CA of --tls-cert-file>' : p(devPkiFiles.servingCa);
  const host = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(opts.bindAddress) ? 'localhost' : opts.bindAddress;
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${server.port}/apis/${sampleGroupVersion}/namespaces/default/widgets`;
  const examples = [
    {
      title: 'front-proxy (what kube-apiserver sends): alice in group developers',
      command: `curl --cacert ${cacert} --cert ${p(devPkiFiles.frontProxyClient)} --key ${p(devPkiFiles.frontProxyClientKey)} -H 'X-Remote-User: alice' -H 'X-Remote-Group: developers' ${url}`,
    },
    {
      title: 'client certificate user: alice (CN=alice, O=developers)',
      command: `curl --cacert ${cacert} --cert ${p('alice.crt')} --key ${p('alice.key')} ${url}`,
    },
    {
      title: 'spoofed header without a front-proxy certificate: refused (403 for system:anonymous)',
      command: `curl --cacert ${cacert} -H 'X-Remote-User: admin' ${url}`,
    },
  ];

  return {
    mode: 'standalone',
    server,
    examples,
    ...(m.metrics && { metrics: m.metrics }),
    close: async () => {
      store.closeWatches();
      await server.close();
      await closeAll();
      uninstrument?.();
      await m.close();
    },
  };
}

/**
 * The `serve` flags as `delegatedAuth()` options (paths resolved against `env.cwd`). Every requestheader option
 * given overrides its ConfigMap key, and the header flags always carry defaults (`['x-remote-user']`, ...): so, as
 * in Go, the header flags apply only with --requestheader-client-ca-file; otherwise the ConfigMap's lists do.
 */
export function clusterAuthOptions(
  opts: ServeOptions,
  env: Pick<SampleServerEnv, 'env' | 'cwd'> = {},
): KoaDelegatedAuthOptions {
  const cwd = env.cwd ?? process.cwd();
  const abs = (p: string) => resolve(cwd, p);
  return {
    ...(opts.kubeconfig && { kubeconfig: abs(opts.kubeconfig) }),
    ...(opts.authenticationKubeconfig && { authenticationKubeconfig: abs(opts.authenticationKubeconfig) }),
    ...(opts.authorizationKubeconfig && { authorizationKubeconfig: abs(opts.authorizationKubeconfig) }),
    ...(env.env && { env: env.env }),
    authenticationSkipLookup: opts.authenticationSkipLookup,
    authenticationTolerateLookupFailure: opts.authenticationTolerateLookupFailure,
    ...(opts.clientCaFile && { clientCaFile: abs(opts.clientCaFile) }),
    ...(opts.requestheaderClientCaFile && {
      requestheaderClientCaFile: abs(opts.requestheaderClientCaFile),
      requestheaderUsernameHeaders: opts.requestheaderUsernameHeaders,
      requestheaderUidHeaders: opts.requestheaderUidHeaders,
      requestheaderGroupHeaders: opts.requestheaderGroupHeaders,
      requestheaderExtraHeadersPrefix: opts.requestheaderExtraHeadersPrefix,
      requestheaderAllowedNames: opts.requestheaderAllowedNames,
    }),
    anonymous: opts.anonymousAuth,
    authorizationAlwaysAllowPaths: opts.authorizationAlwaysAllowPaths,
    authorizationWebhookCacheAuthorizedTtl: opts.authorizationWebhookCacheAuthorizedTtl,
    authorizationWebhookCacheUnauthorizedTtl: opts.authorizationWebhookCacheUnauthorizedTtl,
    authenticationTokenWebhookCacheTtl: opts.authenticationTokenWebhookCacheTtl,
  };
}

/**
 * Cluster mode: trust from kube-system/extension-apiserver-authentication (watched), bearer tokens through a
 * cached TokenReview, authorization through cached SubjectAccessReviews, as a Go delegating apiserver.
 */
async function startCluster(opts: ServeOptions, env: SampleServerEnv, reason: string): Promise<RunningSampleServer> {
  const { logger } = env;
  const cwd = env.cwd ?? process.cwd();
  logger.info({ reason }, 'cluster mode');
  // Loaded here: @kubernetes/client-node takes seconds to import, which standalone mode never needs.
  const { delegatedAuth } = await import('kube-delegated-auth/koa');
  const { kubeconfigChoice, loadKubeconfigChecked } = await import('kube-delegated-auth/startup');
  // Every file is checked first, so a bad one is one line naming its flag instead of a failure deep in the stack.
  const processEnv = env.env ?? process.env;
  const abs = (p: string | undefined) => (p ? resolve(cwd, p) : undefined);
  const authnKubeconfig = kubeconfigChoice(
    [
      { flag: '--authentication-kubeconfig', path: abs(opts.authenticationKubeconfig) },
      { flag: '--kubeconfig', path: abs(opts.kubeconfig) },
    ],
    processEnv,
  );
  const authzKubeconfig = kubeconfigChoice(
    [
      { flag: '--authorization-kubeconfig', path: abs(opts.authorizationKubeconfig) },
      { flag: '--kubeconfig', path: abs(opts.kubeconfig) },
    ],
    processEnv,
  );
  loadKubeconfigChecked(authnKubeconfig, 'authentication', processEnv);
  if (authzKubeconfig.subject !== authnKubeconfig.subject) {
    loadKubeconfigChecked(authzKubeconfig, 'authorization', processEnv);
  }
  if (opts.clientCaFile) await loadCaBundle(flagFile('--client-ca-file', resolve(cwd, opts.clientCaFile)));
  if (opts.requestheaderClientCaFile) {
    await loadCaBundle(flagFile('--requestheader-client-ca-file', resolve(cwd, opts.requestheaderClientCaFile)));
  }
  if (opts.tlsCertFile && opts.tlsPrivateKeyFile) {
    await loadServingPair(
      flagFile('--tls-cert-file', resolve(cwd, opts.tlsCertFile)),
      flagFile('--tls-private-key-file', resolve(cwd, opts.tlsPrivateKeyFile)),
    );
  }
  const m = serverMetrics(opts, env);
  let auth: KoaDelegatedAuth;
  try {
    auth = delegatedAuth({ ...clusterAuthOptions(opts, env), ...(m.metrics && { metrics: m.metrics }), logger });
  } catch (err) {
    // A bad kubeconfig throws here (Go's startup error): the metrics created above must not outlive it.
    await m.close();
    throw err;
  }
  const { trust } = auth;
  let server: SecureServer | undefined;
  const store = new WidgetStore();
  logger.info({ storage: 'memory' }, storageNotice);
  const closeAll = async () => {
    store.closeWatches();
    await server?.close();
    await auth.close();
    await m.close();
  };
  try {
    await startupStep(
      `ConfigMap kube-system/extension-apiserver-authentication via ${authnKubeconfig.subject}`,
      () => auth.start(),
      { kubectlFlags: authnKubeconfig.kubectlFlags },
    );
    const app = createSampleApp({
      pipeline: authPipeline([auth.middleware], m.metrics),
      // The front-proxy sources fail readiness until loaded (not with --authentication-skip-lookup or
      // --authentication-tolerate-lookup-failure); reasons go to the log, /readyz shows the names only.
      readinessChecks: trustSourceChecks(auth),
      logger,
      store,
    });
    server = createSecureServer({
      handler: app.callback(),
      ...(opts.tlsCertFile && opts.tlsPrivateKeyFile
        ? { tlsCertFile: resolve(cwd, opts.tlsCertFile), tlsPrivateKeyFile: resolve(cwd, opts.tlsPrivateKeyFile) }
        : {
            // Go's sample-apiserver also self-signs when no certificate is given.
            selfSigned: {
              dnsNames: [
                'localhost',
                'kube-delegated-auth-sample.kube-delegated-auth.svc',
                'kube-delegated-auth-sample.kube-delegated-auth.svc.cluster.local',
              ],
            },
          }),
      clientCA: trust.clientCA,
      requestHeaderCA: trust.requestHeaderCA,
      bindAddress: opts.bindAddress,
      securePort: opts.securePort,
      logger,
    });
    await startupStep(listenSubject(opts), () => server!.listen());
  } catch (err) {
    await closeAll();
    throw err;
  }
  const raw = `/apis/${sampleGroupVersion}`;
  const examples = [
    {
      title:
        'through kube-apiserver, once the APIService is registered (kubectl apply -k deploy/overlays/self-managed-ca)',
      command: `kubectl get --raw ${raw}/namespaces/default/widgets`,
    },
    {
      title: 'who am I, as this extension server sees it',
      command: `kubectl create --raw ${raw}/selfsubjectreviews -f - <<< '{}'`,
    },
  ];
  return { mode: 'cluster', server, examples, ...(m.metrics && { metrics: m.metrics }), close: closeAll };
}

/** Starts the sample server in the mode the options and environment select. */
export async function startSampleServer(opts: ServeOptions, env: SampleServerEnv): Promise<RunningSampleServer> {
  const reason = clusterModeReason(opts, env.env ?? process.env);
  if (reason === undefined) return startStandalone(opts, env);
  return startCluster(opts, env, reason);
}

/** `kube-delegated-auth serve`: starts, prints the banner and curl lines, and closes on SIGINT/SIGTERM. */
export async function runServe(
  parsed: ParsedServe,
  io: { out: (line: string) => void; err: (line: string) => void },
): Promise<number> {
  // Logs on stderr (as klog does): JSON lines, or text when stderr is a terminal; stdout keeps the banner. The same
  // logger shape as the webhook command (createPinoLogger: redaction, `component`).
  const logger: Logger = createPinoLogger({
    level: (parsed.options.logLevel ?? process.env.LOG_LEVEL ?? 'info') as LogLevel,
    format: 'auto',
    base: { component: 'sample-apiserver' },
  });
  for (const w of parsed.warnings) logger.warn({}, w);
  const running = await startSampleServer(parsed.options, { logger });
  const bind = parsed.options.bindAddress;
  io.out(`kube-delegated-auth sample apiserver (${running.mode} mode)`);
  io.out(`listening on https://${bind.includes(':') ? `[${bind}]` : bind}:${running.server.port}`);
  if (running.examples.length > 0) {
    io.out('');
    io.out('Try it:');
    for (const c of running.examples) {
      io.out(`  # ${c.title}`);
      io.out(`  ${c.command}`);
    }
    io.out('');
  }

  return new Promise<number>((resolvePromise) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      running.close().then(
        () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolvePromise(0);
        },
        (err: unknown) => {
          logger.error({ error: (err as Error).message }, 'shutdown failed');
          resolvePromise(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
