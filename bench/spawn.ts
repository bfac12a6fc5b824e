import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild } from './proc.js';
import type { ServerConfig } from './servers/child.js';

export interface ServerStats {
  readonly memory: NodeJS.MemoryUsage;
  readonly extra: Record<string, unknown>;
}

export interface RunningServer {
  readonly name: string;
  readonly port: number;
  readonly origin: string;
  stats(): Promise<ServerStats>;
  gc(): Promise<void>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface SpawnOptions {
  /** Write a V8 CPU profile into this directory (node --cpu-prof). */
  readonly cpuProfDir?: string;
  /** Pin the child to this CPU (taskset), leaving the other core to the load generator. */
  readonly cpu?: number;
  readonly exposeGc?: boolean;
}

/**
 * Starts `bench/servers/<name>.ts` in a child process (its own event loop and, on 2 cores, its own core) and waits for
 * it to report its port.
 */
export async function startServer(name: string, cfg: ServerConfig, opts: SpawnOptions = {}): Promise<RunningServer> {
  const file = fileURLToPath(new URL(`./servers/${name}.ts`, import.meta.url));
  const nodeArgs = ['--import', 'tsx'];
  if (opts.exposeGc) nodeArgs.push('--expose-gc');
  // The tsx loader thread writes its own profile next to the main thread's (bench/profile.ts picks the busy one).
  if (opts.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
  const pinned = opts.cpu !== undefined;
  const child: ChildProcess = fork(file, [], {
    ...(pinned
      ? { execPath: '/usr/bin/taskset', execArgv: ['-c', String(opts.cpu), process.execPath, ...nodeArgs] }
      : { execArgv: nodeArgs }),
    env: { ...process.env, BENCH_SERVER_CONFIG: JSON.stringify(cfg) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const waitFor = <T>(type: string, timeoutMs = 60_000) =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        cleanup();
        reject(new Error(`bench server ${name}: no '${type}' message within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMsg = (m: { type: string } & T) => {
        if (m.type === type) {
          cleanup();
          resolve(m);
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`bench server ${name} exited with ${code} before '${type}'`));
      };
      const cleanup = () => {
        clearTimeout(t);
        child.off('message', onMsg);
        child.off('exit', onExit);
      };
      child.on('message', onMsg);
      child.on('exit', onExit);
    });
  const { port } = await waitFor<{ port: number }>('ready');
  let closed: Promise<void> | undefined;
  return {
    name,
    port,
    origin: `https://127.0.0.1:${port}`,
    async stats() {
      const p = waitFor<ServerStats>('stats');
      child.send({ type: 'stats' });
      return p;
    },
    async gc() {
      const p = waitFor<unknown>('gc-done');
      child.send({ type: 'gc' });
      await p;
    },
    async reset() {
      const p = waitFor<unknown>('reset-done');
      child.send({ type: 'reset' });
      await p;
    },
    close() {
      closed ??= stopChild(child, () => child.send({ type: 'exit' }));
      return closed;
    },
  };
}
