import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createExtensionServingPki, issueClientCertificate, type ExtensionServingPki } from './cluster-pki.js';
import type { ControlPlane } from './control-plane.js';
import { writeKubeconfig, type KubeClient, type KubeObject } from './kube.js';

/** An RBAC subject: a user (client cert CN / token user), a group, or a service account. */
export type RbacSubject =
  | { readonly kind: 'User'; readonly name: string }
  | { readonly kind: 'Group'; readonly name: string }
  | { readonly kind: 'ServiceAccount'; readonly name: string; readonly namespace: string };

function rbacSubject(s: RbacSubject): Record<string, string> {
  return s.kind === 'ServiceAccount'
    ? { kind: 'ServiceAccount', name: s.name, namespace: s.namespace }
    : { kind: s.kind, name: s.name, apiGroup: 'rbac.authorization.k8s.io' };
}

/**
 * What every extension API server's own identity needs: a ClusterRoleBinding to `system:auth-delegator`
 * (TokenReviews, SubjectAccessReviews) and a RoleBinding in kube-system to `extension-apiserver-authentication-reader`.
 * `bindingName` names both bindings.
 */
export async function grantDelegatedAuth(kube: KubeClient, bindingName: string, subject: RbacSubject): Promise<void> {
  await kube.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `${bindingName}:system:auth-delegator` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
    subjects: [rbacSubject(subject)],
  });
  await kube.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${bindingName}:extension-apiserver-authentication-reader`, namespace: 'kube-system' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' },
    subjects: [rbacSubject(subject)],
  });
}

export interface RegisterApiServiceOptions {
  readonly group: string;
  readonly version: string;
  /** Port the extension server listens on (on the host, reached as `https://localhost:<port>`). */
  readonly port: number;
  /** Namespace of the ExternalName Service. Created when missing. Default `kube-delegated-auth`. */
  readonly namespace?: string;
  /** Service name. Default: the group with dots replaced by dashes. The serving cert needs `DNS:<service>.<namespace>.svc`. */
  readonly serviceName?: string;
  /** CA that verifies the extension server's serving certificate (PEM). Required unless `insecureSkipTLSVerify`. */
  readonly caBundlePem?: string;
  readonly insecureSkipTLSVerify?: boolean;
  /** Default 1000. */
  readonly groupPriorityMinimum?: number;
  /** Default 15. */
  readonly versionPriority?: number;
  /** The extension server's own identity: gets `system:auth-delegator` and the kube-system reader role. */
  readonly identity?: RbacSubject;
}

export interface RegisteredApiService {
  /** `<version>.<group>`. */
  readonly apiServiceName: string;
  readonly serviceName: string;
  readonly namespace: string;
  /** Deletes the APIService, Service and RBAC bindings (the namespace stays: no controller-manager finalizes it). */
  unregister(): Promise<void>;
}

/**
 * Registers a host-run extension server: Namespace, Service `type: ExternalName, externalName: localhost`
 * with the server's port, the APIService, and RBAC for the server's identity. Does not wait for availability
 * (see `waitForAPIServiceAvailable`).
 */
export async function registerApiService(
  kube: KubeClient,
  opts: RegisterApiServiceOptions,
): Promise<RegisteredApiService> {
  const namespace = opts.namespace ?? 'kube-delegated-auth';
  const serviceName = opts.serviceName ?? opts.group.replace(/\./g, '-');
  const apiServiceName = `${opts.version}.${opts.group}`;
  if (!opts.caBundlePem && !opts.insecureSkipTLSVerify) {
    throw new Error('registerApiService: caBundlePem or insecureSkipTLSVerify is required');
  }
  await kube.ensureNamespace(namespace);
  const service: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName, namespace },
    spec: {
      type: 'ExternalName',
      externalName: 'localhost',
      ports: [{ name: 'https', port: opts.port, protocol: 'TCP' }],
    },
  };
  await kube.apply(service);
  const apiService: KubeObject = {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: apiServiceName },
    spec: {
      group: opts.group,
      version: opts.version,
      service: { name: serviceName, namespace, port: opts.port },
      groupPriorityMinimum: opts.groupPriorityMinimum ?? 1000,
      versionPriority: opts.versionPriority ?? 15,
      ...(opts.insecureSkipTLSVerify
        ? { insecureSkipTLSVerify: true }
        : { caBundle: Buffer.from(opts.caBundlePem!).toString('base64') }),
    },
  };
  // A leftover of the same name (another spec's registration of the group on this control plane, or one whose
  // cleanup failed) is deleted, not updated: an update keeps the Available condition the availability controller
  // set for the previous backend, and `waitForAPIServiceAvailable` would then return before this one is checked.
  // APIServices carry no finalizers, so the name is free again at once.
  await kube.delete(`/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`);
  await kube.apply(apiService);
  const bindingName = `kda-${serviceName}`;
  if (opts.identity) await grantDelegatedAuth(kube, bindingName, opts.identity);
  return {
    apiServiceName,
    serviceName,
    namespace,
    async unregister() {
      await kube.delete(`/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`);
      await kube.delete(`/api/v1/namespaces/${namespace}/services/${serviceName}`);
      if (opts.identity) {
        await kube.delete(
          `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${bindingName}:system:auth-delegator`,
        );
        await kube.delete(
          `/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/${bindingName}:extension-apiserver-authentication-reader`,
        );
      }
    },
  };
}

interface ApiServiceStatus {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * Polls the APIService until its `Available` condition is `True`, then until kube-apiserver routes the
 * group-version path (the proxy handler is installed a moment after the condition flips, and until then the
 * path answers with kube-apiserver's plain `404 page not found`). The timeout error quotes the last state.
 */
export async function waitForAPIServiceAvailable(kube: KubeClient, name: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const apiService = await kube.waitFor<ApiServiceStatus & { spec?: { group?: string; version?: string } }>(
    `/apis/apiregistration.k8s.io/v1/apiservices/${name}`,
    (a) => a.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') ?? false,
    { timeoutMs, what: `APIService ${name} Available=True` },
  );
  const { group, version } = apiService.spec ?? {};
  if (!group || !version) return;
  await kube.waitFor(`/apis/${group}/${version}`, () => true, {
    timeoutMs: Math.max(1000, deadline - Date.now()),
    what: `kube-apiserver to route /apis/${group}/${version}`,
  });
}

export interface IdentityKubeconfig {
  readonly kubeconfigPath: string;
  readonly userName: string;
  readonly groups: readonly string[];
  readonly certPem?: string;
  readonly keyPem?: string;
  readonly token?: string;
}

/**
 * Writes a kubeconfig for an identity: a client certificate issued from the cluster CA (`CN=userName`,
 * `O=groups`), or, with `token`, a bearer token (e.g. from `createServiceAccountToken`). Written into the
 * control plane's directory as `<fileName or userName>.kubeconfig`.
 */
export function createIdentityKubeconfig(
  cp: ControlPlane,
  identity: {
    readonly userName: string;
    readonly groups?: readonly string[] | undefined;
    readonly token?: string;
    readonly fileName?: string;
  },
): IdentityKubeconfig {
  const groups = identity.groups ?? [];
  const path = join(cp.dir, `${(identity.fileName ?? identity.userName).replace(/[^A-Za-z0-9_.-]/g, '_')}.kubeconfig`);
  if (identity.token) {
    writeKubeconfig(path, { server: cp.apiServerUrl, caPem: cp.pki.ca.certPem, token: identity.token });
    return { kubeconfigPath: path, userName: identity.userName, groups, token: identity.token };
  }
  const cert = issueClientCertificate(cp.pki, { commonName: identity.userName, organizations: groups });
  writeKubeconfig(path, {
    server: cp.apiServerUrl,
    caPem: cp.pki.ca.certPem,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
  });
  return { kubeconfigPath: path, userName: identity.userName, groups, certPem: cert.certPem, keyPem: cert.keyPem };
}

export interface ExtensionServerSetupOptions {
  readonly group: string;
  readonly version: string;
  /** Default `kube-delegated-auth`. */
  readonly namespace?: string;
  /** Default: the group with dots replaced by dashes. */
  readonly serviceName?: string;
  /** The server's own identity (client cert CN from the cluster CA). Default `kda-<serviceName>`. */
  readonly userName?: string;
  readonly groups?: readonly string[];
}

/** Everything a host-run extension server needs before it starts, and `register` once it listens. */
export interface ExtensionServerSetup {
  readonly namespace: string;
  readonly serviceName: string;
  readonly userName: string;
  /** Serving CA + certificate (with `DNS:<service>.<namespace>.svc`), also written to `servingCertPath`/`servingKeyPath`. */
  readonly servingPki: ExtensionServingPki;
  readonly servingCertPath: string;
  readonly servingKeyPath: string;
  readonly servingCaPath: string;
  /** Kubeconfig of the server's identity (for its TokenReview/SAR clients and the ConfigMap watch). */
  readonly kubeconfigPath: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Creates the Service + APIService for `port` and waits until kube-apiserver routes the group-version. */
  register(port: number, opts?: { readonly timeoutMs?: number }): Promise<RegisteredApiService>;
}

/**
 * Prepares a host-run extension server: serving PKI, an identity kubeconfig, and its RBAC (granted before the
 * server starts, because servers read kube-system/extension-apiserver-authentication at start-up).
 */
export async function prepareExtensionServer(
  cp: ControlPlane,
  opts: ExtensionServerSetupOptions,
): Promise<ExtensionServerSetup> {
  const namespace = opts.namespace ?? 'kube-delegated-auth';
  const serviceName = opts.serviceName ?? opts.group.replace(/\./g, '-');
  const userName = opts.userName ?? `kda-${serviceName}`;
  const dir = join(cp.dir, `ext-${namespace}-${serviceName}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const servingPki = createExtensionServingPki(serviceName, namespace);
  const servingCertPath = join(dir, 'serving.crt');
  const servingKeyPath = join(dir, 'serving.key');
  const servingCaPath = join(dir, 'serving-ca.crt');
  writeFileSync(servingCertPath, servingPki.serving.certPem);
  writeFileSync(servingKeyPath, servingPki.serving.keyPem, { mode: 0o600 });
  writeFileSync(servingCaPath, servingPki.ca.certPem);
  const identity = createIdentityKubeconfig(cp, {
    userName,
    groups: opts.groups,
    fileName: `ext-${namespace}-${serviceName}`,
  });
  await grantDelegatedAuth(cp.admin, `kda-${serviceName}`, { kind: 'User', name: userName });
  return {
    namespace,
    serviceName,
    userName,
    servingPki,
    servingCertPath,
    servingKeyPath,
    servingCaPath,
    kubeconfigPath: identity.kubeconfigPath,
    certPem: identity.certPem!,
    keyPem: identity.keyPem!,
    async register(port, r = {}) {
      const reg = await registerApiService(cp.admin, {
        group: opts.group,
        version: opts.version,
        port,
        namespace,
        serviceName,
        caBundlePem: servingPki.ca.certPem,
        identity: { kind: 'User', name: userName },
      });
      await waitForAPIServiceAvailable(cp.admin, reg.apiServiceName, r.timeoutMs ?? 60_000);
      return reg;
    },
  };
}
