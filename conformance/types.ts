import type { IssuedCertificate } from '../lib/dev-pki/index.js';
import type { KubeClient } from '../harness/kube.js';

/** Where the suite runs: a control plane it starts itself, or any cluster given by a kubeconfig. */
export type ConformanceMode = 'local' | 'cluster';

/**
 * What an environment can do beyond the Kubernetes API. Cases that need a capability the environment lacks are
 * reported as skipped with the reason, never as passed.
 */
export type Capability =
  /** kube-apiserver's audit log is readable (TokenReview/SubjectAccessReview bodies). */
  | 'auditLog'
  /** kube-apiserver can be restarted with a new front-proxy CA and proxy client certificate. */
  | 'restartApiServer'
  /** The front-proxy CA's private key is available to issue client certificates. */
  | 'frontProxyCaKey';

/** Names of everything the sample server is deployed as; the same in both modes (they come from deploy/). */
export interface SampleNames {
  readonly namespace: string;
  readonly serviceName: string;
  readonly serviceAccount: string;
  readonly group: string;
  readonly version: string;
  /** `<version>.<group>`. */
  readonly apiServiceName: string;
  /** RoleBinding in kube-system to `extension-apiserver-authentication-reader`. */
  readonly readerRoleBinding: string;
  /** ClusterRoleBinding to `system:auth-delegator`. */
  readonly delegatorBinding: string;
  /** ClusterRole granting the widget verbs (bound to test identities by the suite). */
  readonly editorClusterRole: string;
  /** Namespace for the suite's own service accounts and widgets. */
  readonly testNamespace: string;
}

/** A request sent straight to the sample server, bypassing kube-apiserver. */
export interface DirectRequest {
  readonly method?: string;
  readonly path: string;
  /** Arrays are sent as repeated header lines. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: unknown;
  /** Client certificate and key (PEM) to present; none by default. */
  readonly clientCert?: { readonly certPem: string; readonly keyPem: string };
}

/** The answer, or the connection/TLS error when there was none. */
export interface DirectResponse {
  readonly status?: number;
  readonly text: string;
  readonly body?: unknown;
  readonly error?: string;
}

/** Result of rotating the front-proxy CA and restarting kube-apiserver with it. */
export interface FrontProxyRotationResult {
  readonly caPem: string;
  /** The new proxy client certificate (`CN=front-proxy-client`), as kube-apiserver now presents it. */
  readonly clientCert: { readonly certPem: string; readonly keyPem: string };
}

/** Everything a case may use. Built by a mode (`modes/local.ts`, `modes/cluster.ts`). */
export interface ConformanceContext {
  readonly mode: ConformanceMode;
  readonly capabilities: ReadonlySet<Capability>;
  /** Cluster-admin client (local: `system:masters` client cert; cluster: the kubeconfig's user). */
  readonly admin: KubeClient;
  /** Kubeconfig of `admin`, for kubectl. */
  readonly adminKubeconfigPath: string;
  readonly names: SampleNames;
  /** The CA that signed the sample server's serving certificate (the APIService caBundle). */
  readonly servingCaPem: string;
  /** The user the sample server authenticates as towards kube-apiserver. */
  readonly serverIdentity: string;
  /** Where manifests and scratch files go. */
  readonly workDir: string;
  /** Progress messages (stderr). */
  readonly log: (msg: string) => void;

  /** Renders deploy/ for this environment (image, caBundle, serving Secret) as a list of objects. */
  renderedManifests(): Promise<readonly Record<string, unknown>[]>;
  /** Grants the server identity its RBAC (from deploy/) and starts the server (local: a process; cluster: the Deployment). */
  deployServer(): Promise<string>;
  /** Creates the Service and the APIService with caBundle (local: ExternalName + a TCP forwarder on the Service port). */
  registerApiService(): Promise<string>;
  /** The port kube-apiserver dials (APIService `spec.service.port`) and the port the server listens on. */
  ports(): { readonly servicePort: number; readonly serverPort: number };
  /** A request straight to the sample server. */
  direct(req: DirectRequest): Promise<DirectResponse>;
  /** Identifies the running server instance (pid, or pod uid + restart count) to prove it was not restarted. */
  serverInstance(): Promise<string>;
  /** The server's log so far (local: its stderr file; cluster: the pod log). */
  serverLogs(): Promise<string>;
  /** kube-apiserver's audit log path (capability `auditLog`). */
  readonly auditLogPath?: string;
  /** The front-proxy CA with its key (capability `frontProxyCaKey`). */
  readonly frontProxyCa?: IssuedCertificate;
  /** Rotates the front-proxy CA and restarts kube-apiserver (capability `restartApiServer`). */
  rotateFrontProxyCa?(): Promise<FrontProxyRotationResult>;
}

/** Thrown by a case that cannot run in this environment; reported as skipped with `reason`. */
export class SkipCase extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'SkipCase';
  }
}

/** One named conformance case. */
export interface ConformanceCase {
  readonly name: string;
  /**
   * A setup step: when it fails, the cases after it are skipped (their preconditions do not hold). Default false.
   */
  readonly setup?: boolean;
  /** Capabilities the case needs; missing ones make it skipped with the reason. */
  readonly requires?: readonly Capability[];
  /** Why the case is skipped when a required capability is missing (default: a generic message). */
  readonly skipReason?: string;
  /** Resolves with an optional one-line detail for the report; throws (usually an AssertionError) to fail. */
  run(ctx: ConformanceContext): Promise<string | void>;
}

export type CaseOutcome = 'passed' | 'failed' | 'skipped';

export interface CaseResult {
  readonly name: string;
  readonly outcome: CaseOutcome;
  readonly durationMs: number;
  /** Pass detail or skip reason. */
  readonly detail?: string;
  /** Failure message (first lines). */
  readonly error?: string;
}

/** A prepared environment: the context for the cases, and how to tear it down. */
export interface ConformanceEnvironment {
  readonly context: ConformanceContext;
  /** Stops what the mode started and removes what it created. Idempotent. */
  close(): Promise<void>;
}
