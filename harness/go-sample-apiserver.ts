import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { ExtensionServingPki } from './cluster-pki.js';
import { kubernetesRelease } from './kubernetes-version.js';
import type { ControlPlane } from './control-plane.js';
import { freePort, lostPortRace, startProcess, stopProcess, waitUntil, type Proc } from './process.js';
import { prepareExtensionServer, type RegisteredApiService } from './register-apiservice.js';

export interface GoSampleApiserverOptions {
  /** Secure port. Default: a free loopback port. */
  readonly port?: number;
  /** Identity (client cert CN) the sample-apiserver uses towards kube-apiserver. Default `kda-wardle-apiserver`. */
  readonly userName?: string;
  /** Extra sample-apiserver flags, e.g. `--authorization-webhook-cache-authorized-ttl=0s`. */
  readonly extraFlags?: readonly string[];
  /** Bound for healthz + APIService availability, in ms. Default 90000. */
  readonly startTimeoutMs?: number;
}

export interface GoSampleApiserver {
  readonly group: 'wardle.example.com';
  readonly version: 'v1alpha1';
  /** Direct URL (`https://127.0.0.1:<port>`), verified by `servingPki.ca`; requests through kube-apiserver are better. */
  readonly url: string;
  readonly port: number;
  readonly userName: string;
  readonly kubeconfigPath: string;
  readonly servingPki: ExtensionServingPki;
  readonly registration: RegisteredApiService;
  readonly logPath: string;
  /** Unregisters the APIService and stops the process. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the Go reference implementation (k8s.io/sample-apiserver, `wardle.example.com/v1alpha1`, stored in the
 * control plane's etcd, with k8s.io/apiserver delegated authn/authz) on the host and registers it behind an
 * APIService, so differential tests and benchmarks can compare it with the Node implementation.
 */
export async function startGoSampleApiserver(
  cp: ControlPlane,
  opts: GoSampleApiserverOptions = {},
): Promise<GoSampleApiserver> {
  const bin = join(cp.binDir, 'sample-apiserver');
  if (!existsSync(bin))
    throw new Error(
      `${bin} missing; run \`KDA_KUBERNETES_VERSION=${kubernetesRelease().minor} bash scripts/control-plane/install.sh\``,
    );
  const userName = opts.userName ?? 'kda-wardle-apiserver';
  // The names of the sample's own deployment artifacts (namespace wardle, service api).
  const setup = await prepareExtensionServer(cp, {
    group: 'wardle.example.com',
    version: 'v1alpha1',
    namespace: 'wardle',
    serviceName: 'api',
    userName,
  });
  const dir = join(cp.dir, 'sample-apiserver');
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  // Beyond delegated auth, its admission plugins and informers read namespaces, webhook configurations and
  // (API priority and fairness) flow-control objects from kube-apiserver.
  await cp.admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'kda-wardle-apiserver' },
    rules: [
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      // Webhook configurations (1.20) plus, from 1.30/1.34 on, (mutating/validating) admission policies and bindings.
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['*'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['flowcontrol.apiserver.k8s.io'],
        resources: ['flowschemas', 'prioritylevelconfigurations'],
        verbs: ['get', 'list', 'watch'],
      },
    ],
  });
  await cp.admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'kda-wardle-apiserver' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kda-wardle-apiserver' },
    subjects: [{ kind: 'User', name: userName, apiGroup: 'rbac.authorization.k8s.io' }],
  });

  let port = opts.port ?? (await freePort());
  const logPath = join(dir, 'sample-apiserver.log');
  let proc: Proc | undefined;
  let registration: RegisteredApiService | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await registration?.unregister().catch(() => {});
    await stopProcess(proc);
  };
  try {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
    // Go's sample cannot report a port the kernel picked (`--secure-port=0` turns HTTPS off), so the port is probed
    // free first, and another process may take it before the sample binds it: retried on a new port, as
    // etcd and kube-apiserver are (`lostPortRace`).
    for (let attempt = 1; ; attempt++) {
      proc = startProcess(
        bin,
        [
          `--etcd-servers=${cp.etcdUrl}`,
          `--secure-port=${port}`,
          '--bind-address=127.0.0.1',
          `--cert-dir=${dir}`,
          `--tls-cert-file=${setup.servingCertPath}`,
          `--tls-private-key-file=${setup.servingKeyPath}`,
          `--kubeconfig=${setup.kubeconfigPath}`,
          `--authentication-kubeconfig=${setup.kubeconfigPath}`,
          `--authorization-kubeconfig=${setup.kubeconfigPath}`,
          ...(opts.extraFlags ?? []),
        ],
        logPath,
        'sample-apiserver',
        cp.dir,
      );
      const agent = new Agent({ connect: { ca: setup.servingPki.ca.certPem } });
      try {
        await waitUntil('sample-apiserver /healthz', proc, deadline, async () => {
          const r = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: agent });
          const text = await r.body.text();
          return r.statusCode === 200 ? true : `HTTP ${r.statusCode}: ${text.slice(-300)}`;
        });
        break;
      } catch (err) {
        await stopProcess(proc);
        if (attempt >= 3 || opts.port !== undefined || !lostPortRace(logPath)) throw err;
        port = await freePort();
      } finally {
        await agent.close();
      }
    }
    const url = `https://127.0.0.1:${port}`;
    registration = await setup.register(port, { timeoutMs: Math.max(1000, deadline - Date.now()) });
    return {
      group: 'wardle.example.com',
      version: 'v1alpha1',
      url,
      port,
      userName,
      kubeconfigPath: setup.kubeconfigPath,
      servingPki: setup.servingPki,
      registration,
      logPath,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
