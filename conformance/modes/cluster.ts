import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExtensionServingPki } from '../../harness/cluster-pki.js';
import { KubeClient } from '../../harness/kube.js';
import { kubectlCacheDir } from '../../harness/kubectl.js';
import { directRequest } from '../direct.js';
import { loadDeployManifests, manifestPorts, namesFromManifests, renderDeployManifests } from '../manifests.js';
import type { ConformanceContext, ConformanceEnvironment } from '../types.js';
import { eventually } from '../cases/support.js';

export interface ClusterModeOptions {
  /** The sample server image, already available to the cluster's nodes (kind: `kind load docker-image`). */
  readonly image: string;
  /** Kubeconfig path. Default the first entry of `$KUBECONFIG`, then `~/.kube/config`. */
  readonly kubeconfig?: string;
  /** Leave the deployment and the test namespace in place. Default false. */
  readonly keep?: boolean;
  /** Namespace for the suite's test identities and widgets. Default `kda-conformance`. */
  readonly testNamespace?: string;
  readonly log?: (msg: string) => void;
}

interface PodObject {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  status?: { phase?: string; containerStatuses?: { restartCount: number; ready: boolean }[] };
}

/**
 * `kubectl port-forward` to the Deployment, on a free local port; resolves once it prints the port. kubectl's cache
 * is `cacheDir` (this run's work directory, as for every kubectl the harness runs), not the shared `~/.kube/cache`.
 */
function portForward(
  kubeconfig: string,
  cacheDir: string,
  namespace: string,
  target: string,
  port: number,
): Promise<{ port: number; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'kubectl',
      [
        '--kubeconfig',
        kubeconfig,
        '--cache-dir',
        cacheDir,
        'port-forward',
        '-n',
        namespace,
        '--address',
        '127.0.0.1',
        target,
        `:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`kubectl port-forward did not start within 30 s: ${out}`));
    }, 30_000);
    timer.unref();
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward: ${err.message} (cluster mode needs kubectl on PATH)`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward exited with ${code}: ${out}`));
    });
  });
}

/**
 * Cluster mode: deploys deploy/ into the cluster of the kubeconfig (image set, serving Secret and caBundle generated
 * here), reaches the server directly through `kubectl port-forward`, and removes everything in `close()`.
 * kube-apiserver's audit log, its restart and the front-proxy CA key are out of reach, so those cases are skipped.
 */
export async function createClusterEnvironment(opts: ClusterModeOptions): Promise<ConformanceEnvironment> {
  const log = opts.log ?? (() => {});
  const kubeconfig = opts.kubeconfig ?? process.env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config');
  const admin = KubeClient.fromKubeconfig(kubeconfig);
  const manifests = loadDeployManifests();
  const names = { ...namesFromManifests(manifests), testNamespace: opts.testNamespace ?? 'kda-conformance' };
  const { servicePort, containerPort } = manifestPorts(manifests);
  const serving = createExtensionServingPki(names.serviceName, names.namespace);
  const rendered = renderDeployManifests(
    { image: opts.image, servingCaPem: serving.ca.certPem, serving: serving.serving },
    manifests,
  );
  const workDir = mkdtempSync(join(tmpdir(), 'kda-conformance-'));
  const servername = `${names.serviceName}.${names.namespace}.svc`;
  const serverIdentity = `system:serviceaccount:${names.namespace}:${names.serviceAccount}`;
  const podSelector = 'app=kube-delegated-auth-sample';
  let forward: { port: number; child: ChildProcess } | undefined;

  const currentPod = async (): Promise<PodObject> => {
    const pods = await admin.get<{ items: PodObject[] }>(`/api/v1/namespaces/${names.namespace}/pods`, {
      query: { labelSelector: podSelector },
    });
    const live = pods.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running');
    if (live.length !== 1) throw new Error(`expected one running pod (${podSelector}), found ${live.length}`);
    return live[0]!;
  };

  const context: ConformanceContext = {
    mode: 'cluster',
    capabilities: new Set(),
    admin,
    adminKubeconfigPath: kubeconfig,
    names,
    servingCaPem: serving.ca.certPem,
    serverIdentity,
    workDir,
    log,

    async renderedManifests() {
      return rendered;
    },

    async deployServer() {
      await admin.ensureNamespace(names.namespace);
      for (const m of rendered) if (m.kind !== 'APIService') await admin.apply(m);
      log(`waiting for deployment ${names.namespace}/${names.serviceName} (image ${opts.image})`);
      await eventually(
        `deployment ${names.serviceName} to have a ready replica`,
        async () => {
          const d = await admin.get<{ status?: { readyReplicas?: number; updatedReplicas?: number } }>(
            `/apis/apps/v1/namespaces/${names.namespace}/deployments/${names.serviceName}`,
          );
          return (d.status?.readyReplicas ?? 0) >= 1 ? true : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 2_000 },
      );
      forward = await portForward(
        kubeconfig,
        kubectlCacheDir({ dir: workDir }),
        names.namespace,
        `deployment/${names.serviceName}`,
        containerPort,
      );
      const pod = await currentPod();
      return `pod ${pod.metadata.name} ready; direct calls via kubectl port-forward 127.0.0.1:${forward.port}`;
    },

    async registerApiService() {
      await admin.apply(rendered.find((m) => m.kind === 'APIService')!);
      return `Service ${names.namespace}/${names.serviceName} port ${servicePort} -> targetPort ${containerPort}`;
    },

    ports: () => ({ servicePort, serverPort: containerPort }),

    async direct(req) {
      if (!forward) return { text: '', error: 'port-forward not running (deployServer failed?)' };
      return directRequest(`https://127.0.0.1:${forward.port}`, serving.ca.certPem, servername, req);
    },

    async serverInstance() {
      const pod = await currentPod();
      return `pod ${pod.metadata.name} uid ${pod.metadata.uid} restarts ${pod.status?.containerStatuses?.[0]?.restartCount ?? '?'}`;
    },

    async serverLogs() {
      const pod = await currentPod();
      const res = await admin.request('GET', `/api/v1/namespaces/${names.namespace}/pods/${pod.metadata.name}/log`);
      return res.text;
    },
  };

  let closed: Promise<void> | undefined;
  return {
    context,
    close() {
      closed ??= (async () => {
        forward?.child.kill();
        if (!opts.keep) {
          for (const m of [...rendered].reverse()) {
            if (m.kind === 'Namespace') continue;
            await admin.deleteObject(m).catch(() => false);
          }
          await admin
            .delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${names.testNamespace}:widget-editors`)
            .catch(() => false);
          await admin.delete(`/api/v1/namespaces/${names.testNamespace}`).catch(() => false);
          await admin.delete(`/api/v1/namespaces/${names.namespace}`).catch(() => false);
        }
        await admin.close();
        rmSync(workDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
