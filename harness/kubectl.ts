// The one way the harness and the specs run kubectl against a control plane. kubectl keeps discovery and OpenAPI
// documents on disk per host:port (`~/.kube/cache` unless told otherwise) for hours, and `explain` does not refresh
// them on a miss. Two things change under such a cache in the e2e suite: the kernel reuses loopback ports, so another
// control plane's documents can answer (seen in CI: a server's `api-resources` listed the group of a server that had
// held the port before), and on one control plane the specs register and remove APIServices all the time, so a cache
// shared by the control plane's runs answered `explain` without a group registered after it was filled. Every run
// here therefore gets a fresh `--cache-dir` of its own, inside the control plane's working directory, removed when
// the run ends: each run sees the server as a new user's kubectl would.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { kubectlPath } from './kubernetes-version.js';
import { waitFor } from './wait-for.js';

/** What kubectl runs against: a control plane's working directory and admin kubeconfig (a `ControlPlane` is one). */
export interface KubectlTarget {
  /** The control plane's working directory; the cache lives inside it, so it goes with it. */
  readonly dir: string;
  /** The kubeconfig used when a run names none. */
  readonly kubeconfigPath: string;
}

export interface KubectlOptions {
  /** Another kubeconfig of the same control plane (e.g. an identity's). Default the target's admin kubeconfig. */
  readonly kubeconfig?: string;
  /** Default `kubectlPath()` (`$KDA_KUBECTL`, else the harness-built v1.37 kubectl). */
  readonly binary?: string;
  /** Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface KubectlRunOptions extends KubectlOptions {
  /** Written to kubectl's stdin (which is then closed). */
  readonly stdin?: string;
  /** Kill kubectl (SIGKILL) after this many ms; the run then resolves with `code: null`. Default 60000. */
  readonly timeoutMs?: number;
}

export interface KubectlRun {
  /** Exit code; `null` when a signal (or the timeout) ended it. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where the runs against one control plane keep their caches: `<dir>/kubectl-cache/run-*`, one per run. */
export function kubectlCacheDir(target: Pick<KubectlTarget, 'dir'>): string {
  return join(target.dir, 'kubectl-cache');
}

/**
 * The file and argument list of one kubectl run against `target`: `--kubeconfig` and a fresh `--cache-dir` (created
 * here, under {@link kubectlCacheDir}) come first. Whoever runs it removes `cacheDir` when the run ends.
 */
export function kubectlCommand(
  target: KubectlTarget,
  args: readonly string[],
  opts: KubectlOptions = {},
): { readonly file: string; readonly args: readonly string[]; readonly cacheDir: string } {
  mkdirSync(kubectlCacheDir(target), { recursive: true });
  const cacheDir = mkdtempSync(join(kubectlCacheDir(target), 'run-'));
  return {
    file: opts.binary ?? kubectlPath(),
    args: ['--kubeconfig', opts.kubeconfig ?? target.kubeconfigPath, '--cache-dir', cacheDir, ...args],
    cacheDir,
  };
}

const removeCache = (dir: string) => rmSync(dir, { recursive: true, force: true });

/** Starts kubectl against `target` with stdin closed and stdout/stderr piped; for long runs (`get -w`). */
export function spawnKubectl(
  target: KubectlTarget,
  args: readonly string[],
  opts: KubectlOptions = {},
): ChildProcessByStdio<null, Readable, Readable> {
  const cmd = kubectlCommand(target, args, opts);
  const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  child.once('close', () => removeCache(cmd.cacheDir));
  child.once('error', () => removeCache(cmd.cacheDir));
  return child;
}

/**
 * Runs kubectl against `target` to completion. Never rejects on a non-zero exit (callers assert the code); rejects
 * only when kubectl cannot be started at all.
 */
export function runKubectl(
  target: KubectlTarget,
  args: readonly string[],
  opts: KubectlRunOptions = {},
): Promise<KubectlRun> {
  const cmd = kubectlCommand(target, args, opts);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.file, cmd.args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    timer.unref();
    child.once('error', (err) => {
      clearTimeout(timer);
      removeCache(cmd.cacheDir);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      removeCache(cmd.cacheDir);
      resolve({ code, stdout, stderr });
    });
    // kubectl may exit before reading stdin (a bad flag): an EPIPE here is not the run's error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}

/** `runKubectl`, rejecting with kubectl's stderr unless it exits 0; resolves with stdout. */
export async function kubectlOk(
  target: KubectlTarget,
  args: readonly string[],
  opts: KubectlRunOptions = {},
): Promise<string> {
  const r = await runKubectl(target, args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited with ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Runs kubectl against `target` until it exits 0 with output `expected` matches, and returns that run. For what
 * kube-apiserver publishes some time after an APIService became available (discovery, the merged OpenAPI) with no
 * event to wait on: a poll bounded by a deadline (default 90000 ms), never by a number of attempts (how many runs
 * fit depends on the machine's load). The timeout error quotes the last run.
 */
export async function kubectlUntil(
  target: KubectlTarget,
  args: readonly string[],
  expected: RegExp,
  opts: KubectlOptions & { readonly timeoutMs?: number; readonly intervalMs?: number } = {},
): Promise<KubectlRun> {
  let last: KubectlRun | undefined;
  return waitFor(
    async () => {
      last = await runKubectl(target, args, opts);
      return last.code === 0 && expected.test(last.stdout) ? last : undefined;
    },
    {
      what: `kubectl ${args.join(' ')} to print ${expected}`,
      timeoutMs: opts.timeoutMs ?? 90_000,
      intervalMs: opts.intervalMs ?? 250,
      detail: () => `last run: exit ${last?.code}; stdout: ${last?.stdout}; stderr: ${last?.stderr}`,
    },
  );
}
