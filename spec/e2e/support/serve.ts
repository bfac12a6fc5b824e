// `kube-delegated-auth serve` spawned as a user runs it (`tsx cli/main.ts serve …`), on 127.0.0.1 and a port the
// kernel picks, for the e2e specs that put it behind the real aggregator.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExtensionServerSetup } from '../../../harness/register-apiservice.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A running `serve`. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** The port it listens on (from its `listening on https://…:<port>` line). */
  readonly port: number;
  /** Everything it wrote so far, stdout and stderr together. */
  output(): string;
  /** SIGTERM when it still runs, then waits for it to exit. */
  stop(): Promise<void>;
}

/** `--kubeconfig`, `--tls-cert-file` and `--tls-private-key-file` of a prepared extension server. */
export function servingFlags(setup: ExtensionServerSetup): string[] {
  return [
    '--kubeconfig',
    setup.kubeconfigPath,
    '--tls-cert-file',
    setup.servingCertPath,
    '--tls-private-key-file',
    setup.servingKeyPath,
  ];
}

/**
 * Spawns `serve` with `args` plus `--bind-address 127.0.0.1 --secure-port 0` and resolves once it says where it
 * listens; rejects with its output when it exits first, or (stopping it) when `timeoutMs`, if given, passes first.
 */
export function startServe(
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {},
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repoRoot, 'cli/main.ts'),
      'serve',
      ...args,
      '--bind-address',
      '127.0.0.1',
      '--secure-port',
      '0',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], ...(options.env && { env: options.env }) },
  );
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolvePromise, reject) => {
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            reject(new Error(`serve did not start:\n${out}`));
            void stop();
          }, options.timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on https:\/\/\S+:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolvePromise({ child, port: Number(m[1]), output: () => out, stop });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
}
