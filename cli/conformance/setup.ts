import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { KubeApiError, type ConnectionConfig, type RestClient } from 'kube-delegated-auth/cluster';
import type { ClientCertificate } from './http.js';
import type { ObjectTracker } from './objects.js';
import type { ProbeTarget } from './target.js';

/** An identity the probes use, as kube-apiserver impersonation and SubjectAccessReview describe it. */
export interface ProbeIdentity {
  readonly user: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
  readonly uid?: string;
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes; resolves undefined on timeout. */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Asks kube-apiserver whether `id` may `verb` the target's probe resource. */
export async function subjectAccessAllowed(
  rest: RestClient,
  target: ProbeTarget,
  id: Omit<ProbeIdentity, 'extra'> & { readonly extra?: ProbeIdentity['extra'] },
  verb = 'list',
): Promise<boolean> {
  const res = target.resource!;
  const review = await rest.post<{ status?: { allowed?: boolean } }>(
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: id.user,
        groups: [...id.groups],
        ...(id.extra && { extra: id.extra }),
        ...(id.uid && { uid: id.uid }),
        resourceAttributes: {
          group: target.group,
          version: target.version,
          resource: res.name,
          verb,
          ...(res.namespaced && { namespace: 'default' }),
        },
      },
    },
  );
  return review.status?.allowed === true;
}

/** The RBAC-bound identities of a run: a user (impersonated through the aggregator) and a ServiceAccount. */
export interface BoundIdentities {
  readonly reader: ProbeIdentity;
  readonly nobody: ProbeIdentity;
  readonly serviceAccount: { readonly namespace: string; readonly name: string; readonly user: string };
}

/**
 * Creates the run's ClusterRole (get/list on the probe resource, create on the whoami resource) bound to a test user
 * and a new ServiceAccount, then waits until SubjectAccessReviews say both are allowed (RBAC caches lag).
 */
export async function bindIdentities(
  rest: RestClient,
  tracker: ObjectTracker,
  target: ProbeTarget,
): Promise<BoundIdentities> {
  const res = target.resource!;
  const reader: ProbeIdentity = {
    user: tracker.name('reader'),
    groups: [tracker.name('group'), 'system:authenticated'],
    extra: { 'kda-probe': [tracker.runId] },
    uid: `uid-${tracker.runId}`,
  };
  const nobody: ProbeIdentity = { user: tracker.name('nobody'), groups: ['system:authenticated'], extra: {} };
  const sa = { namespace: 'default', name: tracker.name('sa') };
  const saUser = `system:serviceaccount:${sa.namespace}:${sa.name}`;
  const role = tracker.name('reader');
  await tracker.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: role },
    rules: [
      { apiGroups: [target.group], resources: [res.name], verbs: ['get', 'list'] },
      ...(target.whoamiPath
        ? [{ apiGroups: [target.group], resources: ['selfsubjectreviews'], verbs: ['create'] }]
        : []),
    ],
  });
  await tracker.create(`/api/v1/namespaces/${sa.namespace}/serviceaccounts`, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: sa.name, namespace: sa.namespace },
  });
  await tracker.create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: role },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [
      { kind: 'User', name: reader.user, apiGroup: 'rbac.authorization.k8s.io' },
      { kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace },
    ],
  });
  const saIdentity = { user: saUser, groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`] };
  const ready = await pollUntil(
    async () =>
      (await subjectAccessAllowed(rest, target, reader)) && (await subjectAccessAllowed(rest, target, saIdentity))
        ? true
        : undefined,
    30_000,
  );
  if (!ready) throw new Error(`RBAC for ${reader.user} and ${saUser} not effective after 30s (SubjectAccessReview)`);
  return { reader, nobody, serviceAccount: { ...sa, user: saUser } };
}

/** A ServiceAccount token from the TokenRequest API (10 minutes). */
export async function serviceAccountToken(
  rest: RestClient,
  sa: { readonly namespace: string; readonly name: string },
): Promise<string> {
  const tr = await rest.post<{ status?: { token?: string } }>(
    `/api/v1/namespaces/${sa.namespace}/serviceaccounts/${sa.name}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
  );
  if (!tr.status?.token) throw new Error('TokenRequest answered without status.token');
  return tr.status.token;
}

/** A client certificate of the cluster's client CA, and where it came from. */
export interface ClientCaCertificate extends ClientCertificate {
  readonly user: string;
  readonly groups: readonly string[];
  readonly source: string;
}

/** Result of the CSR attempt: a certificate, or why there is none. */
export type CsrOutcome =
  | { readonly cert: ClientCaCertificate; readonly skipReason?: undefined }
  | { readonly cert?: undefined; readonly skipReason: string };

/**
 * Gets a client certificate for a new user with no RBAC through the CertificateSigningRequest API (signer
 * `kubernetes.io/kube-apiserver-client`): creates the CSR, approves it, and waits for kube-controller-manager's
 * csrsigning controller to issue it. Clusters without that controller (or whose user may not approve) get a reason.
 */
export async function clientCertificateFromCsr(
  rest: RestClient,
  tracker: ObjectTracker,
  waitMs = 20_000,
): Promise<CsrOutcome> {
  const user = tracker.name('csr-user');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const fkey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(fkey.n, fkey.e);
  csr.setSubject([{ name: 'commonName', value: user }]);
  csr.sign(fkey, forge.md.sha256.create());
  const csrPem = forge.pki.certificationRequestToPem(csr);
  const name = tracker.name('csr');
  const path = `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}`;
  try {
    await tracker.create('/apis/certificates.k8s.io/v1/certificatesigningrequests', {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name },
      spec: {
        request: Buffer.from(csrPem).toString('base64'),
        signerName: 'kubernetes.io/kube-apiserver-client',
        usages: ['client auth'],
        expirationSeconds: 600,
      },
    });
  } catch (err) {
    return { skipReason: `cannot create a CertificateSigningRequest: ${(err as Error).message}` };
  }
  try {
    // Read-modify-write of the approval subresource, read again on a 409 (client-go's RetryOnConflict): a controller
    // that updates the CSR between the GET and the PUT must not turn into a skip that blames the caller's RBAC.
    for (let attempt = 1; ; attempt++) {
      const obj = await rest.get<Record<string, unknown>>(path);
      try {
        await rest.request('PUT', `${path}/approval`, {
          body: {
            ...obj,
            status: {
              conditions: [
                {
                  type: 'Approved',
                  status: 'True',
                  reason: 'KubeDelegatedAuthConformance',
                  message: 'approved by kube-delegated-auth conformance for a short-lived probe certificate',
                },
              ],
            },
          },
        });
        break;
      } catch (err) {
        if (err instanceof KubeApiError && err.statusCode === 409 && attempt < 5) continue;
        throw err;
      }
    }
  } catch (err) {
    return {
      skipReason: `cannot approve the CertificateSigningRequest (needs approve on signer kubernetes.io/kube-apiserver-client): ${(err as Error).message}`,
    };
  }
  const certPem = await pollUntil(async () => {
    const o = await rest.get<{ status?: { certificate?: string } }>(path);
    return o.status?.certificate ? Buffer.from(o.status.certificate, 'base64').toString('utf8') : undefined;
  }, waitMs);
  if (!certPem) {
    return {
      skipReason: `CSR ${name} approved but not signed within ${waitMs / 1000}s: no signer for kubernetes.io/kube-apiserver-client (kube-controller-manager's csrsigning controller is not running or has no --cluster-signing-* key)`,
    };
  }
  return { cert: { certPem, keyPem, user, groups: [], source: `CertificateSigningRequest ${name}` } };
}

function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Whether `certPem` is signed by one of the CAs in `bundlePem`. */
export function issuedBy(certPem: string, bundlePem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    return splitPem(bundlePem).some((ca) => {
      const c = new X509Certificate(ca);
      return cert.checkIssued(c) && cert.verify(c.publicKey);
    });
  } catch {
    return false;
  }
}

/** The kubeconfig's own client certificate, when it is one of the client CA's. */
export function kubeconfigClientCertificate(
  conn: ConnectionConfig,
  clientCaPem: string | undefined,
): ClientCaCertificate | undefined {
  if (!conn.cert || !conn.key || !clientCaPem || !issuedBy(conn.cert, clientCaPem)) return undefined;
  const subject = new X509Certificate(conn.cert).subject.split('\n');
  const user = subject.find((l) => l.startsWith('CN='))?.slice(3) ?? '';
  const groups = subject.filter((l) => l.startsWith('O=')).map((l) => l.slice(2));
  return {
    certPem: conn.cert,
    keyPem: conn.key,
    user,
    groups,
    source: `the kubeconfig's client certificate (CN=${user})`,
  };
}
