import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClusterPki, type ClusterPki, type ClusterPkiPaths } from './cluster-pki.js';
import { KubeClient, writeKubeconfig } from './kube.js';
import {
  kubeApiServerVersion,
  kubernetesBinDir,
  kubernetesCacheDir,
  kubernetesRelease,
  type KubeApiServerVersion,
} from './kubernetes-version.js';
import {
  freePort,
  freePorts,
  installExitHook,
  lostPortRace,
  liveDirs,
  reapStaleChildren,
  reapStaleDirs,
  startProcess,
  stopProcess,
  waitUntil,
  type Proc,
} from './process.js';

export { freePort, tailFile } from './process.js';
export {
  kubectlPath,
  kubernetesRelease,
  kubernetesReleases,
  type KubeApiServerVersion,
  type KubernetesMinor,
  type KubernetesRelease,
} from './kubernetes-version.js';

/** Cache root: `$KDA_CACHE_DIR`, default `~/.cache/kube-delegated-auth`. */
export function cacheDir(): string {
  return kubernetesCacheDir();
}

/**
 * Directory holding etcd, kube-apiserver and sample-apiserver: `$KDA_BIN_DIR`, default
 * `<cacheDir>/k8s-<version>/bin` for the release `KDA_KUBERNETES_VERSION` selects (default 1.37).
 */
export function defaultBinDir(): string {
  return process.env.KDA_BIN_DIR ?? kubernetesBinDir();
}

/** The install command for the selected release, for error messages. */
function installHint(): string {
  return `KDA_KUBERNETES_VERSION=${kubernetesRelease().minor} bash scripts/control-plane/install.sh`;
}

/** The binaries the control plane needs, and which of them are missing from `binDir`. */
export function missingBinaries(binDir: string, names: readonly string[] = ['etcd', 'kube-apiserver']): string[] {
  return names.filter((n) => !existsSync(join(binDir, n)));
}

export interface ControlPlaneOptions {
  /** Where etcd and kube-apiserver live. Default `defaultBinDir()` (`$KDA_BIN_DIR` or `~/.cache/kube-delegated-auth/bin`). */
  readonly binDir?: string;
  /**
   * Working directory (PKI, etcd data, logs, kubeconfigs). Created if missing. Default: a fresh `mkdtemp` under
   * `$KDA_TMP_DIR` or the OS temp dir. Removed by `stop()` unless `keepDir`.
   */
  readonly dir?: string;
  /** Keep the working directory after `stop()` (for debugging). Default: `$KDA_KEEP_CLUSTER_DIR === '1'`. */
  readonly keepDir?: boolean;
  /** kube-apiserver secure port. Default: a free loopback port. */
  readonly apiServerPort?: number | undefined;
  /** Extra kube-apiserver flags, e.g. `--authentication-token-webhook-config-file=...`. Appended last (they win). */
  readonly extraApiServerFlags?: readonly string[];
  /** kube-apiserver `--v`. Default 1. */
  readonly verbosity?: number;
  /** Bound for each start (etcd ready, then kube-apiserver /readyz and the authentication ConfigMap), in ms. Default 90000. */
  readonly startTimeoutMs?: number;
  /**
   * Audit policy (YAML). Default `auditPolicyYaml`: review bodies plus metadata of other requests. Benchmarks that
   * send many requests through kube-apiserver may prefer `reviewsOnlyAuditPolicyYaml`.
   */
  readonly auditPolicy?: string;
  /**
   * `--requestheader-uid-headers`, on kube-apiserver 1.33+ only (1.20 has no such flag). Default `['X-Remote-Uid']`
   * there, as kubeadm sets it; `[]` leaves the flag out (the ConfigMap then has no `requestheader-uid-headers`).
   */
  readonly requestheaderUidHeaders?: readonly string[];
  /** Progress messages (default: none). */
  readonly log?: (msg: string) => void;
}

/** Settings that `restartApiServer` may change. */
export interface ApiServerRestartOptions {
  /** New `--requestheader-client-ca-file`. */
  readonly frontProxyCaCert?: string;
  /** New `--proxy-client-cert-file` / `--proxy-client-key-file`. */
  readonly proxyClientCert?: string;
  readonly proxyClientKey?: string;
  /** New `--requestheader-allowed-names` (empty array = any CN signed by the front-proxy CA). */
  readonly requestheaderAllowedNames?: readonly string[];
  /** Replaces the extra flags given at start. */
  readonly extraApiServerFlags?: readonly string[];
  /** New `--requestheader-uid-headers` (1.33+; `[]` leaves the flag out). */
  readonly requestheaderUidHeaders?: readonly string[];
  /**
   * Runs after kube-apiserver has exited and before it is started again: an outage that lasts exactly as long as
   * the caller needs (a spec asserting behaviour "while kube-apiserver is down" must not race its restart). When it
   * throws, kube-apiserver is still started again, then the error is thrown.
   */
  readonly whileDown?: () => Promise<void>;
}

export interface ControlPlane {
  /** `https://127.0.0.1:<port>`. */
  readonly apiServerUrl: string;
  readonly apiServerPort: number;
  readonly etcdUrl: string;
  /** The working directory. */
  readonly dir: string;
  readonly binDir: string;
  /** What `<binDir>/kube-apiserver --version` says (the flags follow it). */
  readonly kubernetesVersion: KubeApiServerVersion;
  readonly pki: ClusterPki;
  readonly pkiPaths: ClusterPkiPaths;
  /** Admin kubeconfig (client cert, `O=system:masters`). Same file as `adminKubeconfigPath`. */
  readonly kubeconfigPath: string;
  readonly adminKubeconfigPath: string;
  readonly auditLogPath: string;
  readonly auditPolicyPath: string;
  readonly apiServerLogPath: string;
  readonly etcdLogPath: string;
  /** An admin client (keep-alive); closed by `stop()`. */
  readonly admin: KubeClient;
  /** Flags of the running kube-apiserver (for diagnostics). */
  apiServerArgs(): readonly string[];
  /** Stops kube-apiserver, starts it again on the same port with changed settings, and waits until it is ready. */
  restartApiServer(opts?: ApiServerRestartOptions): Promise<void>;
  /** Stops kube-apiserver and etcd (SIGTERM, then SIGKILL) and removes the working directory. Idempotent. */
  stop(): Promise<void>;
}

// kube-apiserver closes its listener at once on SIGTERM but then waits up to a minute for open watches (e.g. an
// extension server's informers); nothing it does in that time matters to tests, so it gets a short grace.
const apiServerGraceMs = 3000;

/** Audit policy: full bodies of TokenReviews and SubjectAccessReviews, metadata for other requests. */
export const auditPolicyYaml = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: RequestResponse
    resources:
      - group: authentication.k8s.io
      - group: authorization.k8s.io
  # kube-apiserver's own loopback client (controllers, bootstrap) would drown everything else.
  - level: None
    users: ["system:apiserver"]
  - level: Metadata
`;

/** Audit policy recording only TokenReviews and SubjectAccessReviews (with bodies). */
export const reviewsOnlyAuditPolicyYaml = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: RequestResponse
    resources:
      - group: authentication.k8s.io
      - group: authorization.k8s.io
  - level: None
`;

/**
 * Starts etcd and kube-apiserver on loopback ports with a fresh PKI, waits for `/readyz` and for
 * `kube-system/extension-apiserver-authentication`, and returns handles. Always `stop()` it.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const binDir = opts.binDir ?? defaultBinDir();
  const missing = missingBinaries(binDir);
  if (missing.length > 0) {
    throw new Error(`control plane binaries missing in ${binDir}: ${missing.join(', ')}; run \`${installHint()}\``);
  }
  const version = kubeApiServerVersion(binDir);
  log(`kube-apiserver ${version.gitVersion} from ${binDir}`);
  // Flags that exist only from some release on.
  const atLeast = (minor: number) => version.major > 1 || version.minor >= minor;
  installExitHook();

  const tmpRoot = process.env.KDA_TMP_DIR ?? tmpdir();
  // Leftovers of runs that were killed before they could clean up (their etcd would hold memory and ports).
  reapStaleDirs(tmpRoot, 'kda-cp-');
  if (opts.dir) {
    if (!reapStaleChildren(opts.dir)) throw new Error(`${opts.dir} is in use by another running control plane`);
    rmSync(opts.dir, { recursive: true, force: true });
  }
  const dir = opts.dir ?? mkdtempSync(join(tmpRoot, 'kda-cp-'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keepDir = opts.keepDir ?? process.env.KDA_KEEP_CLUSTER_DIR === '1';
  if (!keepDir) liveDirs.add(dir);

  const pki = createClusterPki(join(dir, 'pki'));
  const p = pki.paths;
  const auditPolicyPath = join(dir, 'audit-policy.yaml');
  writeFileSync(auditPolicyPath, opts.auditPolicy ?? auditPolicyYaml);
  const auditLogPath = join(dir, 'audit.log');
  const apiServerLogPath = join(dir, 'kube-apiserver.log');
  const etcdLogPath = join(dir, 'etcd.log');
  const caPem = pki.ca.certPem;

  let etcd: Proc | undefined;
  let apiServer: Proc | undefined;
  let admin: KubeClient | undefined;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await admin?.close();
    await stopProcess(apiServer, apiServerGraceMs);
    await stopProcess(etcd);
    if (!keepDir) {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    } else {
      // Nothing left to reap: later runs leave a kept directory alone.
      rmSync(join(dir, 'pids'), { force: true });
    }
  };

  try {
    const deadline = () => Date.now() + (opts.startTimeoutMs ?? 90_000);
    let etcdUrl = '';
    for (let attempt = 1; ; attempt++) {
      const [clientPort, peerPort] = await freePorts(2);
      etcdUrl = `http://127.0.0.1:${clientPort}`;
      etcd = startProcess(
        join(binDir, 'etcd'),
        [
          `--name=kda`,
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
          `--initial-cluster=kda=http://127.0.0.1:${peerPort}`,
          '--quota-backend-bytes=2147483648',
          '--log-level=warn',
        ],
        etcdLogPath,
        'etcd',
        dir,
      );
      const url = etcdUrl;
      try {
        await waitUntil('etcd', etcd, deadline(), async () => {
          const r = await fetch(`${url}/health`);
          const body = (await r.json()) as { health?: string };
          return body.health === 'true' ? true : `health ${JSON.stringify(body)}`;
        });
        break;
      } catch (err) {
        await stopProcess(etcd);
        if (attempt >= 3 || !lostPortRace(etcdLogPath)) throw err;
        rmSync(join(dir, 'etcd'), { recursive: true, force: true });
        log(`etcd lost a port race; retrying`);
      }
    }
    log(`etcd ready at ${etcdUrl} (${Date.now() - t0} ms)`);

    let port = opts.apiServerPort ?? (await freePort());
    let apiServerUrl = '';
    let adminKubeconfigPath = '';
    const connect = () => {
      apiServerUrl = `https://127.0.0.1:${port}`;
      adminKubeconfigPath = writeKubeconfig(join(dir, 'admin.kubeconfig'), {
        server: apiServerUrl,
        caPem,
        certPem: pki.admin.certPem,
        keyPem: pki.admin.keyPem,
        name: 'kda-admin',
      });
      admin = new KubeClient({ server: apiServerUrl, caPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem });
    };
    connect();

    const settings = {
      frontProxyCaCert: p.frontProxyCaCert,
      proxyClientCert: p.frontProxyClientCert,
      proxyClientKey: p.frontProxyClientKey,
      requestheaderAllowedNames: ['front-proxy-client'] as readonly string[],
      extra: opts.extraApiServerFlags ?? ([] as readonly string[]),
      uidHeaders: opts.requestheaderUidHeaders ?? (['X-Remote-Uid'] as readonly string[]),
    };
    const args = (): string[] => [
      `--etcd-servers=${etcdUrl}`,
      `--secure-port=${port}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // Current releases refuse a loopback advertise address for the `kubernetes` Service endpoints; nothing here
      // runs in the cluster network, so no endpoints are reconciled at all.
      ...(atLeast(30) ? ['--endpoint-reconciler-type=none'] : []),
      `--cert-dir=${join(dir, 'cert-dir')}`,
      `--tls-cert-file=${p.servingCert}`,
      `--tls-private-key-file=${p.servingKey}`,
      `--client-ca-file=${p.caCert}`,
      `--service-account-key-file=${p.serviceAccountPub}`,
      `--service-account-signing-key-file=${p.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--enable-priority-and-fairness=false',
      `--requestheader-client-ca-file=${settings.frontProxyCaCert}`,
      `--requestheader-allowed-names=${settings.requestheaderAllowedNames.join(',')}`,
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      // 1.33+ (RemoteRequestHeaderUID beta): the aggregator sends X-Remote-Uid and publishes the header name.
      ...(atLeast(33) && settings.uidHeaders.length > 0
        ? [`--requestheader-uid-headers=${settings.uidHeaders.join(',')}`]
        : []),
      `--proxy-client-cert-file=${settings.proxyClientCert}`,
      `--proxy-client-key-file=${settings.proxyClientKey}`,
      `--audit-policy-file=${auditPolicyPath}`,
      `--audit-log-path=${auditLogPath}`,
      '--audit-log-maxbackup=0',
      '--audit-log-maxsize=0',
      `--v=${opts.verbosity ?? 1}`,
      ...settings.extra,
    ];

    const startApiServer = async () => {
      const t = Date.now();
      apiServer = startProcess(join(binDir, 'kube-apiserver'), args(), apiServerLogPath, 'kube-apiserver', dir);
      const proc = apiServer;
      const until = deadline();
      await waitUntil('kube-apiserver /readyz', proc, until, async () => {
        const r = await admin!.request('GET', '/readyz');
        return r.status === 200 ? true : `HTTP ${r.status}: ${r.text.slice(-300)}`;
      });
      await waitUntil('kube-system/extension-apiserver-authentication', proc, until, async () => {
        const r = await admin!.request<{ data?: Record<string, string> }>(
          'GET',
          '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
        );
        return r.status === 200 && r.body.data?.['requestheader-client-ca-file'] ? true : `HTTP ${r.status}`;
      });
      log(`kube-apiserver ready at ${apiServerUrl} (${Date.now() - t} ms)`);
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await startApiServer();
        break;
      } catch (err) {
        await stopProcess(apiServer, apiServerGraceMs);
        if (attempt >= 3 || opts.apiServerPort !== undefined || !lostPortRace(apiServerLogPath)) throw err;
        log(`kube-apiserver lost a port race; retrying`);
        await admin!.close();
        port = await freePort();
        connect();
      }
    }
    const adminClient = admin!;

    return {
      apiServerUrl,
      apiServerPort: port,
      etcdUrl,
      dir,
      binDir,
      kubernetesVersion: version,
      pki,
      pkiPaths: p,
      kubeconfigPath: adminKubeconfigPath,
      adminKubeconfigPath,
      auditLogPath,
      auditPolicyPath,
      apiServerLogPath,
      etcdLogPath,
      admin: adminClient,
      apiServerArgs: args,
      async restartApiServer(r: ApiServerRestartOptions = {}) {
        if (stopped) throw new Error('control plane is stopped');
        if (r.frontProxyCaCert) settings.frontProxyCaCert = r.frontProxyCaCert;
        if (r.proxyClientCert) settings.proxyClientCert = r.proxyClientCert;
        if (r.proxyClientKey) settings.proxyClientKey = r.proxyClientKey;
        if (r.requestheaderAllowedNames) settings.requestheaderAllowedNames = r.requestheaderAllowedNames;
        if (r.extraApiServerFlags) settings.extra = r.extraApiServerFlags;
        if (r.requestheaderUidHeaders) settings.uidHeaders = r.requestheaderUidHeaders;
        await stopProcess(apiServer, apiServerGraceMs);
        let failure: { readonly err: unknown } | undefined;
        try {
          await r.whileDown?.();
        } catch (err) {
          failure = { err };
        }
        await startApiServer();
        if (failure) throw failure.err;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
