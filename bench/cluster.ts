import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as HarnessAuditLog from '../harness/audit-log.js';
import type * as HarnessClusterPki from '../harness/cluster-pki.js';
import type * as HarnessControlPlane from '../harness/control-plane.js';
import type * as HarnessKube from '../harness/kube.js';
import type { LoadTls } from './load.js';
import type { BenchPki } from './pki.js';
import { allowedGroup } from './review-peer.js';

/** Identity of the server under test towards kube-apiserver (bound to system:auth-delegator). */
export const serverIdentity = 'bench-extension-apiserver';
export const tokenNamespace = 'kda-bench';
export const tokenServiceAccount = 'bench-client';

/** The real control plane (etcd + kube-apiserver via harness/control-plane.ts) set up for the bench. */
export interface BenchCluster {
  readonly label: string;
  readonly apiServerUrl: string;
  /** Kubeconfig of `serverIdentity` for SubjectAccessReviews/TokenReviews. */
  readonly serverKubeconfigFile: string;
  readonly requestheaderClientCaFile: string;
  readonly clientCaFile: string;
  /** The cluster's front-proxy client cert (CN=front-proxy-client); `ca` verifies the bench serving cert. */
  readonly frontProxyClient: LoadTls;
  /** A client-certificate user from the cluster CA (the ConfigMap's client-ca-file), in `bench:allowed`. */
  readonly x509User: LoadTls;
  /** kube-apiserver's secure port on 127.0.0.1 (to find its pid and read its CPU time). */
  readonly apiServerPort: number;
  /** A service-account token (RBAC: may read flunders) for the TokenReview scenario. */
  serviceAccountToken(): Promise<string>;
  /** Current end of the audit log, to count reviews made after this point. */
  auditMark(): number;
  /** SubjectAccessReviews (and TokenReviews) `serverIdentity` sent since `mark`, from kube-apiserver's audit log. */
  countReviews(mark: number): Promise<{ sar: number; tokenReview: number }>;
  /** The started harness control plane (for the Go sample-apiserver anchor). */
  readonly controlPlane: unknown;
  stop(): Promise<void>;
}

/**
 * Starts the real control plane through the harness and prepares RBAC: `serverIdentity` may create reviews, group
 * `bench:allowed` and the bench service accounts may read flunders. Returns undefined (with the reason logged) when
 * the harness or the binaries are not available.
 */
export async function startBenchCluster(pki: BenchPki, log: (m: string) => void): Promise<BenchCluster | undefined> {
  let harness: typeof HarnessControlPlane;
  let pkiMod: typeof HarnessClusterPki;
  let kube: typeof HarnessKube;
  let audit: typeof HarnessAuditLog;
  try {
    audit = await import('../harness/audit-log.js');
    harness = await import('../harness/control-plane.js');
    pkiMod = await import('../harness/cluster-pki.js');
    kube = await import('../harness/kube.js');
  } catch (err) {
    log(`control-plane harness unavailable (${(err as Error).message}); using the in-process review peer`);
    return undefined;
  }
  const missing = harness.missingBinaries(harness.defaultBinDir());
  if (missing.length > 0) {
    log(`control-plane binaries missing (${missing.join(', ')}); using the in-process review peer`);
    return undefined;
  }
  log('starting etcd + kube-apiserver (harness)...');
  const cp = await harness.startControlPlane({ log: (m) => log(`  ${m}`) });
  try {
    const admin = cp.admin;
    await admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kda-bench-auth-delegator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: serverIdentity }],
    });
    await admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'kda-bench-flunder-reader' },
      // Flunders of the Go sample-apiserver, widgets of ours (`kube-delegated-auth serve`).
      rules: [
        {
          apiGroups: ['wardle.example.com', 'sample.kube-delegated-auth.io'],
          resources: ['flunders', 'widgets'],
          verbs: ['get', 'list', 'watch'],
        },
      ],
    });
    await admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kda-bench-flunder-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kda-bench-flunder-reader' },
      subjects: [
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: allowedGroup },
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: `system:serviceaccounts:${tokenNamespace}` },
      ],
    });
    // As the README tells users: the server reads kube-system/extension-apiserver-authentication.
    await admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'kda-bench-authentication-reader', namespace: 'kube-system' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'extension-apiserver-authentication-reader',
      },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: serverIdentity }],
    });
    const identity = pkiMod.issueClientCertificate(cp.pki, { commonName: serverIdentity });
    const x509User = pkiMod.issueClientCertificate(cp.pki, {
      commonName: 'bench-x509-user',
      organizations: [allowedGroup],
    });
    const serverKubeconfigFile = kube.writeKubeconfig(join(pki.dir, 'bench-cluster.kubeconfig'), {
      server: cp.apiServerUrl,
      caPem: cp.pki.ca.certPem,
      certPem: identity.certPem,
      keyPem: identity.keyPem,
      name: 'kda-bench',
    });
    writeFileSync(join(pki.dir, 'cluster-front-proxy-ca.crt'), cp.pki.frontProxyCa.certPem);
    let token: Promise<string> | undefined;
    const servingCa = readFileSync(join(pki.dir, 'serving-ca.crt'), 'utf8');
    return {
      label: `kube-apiserver ${cp.kubernetesVersion.gitVersion} (real, harness)`,
      apiServerUrl: cp.apiServerUrl,
      serverKubeconfigFile,
      requestheaderClientCaFile: cp.pkiPaths.frontProxyCaCert,
      clientCaFile: cp.pkiPaths.caCert,
      frontProxyClient: {
        ca: servingCa,
        cert: cp.pki.frontProxyClient.certPem,
        key: cp.pki.frontProxyClient.keyPem,
      },
      x509User: { ca: servingCa, cert: x509User.certPem, key: x509User.keyPem },
      apiServerPort: cp.apiServerPort,
      serviceAccountToken() {
        token ??= admin.createServiceAccountToken(tokenNamespace, tokenServiceAccount, { expirationSeconds: 3600 });
        return token;
      },
      auditMark: () => audit.auditMark(cp.auditLogPath).offset,
      async countReviews(mark) {
        // The log backend writes each event after the response is sent; give the last ones a moment to land.
        await sleep(1000);
        const q = { after: { offset: mark }, user: serverIdentity };
        return {
          sar: audit.countReviews(cp.auditLogPath, 'SubjectAccessReview', q),
          tokenReview: audit.countReviews(cp.auditLogPath, 'TokenReview', q),
        };
      },
      controlPlane: cp,
      stop: () => cp.stop(),
    };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}
