// A local control plane (etcd + kube-apiserver, optionally the Go sample-apiserver) that stays up in the background.
//
//   npm run cluster -- up [--port 6443] [--sample]   start it; prints the admin kubeconfig path on the last line
//   npm run cluster -- status                        is it running and ready? (exit 0 = ready)
//   npm run cluster -- down                          stop it and remove its files
//
// State lives in $KDA_CACHE_DIR/cluster (default ~/.cache/kube-delegated-auth/cluster): state.json, cluster.log,
// and run/ (PKI, etcd data, logs, audit log, kubeconfigs). KDA_KUBERNETES_VERSION (1.37 default, or 1.20) picks the
// release; binaries come from $KDA_BIN_DIR (default <cache>/k8s-<version>/bin); when they are missing, `up` runs
// scripts/control-plane/install.sh first.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cacheDir,
  defaultBinDir,
  kubernetesRelease,
  missingBinaries,
  startControlPlane,
  tailFile,
  type ControlPlane,
} from '../harness/control-plane.js';
import { startGoSampleApiserver, type GoSampleApiserver } from '../harness/go-sample-apiserver.js';
import { KubeClient } from '../harness/kube.js';
import { reapStaleChildren } from '../harness/process.js';

interface ClusterState {
  readonly pid: number;
  readonly apiServerUrl: string;
  readonly kubeconfigPath: string;
  readonly dir: string;
  readonly auditLogPath: string;
  readonly apiServerLogPath: string;
  readonly etcdLogPath: string;
  readonly etcdUrl: string;
  readonly startedAt: string;
  readonly startupMs: number;
  /** `v1.37.2`: what the cluster's kube-apiserver reports (absent in state files of older versions of this script). */
  readonly kubernetesVersion?: string;
  readonly sampleApiserver?: { readonly url: string; readonly apiService: string; readonly logPath: string };
}

const clusterDir = join(cacheDir(), 'cluster');
const statePath = join(clusterDir, 'state.json');
const logPath = join(clusterDir, 'cluster.log');
const runDir = join(clusterDir, 'run');
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function readState(): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function up(opts: { port?: number | undefined; sample: boolean; timeoutMs: number }): Promise<number> {
  const existing = readState();
  if (existing && alive(existing.pid)) {
    const wanted = `v${kubernetesRelease().version}`;
    if (existing.kubernetesVersion && existing.kubernetesVersion !== wanted) {
      console.error(
        `a cluster running kube-apiserver ${existing.kubernetesVersion} is up (pid ${existing.pid}); KDA_KUBERNETES_VERSION asks for ${wanted}: run \`npm run cluster -- down\` first`,
      );
      return 1;
    }
    console.error(`already running (pid ${existing.pid}) at ${existing.apiServerUrl}`);
    console.log(existing.kubeconfigPath);
    return 0;
  }
  rmSync(statePath, { force: true });
  const binDir = defaultBinDir();
  if (missingBinaries(binDir, ['etcd', 'kube-apiserver', ...(opts.sample ? ['sample-apiserver'] : [])]).length > 0) {
    console.error(
      `binaries missing in ${binDir}; running scripts/control-plane/install.sh for Kubernetes ${kubernetesRelease().version} (several minutes)`,
    );
    const r = spawnSync('bash', [join(repoRoot, 'scripts/control-plane/install.sh')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) return 1;
  }
  mkdirSync(clusterDir, { recursive: true });
  const fd = openSync(logPath, 'w');
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '__serve'];
  if (opts.port) args.push('--port', String(opts.port));
  if (opts.sample) args.push('--sample');
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const state = readState();
    if (state && state.pid === child.pid) {
      console.error(
        `control plane (kube-apiserver ${state.kubernetesVersion}) up in ${state.startupMs} ms at ${state.apiServerUrl} (pid ${state.pid})`,
      );
      if (state.sampleApiserver) console.error(`Go sample-apiserver: ${state.sampleApiserver.apiService}`);
      console.error(`  export KUBECONFIG=${state.kubeconfigPath}`);
      console.log(state.kubeconfigPath);
      return 0;
    }
    if (exited || Date.now() > deadline) {
      if (!exited && child.pid) process.kill(child.pid, 'SIGTERM');
      console.error(`control plane failed to start; ${logPath}:\n${tailFile(logPath, 60)}`);
      return 1;
    }
    await sleep(250);
  }
}

async function serve(opts: { port?: number | undefined; sample: boolean }): Promise<void> {
  const t0 = Date.now();
  // Filled in as things start; the signal handler stops whatever is up.
  const running: { cp?: ControlPlane; sample?: GoSampleApiserver } = {};
  let stopping = false;
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${new Date().toISOString()} stopping (${reason})`);
    await running.sample?.stop().catch((err: unknown) => console.error(err));
    await running.cp?.stop().catch((err: unknown) => console.error(err));
    const state = readState();
    if (state?.pid === process.pid) rmSync(statePath, { force: true });
    process.exit(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));

  const cp = (running.cp = await startControlPlane({
    dir: runDir,
    apiServerPort: opts.port,
    log: (m) => console.error(`${new Date().toISOString()} ${m}`),
  }));
  const sample = opts.sample ? (running.sample = await startGoSampleApiserver(cp)) : undefined;
  const state: ClusterState = {
    pid: process.pid,
    apiServerUrl: cp.apiServerUrl,
    kubeconfigPath: cp.adminKubeconfigPath,
    dir: cp.dir,
    auditLogPath: cp.auditLogPath,
    apiServerLogPath: cp.apiServerLogPath,
    etcdLogPath: cp.etcdLogPath,
    etcdUrl: cp.etcdUrl,
    startedAt: new Date().toISOString(),
    startupMs: Date.now() - t0,
    kubernetesVersion: cp.kubernetesVersion.gitVersion,
    ...(sample
      ? {
          sampleApiserver: {
            url: sample.url,
            apiService: sample.registration.apiServiceName,
            logPath: sample.logPath,
          },
        }
      : {}),
  };
  // Atomic, so `up` never reads half a file.
  writeFileSync(statePath + '.tmp', JSON.stringify(state, null, 2));
  renameSync(statePath + '.tmp', statePath);
  console.error(`${new Date().toISOString()} ready; state in ${statePath}`);
  // The child processes keep the event loop alive; this keeps it alive even if one of them dies, so `status` can
  // report the failure instead of the cluster silently vanishing.
  setInterval(() => {}, 1 << 30);
}

async function down(): Promise<number> {
  const state = readState();
  if (!state) {
    console.error('not running (no state file)');
    return 0;
  }
  if (alive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (alive(state.pid) && Date.now() < deadline) await sleep(100);
    if (alive(state.pid)) {
      console.error(`pid ${state.pid} did not stop within 30 s; sending SIGKILL (etcd/kube-apiserver may remain)`);
      process.kill(state.pid, 'SIGKILL');
    }
  }
  // If the background process was killed outright, its etcd and kube-apiserver are orphans: stop them too.
  reapStaleChildren(runDir);
  rmSync(statePath, { force: true });
  console.error(`stopped (was pid ${state.pid}, ${state.apiServerUrl})`);
  return 0;
}

async function status(): Promise<number> {
  const state = readState();
  if (!state) {
    console.log('not running');
    return 3;
  }
  if (!alive(state.pid)) {
    console.log(`not running (stale state: pid ${state.pid} is gone; run \`npm run cluster -- down\`)`);
    return 3;
  }
  const kube = KubeClient.fromKubeconfig(state.kubeconfigPath);
  try {
    const res = await kube.request('GET', '/readyz').catch((err: unknown) => ({ status: 0, text: String(err) }));
    const ready = res.status === 200;
    console.log(
      JSON.stringify(
        { ready, readyz: ready ? 'ok' : `${res.status} ${res.text.slice(0, 300)}`, statePath, ...state },
        null,
        2,
      ),
    );
    return ready ? 0 : 1;
  } finally {
    await kube.close();
  }
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      sample: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '180' },
    },
  });
  const port = values.port ? Number(values.port) : undefined;
  switch (positionals[0]) {
    case 'up':
      return up({ port, sample: values.sample ?? false, timeoutMs: Number(values.timeout) * 1000 });
    case '__serve':
      await serve({ port, sample: values.sample ?? false });
      return -1;
    case 'down':
      return down();
    case 'status':
      return status();
    default:
      console.error('usage: npm run cluster -- up [--port N] [--sample] [--timeout SECONDS] | status | down');
      return 2;
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
