// `kube-delegated-auth serve` (the sample extension apiserver) as users start it: the CLI in its own process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { processCpuUs, stopChild } from './proc.js';
import type { RunningServer } from './spawn.js';

const none = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };

export interface ServeProcess extends RunningServer {
  readonly pid: number;
  /** ms from spawn until the `listening on` line. */
  readonly startMs: number;
}

/**
 * Starts `cli/main.ts serve <flags>` (through tsx, as the other bench servers) with `--secure-port 0` and resolves
 * with its port once it prints `listening on https://…:<port>`. Stats are its /proc CPU time (no IPC channel).
 */
export async function startServe(flags: readonly string[], log: (m: string) => void): Promise<ServeProcess> {
  const main = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '--secure-port', '0', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`serve: no 'listening on' within 60 s; stderr: ${stderr}`)), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /listening on https:\/\/[^\s]*:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`serve exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
  const startMs = performance.now() - t0;
  child.stdout.resume();
  log(`  serve listening on ${port} after ${startMs.toFixed(0)} ms (pid ${child.pid})`);
  let closed: Promise<void> | undefined;
  const pid = child.pid!;
  return {
    name: 'serve',
    pid,
    port,
    startMs,
    origin: `https://127.0.0.1:${port}`,
    stats: () => Promise.resolve({ memory: none, extra: { cpuUs: processCpuUs(pid) ?? NaN } }),
    gc: () => Promise.resolve(),
    reset: () => Promise.resolve(),
    close() {
      closed ??= stopChild(child, () => child.kill('SIGTERM'));
      return closed;
    },
  };
}
