import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { createExtensionServingPki, rotateFrontProxyCa } from '../../harness/cluster-pki.js';
import { startControlPlane } from '../../harness/control-plane.js';
import { writeKubeconfig } from '../../harness/kube.js';
import { startProcess, stopProcess, waitUntil, type Proc } from '../../harness/process.js';
import { directRequest } from '../direct.js';
import { loadDeployManifests, namesFromManifests, renderDeployManifests, type Manifest } from '../manifests.js';
import type { Capability, ConformanceContext, ConformanceEnvironment, FrontProxyRotationResult } from '../types.js';
import { startTcpForwarder, type TcpForwarder } from './forwarder.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface LocalModeOptions {
  /** Where etcd and kube-apiserver live; default the harness default (`$KDA_BIN_DIR` or the cache). */
  readonly binDir?: string;
  /** Namespace for the suite's test identities and widgets. Default `kda-conformance`. */
  readonly testNamespace?: string;
  /**
   * The CLI entry to run as the sample server, e.g. a built `dist/cli/main.js` (what the Docker image runs). Default
   * `cli/main.ts` through tsx.
   */
  readonly serverEntry?: string;
  readonly log?: (msg: string) => void;
}

// Only these kinds of deploy/ apply on the host: the Deployment, its Secret and the ClusterIP Service are replaced by a
// process, an ExternalName Service and a forwarder; the APIService is created by registerApiService().
const hostKinds = new Set(['Namespace', 'ServiceAccount', 'ClusterRoleBinding', 'RoleBinding', 'ClusterRole']);

/**
 * Local mode: etcd + kube-apiserver from the harness, the sample server as a host process (`cli/main.ts serve` in
 * cluster mode, authenticating as the deploy/ ServiceAccount with a TokenRequest token), registered behind an
 * ExternalName Service whose port differs from the server's port.
 */
export async function createLocalEnvironment(opts: LocalModeOptions = {}): Promise<ConformanceEnvironment> {
  const log = opts.log ?? (() => {});
  // Its own control plane even inside the e2e run: the rotation case restarts kube-apiserver with another front-proxy
  // CA, which other specs sharing a control plane would not expect.
  const cp = await startControlPlane({ ...(opts.binDir ? { binDir: opts.binDir } : {}), log: (m) => log(m) });
  const manifests = loadDeployManifests();
  const names = { ...namesFromManifests(manifests), testNamespace: opts.testNamespace ?? 'kda-conformance' };
  const workDir = join(cp.dir, 'conformance');
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const serving = createExtensionServingPki(names.serviceName, names.namespace);
  const certPath = join(workDir, 'serving.crt');
  const keyPath = join(workDir, 'serving.key');
  writeFileSync(certPath, serving.serving.certPem);
  writeFileSync(keyPath, serving.serving.keyPem, { mode: 0o600 });
  // Both ports are picked by the kernel when the listeners open (serve `--secure-port=0`, the forwarder on 0), never
  // probed free beforehand: a port found free and bound a moment later can be taken in between by another run.
  let serverPort = 0;
  let servicePort = 0;
  const serverIdentity = `system:serviceaccount:${names.namespace}:${names.serviceAccount}`;
  const serverLogPath = join(workDir, 'sample-server.log');
  const servername = `${names.serviceName}.${names.namespace}.svc`;

  let proc: Proc | undefined;
  let forwarder: TcpForwarder | undefined;
  let rotations = 0;
  const rendered = (): Manifest[] =>
    renderDeployManifests({ servingCaPem: serving.ca.certPem, serving: serving.serving }, manifests);

  const capabilities = new Set<Capability>(['auditLog', 'restartApiServer', 'frontProxyCaKey']);
  const context: ConformanceContext = {
    mode: 'local',
    capabilities,
    admin: cp.admin,
    adminKubeconfigPath: cp.adminKubeconfigPath,
    names,
    servingCaPem: serving.ca.certPem,
    serverIdentity,
    workDir,
    log,
    auditLogPath: cp.auditLogPath,
    frontProxyCa: cp.pki.frontProxyCa,

    async renderedManifests() {
      return rendered();
    },

    async deployServer() {
      for (const m of rendered()) if (hostKinds.has(m.kind)) await cp.admin.apply(m);
      const token = await cp.admin.createServiceAccountToken(names.namespace, names.serviceAccount, {
        expirationSeconds: 4 * 3600,
      });
      const kubeconfig = writeKubeconfig(join(workDir, 'sample-server.kubeconfig'), {
        server: cp.apiServerUrl,
        caPem: cp.pki.ca.certPem,
        token,
        name: 'sample-server',
      });
      // This start's own "listening on" line: the log is appended to across starts.
      serverPort = 0;
      const logStart = existsSync(serverLogPath) ? statSync(serverLogPath).size : 0;
      proc = startProcess(
        process.execPath,
        [
          ...(opts.serverEntry ? [resolve(opts.serverEntry)] : ['--import', 'tsx', join(repoRoot, 'cli/main.ts')]),
          'serve',
          '--secure-port=0',
          '--bind-address=127.0.0.1',
          `--kubeconfig=${kubeconfig}`,
          `--tls-cert-file=${certPath}`,
          `--tls-private-key-file=${keyPath}`,
        ],
        serverLogPath,
        'sample-server',
      );
      const p = proc;
      const agent = new Agent({ connect: { ca: serving.ca.certPem, servername } });
      try {
        await waitUntil('sample server /readyz', p, Date.now() + 60_000, async () => {
          if (serverPort === 0) {
            const listening = /listening on https:\/\/\S+:(\d+)/.exec(
              readFileSync(serverLogPath).subarray(logStart).toString(),
            );
            if (!listening) return 'no "listening on" line in its log yet';
            serverPort = Number(listening[1]);
          }
          const r = await request(`https://127.0.0.1:${serverPort}/readyz`, { dispatcher: agent });
          const text = await r.body.text();
          return r.statusCode === 200 ? true : `HTTP ${r.statusCode}: ${text.slice(0, 300)}`;
        });
      } finally {
        await agent.close();
      }
      const entry = opts.serverEntry ? ` (${resolve(opts.serverEntry)})` : '';
      return `pid ${p.child.pid}${entry} on 127.0.0.1:${serverPort} as ${serverIdentity} (ServiceAccount token via TokenRequest)`;
    },

    async registerApiService() {
      forwarder = await startTcpForwarder(0, serverPort);
      servicePort = forwarder.port;
      await cp.admin.apply({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: names.serviceName, namespace: names.namespace },
        spec: {
          type: 'ExternalName',
          externalName: 'localhost',
          ports: [{ name: 'https', port: servicePort, targetPort: serverPort, protocol: 'TCP' }],
        },
      });
      const apiService = rendered().find((m) => m.kind === 'APIService')!;
      const spec = apiService.spec as { service: { port: number } };
      spec.service.port = servicePort;
      await cp.admin.apply(apiService);
      return `ExternalName Service ${names.namespace}/${names.serviceName} port ${servicePort} -> forwarder -> server port ${serverPort}`;
    },

    ports: () => ({ servicePort, serverPort }),

    direct: (req) => directRequest(`https://127.0.0.1:${serverPort}`, serving.ca.certPem, servername, req),

    async serverInstance() {
      if (!proc) return 'not started';
      const { exitCode, signalCode } = proc.child;
      return exitCode === null && signalCode === null
        ? `pid ${proc.child.pid} running`
        : `pid ${proc.child.pid} exited`;
    },

    async serverLogs() {
      try {
        return readFileSync(serverLogPath, 'utf8');
      } catch {
        return '';
      }
    },

    async rotateFrontProxyCa(): Promise<FrontProxyRotationResult> {
      rotations++;
      const r = rotateFrontProxyCa(cp.pki, `conformance-${rotations}`);
      await cp.restartApiServer({
        frontProxyCaCert: r.frontProxyCaCert,
        proxyClientCert: r.frontProxyClientCert,
        proxyClientKey: r.frontProxyClientKey,
      });
      return {
        caPem: r.frontProxyCa.certPem,
        clientCert: { certPem: r.frontProxyClient.certPem, keyPem: r.frontProxyClient.keyPem },
      };
    },
  };

  let closed: Promise<void> | undefined;
  return {
    context,
    close() {
      closed ??= (async () => {
        await stopProcess(proc, 5_000);
        await forwarder?.close();
        await cp.stop();
      })();
      return closed;
    },
  };
}
