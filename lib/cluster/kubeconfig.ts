import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { KdaError } from '../errors.js';
import { clientDefaults } from '../defaults.js';
import { proxyFor } from './proxy.js';

const requireModule = createRequire(import.meta.url);

/**
 * `@kubernetes/client-node` is loaded only when a kubeconfig file is read: importing it costs ≈1.4 s and ≈80 MiB
 * (measured, see CHANGELOG 0.2.0), which an in-cluster server (service-account token, the production case) and every
 * user of the core never need. `require(esm)` (Node ≥ 20.19, this package's floor) keeps `loadConnectionConfig`
 * synchronous; client-node stays the one kubeconfig reader (merging, relative paths, exec and auth-provider plugins).
 */
function kubeConfigClass(): typeof KubeConfig {
  return (requireModule('@kubernetes/client-node') as { KubeConfig: typeof KubeConfig }).KubeConfig;
}

/** Where the service-account files live inside a pod. */
export const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Everything needed to reach one kube-apiserver, as plain values (no client-node objects), so the hot path can use
 * one keep-alive undici pool instead of client-node's connection-per-call stack.
 */
export interface ConnectionConfig {
  /** Base URL, e.g. `https://10.96.0.1:443`. No trailing slash. */
  readonly server: string;
  /** PEM CA bundle for the server certificate; undefined = system roots. */
  readonly ca?: string;
  /** PEM client certificate (mTLS). */
  readonly cert?: string;
  /** PEM private key of `cert`. */
  readonly key?: string;
  /** SNI and certificate name to check instead of the host in `server` (kubeconfig `tls-server-name`). */
  readonly tlsServerName?: string;
  /** kubeconfig `insecure-skip-tls-verify`: do not verify the server certificate. */
  readonly insecureSkipTlsVerify: boolean;
  /** Bearer token for the next request; called per request so rotated tokens are picked up. */
  readonly token?: () => string | undefined | Promise<string | undefined>;
  /** `Impersonate-User` from the kubeconfig user, sent on every request. */
  readonly impersonateUser?: string;
  /**
   * kubeconfig cluster `proxy-url`: the HTTP(S) CONNECT proxy to reach `server` through. Unset = client-go's
   * `http.ProxyFromEnvironment` (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), see docs/cluster.md "Proxies".
   */
  readonly proxyUrl?: string;
  /** Where this came from: `kubeconfig:<path>` or `in-cluster`. For messages. */
  readonly source: string;
  /**
   * Best-effort identity the apiserver will see (client-cert CN, or the `sub` of a service-account JWT), used to
   * print the exact `kubectl create rolebinding` fix. Undefined when unknown (opaque token, exec plugin).
   */
  readonly identity?: string;
}

export interface LoadConnectionConfigOptions {
  /** Explicit kubeconfig path (`--authentication-kubeconfig` / `--authorization-kubeconfig`). Wins over everything. */
  readonly kubeconfig?: string | undefined;
  /** Environment to read `KUBECONFIG`, `KUBERNETES_SERVICE_HOST`/`_PORT` from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Service-account directory for in-cluster config. Default `/var/run/secrets/kubernetes.io/serviceaccount`. */
  readonly serviceAccountDir?: string;
  /**
   * How long a read service-account token is reused before the file is read again, in ms. Default 60_000, as
   * client-go's cached file token source: bound tokens are refreshed by the kubelet well before they expire.
   */
  readonly tokenFileRefreshInterval?: number;
  /** Which flag the config is for, for the error message. Default `authentication`. */
  readonly purpose?: 'authentication' | 'authorization';
  /** Clock for the token-file refresh, ms since epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Loads the connection config the way Go's delegating options do: an explicit kubeconfig path, else `KUBECONFIG`
 * (path list, merged by client-node), else the in-cluster service account. Throws a `KdaError`
 * (`ERR_KDA_INVALID_OPTION`) with Go's message `failed to get delegated authentication kubeconfig: …` otherwise.
 * Reads files synchronously: it runs once at startup.
 */
export function loadConnectionConfig(opts: LoadConnectionConfigOptions = {}): ConnectionConfig {
  const env = opts.env ?? process.env;
  const purpose = opts.purpose ?? 'authentication';
  try {
    if (opts.kubeconfig) return fromKubeConfigFiles([opts.kubeconfig], opts);
    const list = (env.KUBECONFIG ?? '').split(process.platform === 'win32' ? ';' : ':').filter((f) => f !== '');
    if (list.length > 0) return fromKubeConfigFiles(list, opts);
    return inClusterConfig(env, opts);
  } catch (err) {
    throw new KdaError(
      'ERR_KDA_INVALID_OPTION',
      `failed to get delegated ${purpose} kubeconfig: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function fromKubeConfigFiles(files: readonly string[], opts: LoadConnectionConfigOptions): ConnectionConfig {
  const KubeConfigClass = kubeConfigClass();
  const kc = new KubeConfigClass();
  kc.loadFromFile(files[0]!);
  for (const f of files.slice(1)) {
    const other = new KubeConfigClass();
    other.loadFromFile(f);
    kc.mergeConfig(other, true);
  }
  return fromKubeConfig(kc, `kubeconfig:${files.join(':')}`, opts);
}

/**
 * The members of a loaded `@kubernetes/client-node` `KubeConfig` that {@link fromKubeConfig} reads (a `KubeConfig`
 * is one). Written out rather than imported so the published declarations do not pull in client-node's types, which
 * import `ws` types client-node does not install: a user's `tsc` with `skipLibCheck: false` failed with TS7016 in
 * `isomorphic-ws` (spec/e2e/pack-install.spec.ts).
 */
export interface LoadedKubeConfig {
  getCurrentCluster(): {
    readonly name: string;
    readonly server: string;
    readonly caData?: string;
    readonly caFile?: string;
    readonly tlsServerName?: string;
    readonly skipTLSVerify: boolean;
    readonly proxyUrl?: string;
  } | null;
  getCurrentUser(): {
    readonly name: string;
    readonly certData?: string;
    readonly certFile?: string;
    readonly keyData?: string;
    readonly keyFile?: string;
    readonly token?: string;
    readonly impersonateUser?: string;
    /** client-node types these as `any`: exec and auth-provider plugins, run by `applyToHTTPSOptions`. */
    readonly exec?: unknown;
    readonly authProvider?: unknown;
  } | null;
  /** Sets the `Authorization` header for exec and auth-provider users (client-node runs and caches the plugin). */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

/** Extracts a ConnectionConfig from an already loaded client-node KubeConfig (current context). */
export function fromKubeConfig(
  kc: LoadedKubeConfig,
  source: string,
  opts: LoadConnectionConfigOptions = {},
): ConnectionConfig {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${source}: no current context or its cluster is missing`);
  if (!cluster.server) throw new Error(`${source}: cluster "${cluster.name}" has no server`);
  const user = kc.getCurrentUser();
  const ca = pemOf(cluster.caFile, cluster.caData);
  const cert = pemOf(user?.certFile, user?.certData);
  const key = pemOf(user?.keyFile, user?.keyData);
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(`${source}: user "${user?.name}" must set both client-certificate and client-key`);
  }
  const tokenFile = (user?.authProvider as { config?: { tokenFile?: string } } | undefined)?.config?.tokenFile;
  let token: ConnectionConfig['token'];
  let identity: string | undefined;
  if (tokenFile) {
    token = tokenFileProvider(tokenFile, opts);
    identity = identityFromToken(token() as string | undefined);
  } else if (user?.token) {
    const t = user.token.trim();
    token = () => t;
    identity = identityFromToken(t);
  } else if (user && (user.exec || user.authProvider)) {
    // exec / oidc / azure / gcp plugins: let client-node run them; it caches their tokens itself.
    token = async () => {
      const o: { headers?: Record<string, string> } = { headers: {} };
      await kc.applyToHTTPSOptions(o as RequestOptions);
      const h = o.headers?.Authorization ?? o.headers?.authorization;
      return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
    };
  }
  if (identity === undefined && cert !== undefined) identity = identityFromCert(cert);
  // Refuse an unusable proxy-url at load time, naming the cluster (client-go validates it when loading too).
  if (cluster.proxyUrl) {
    try {
      proxyFor(cluster.server, cluster.proxyUrl, {});
    } catch (err) {
      throw new Error(`${source}: cluster "${cluster.name}": ${(err as Error).message}`, { cause: err });
    }
  }
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ...(ca !== undefined && { ca }),
    ...(cert !== undefined && { cert }),
    ...(key !== undefined && { key }),
    ...(cluster.tlsServerName && { tlsServerName: cluster.tlsServerName }),
    ...(cluster.proxyUrl && { proxyUrl: cluster.proxyUrl }),
    insecureSkipTlsVerify: cluster.skipTLSVerify === true,
    ...(token && { token }),
    ...(user?.impersonateUser && { impersonateUser: user.impersonateUser }),
    source,
    ...(identity !== undefined && { identity }),
  };
}

function inClusterConfig(env: NodeJS.ProcessEnv, opts: LoadConnectionConfigOptions): ConnectionConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    // Go's rest.ErrNotInCluster text, so operators recognise it.
    throw new Error(
      'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined',
    );
  }
  const dir = opts.serviceAccountDir ?? serviceAccountDir;
  // Same URL rules as client-node's loadFromCluster: IPv6 in brackets, plain http only on the classic proxy ports.
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const caFile = `${dir}/ca.crt`;
  const tokenPath = `${dir}/token`;
  const token = tokenFileProvider(tokenPath, opts);
  const first = token() as string | undefined; // fail at startup if the token is unreadable, as Go does
  if (!first) throw new Error(`open ${tokenPath}: empty service-account token`);
  const ca = readFileSync(caFile, 'utf8');
  const identity = identityFromToken(first);
  return {
    server,
    ca,
    insecureSkipTlsVerify: false,
    token,
    source: 'in-cluster',
    ...(identity !== undefined && { identity }),
  };
}

/**
 * A token provider that re-reads `path` when the cached copy is older than the refresh interval, so kubelet-rotated
 * bound service-account tokens are honoured. A failed re-read keeps the previous token (the file is replaced
 * atomically by the kubelet, but a transient error must not log everyone out).
 */
export function tokenFileProvider(path: string, opts: LoadConnectionConfigOptions = {}): () => string | undefined {
  const interval = opts.tokenFileRefreshInterval ?? clientDefaults.tokenFileRefreshInterval;
  const now = opts.now ?? Date.now;
  let cached: string | undefined;
  let readAt = -Infinity;
  return () => {
    const t = now();
    if (cached === undefined || t - readAt >= interval) {
      try {
        cached = readFileSync(path, 'utf8').trim();
        readAt = t;
      } catch (err) {
        if (cached === undefined) throw err;
      }
    }
    return cached === '' ? undefined : cached;
  };
}

function pemOf(file: string | undefined, data: string | undefined): string | undefined {
  if (file) return readFileSync(file, 'utf8');
  if (data) return Buffer.from(data, 'base64').toString('utf8');
  return undefined;
}

/** `sub` of a JWT (service-account tokens: `system:serviceaccount:<ns>:<sa>`); undefined for opaque tokens. */
export function identityFromToken(token: string | undefined): string | undefined {
  const parts = token?.split('.');
  if (!parts || parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof claims.sub === 'string' && claims.sub !== '') return claims.sub;
    // Legacy secret-based SA tokens carry the name in their own claims.
    const ns = claims['kubernetes.io/serviceaccount/namespace'];
    const sa = claims['kubernetes.io/serviceaccount/service-account.name'];
    if (typeof ns === 'string' && typeof sa === 'string') return `system:serviceaccount:${ns}:${sa}`;
  } catch {
    // not a JWT
  }
  return undefined;
}

function identityFromCert(pem: string): string | undefined {
  try {
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1];
    return cn === undefined || cn === '' ? undefined : cn;
  } catch {
    return undefined;
  }
}

/**
 * The exact fix for a forbidden read of kube-system/extension-apiserver-authentication, with the identity filled in
 * when known: a service account gets `--serviceaccount=<ns>:<sa>`, anyone else `--user=<name>`.
 */
export function rolebindingFixCommand(
  identity: string | undefined,
  bindingName = 'extension-apiserver-authentication-reader',
): string {
  const base = `kubectl create rolebinding -n kube-system ${bindingName} --role=extension-apiserver-authentication-reader`;
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(identity ?? '');
  if (sa) return `${base} --serviceaccount=${sa[1]}:${sa[2]}`;
  if (identity) return `${base} --user=${identity}`;
  return `${base} --serviceaccount=<namespace>:<serviceaccount>`;
}
