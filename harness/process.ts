import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { waitFor } from './wait-for.js';

// Process plumbing shared by the control plane and the Go sample-apiserver: children write to log files,
// and are killed (and their directories removed) if this process exits without stopping them.

/**
 * Finds `count` distinct free loopback TCP ports by binding `127.0.0.1:0` (all held open together, so they
 * differ). Another process may still take one before the child binds it: callers retry on "address in use".
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolveP, reject) => {
          srv.on('error', reject);
          srv.listen(0, '127.0.0.1', () => {
            const addr = srv.address();
            if (typeof addr === 'object' && addr) resolveP(addr.port);
            else reject(new Error('no port'));
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  }
}

/** One free loopback TCP port (see `freePorts`). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** Whether a child's log says its port was taken (the free-port race). */
export function lostPortRace(logPath: string): boolean {
  return /address already in use/i.test(tailFile(logPath, 20));
}

// Children of every control plane in this process, killed synchronously if the process exits without stop().
const liveChildren = new Set<ChildProcess>();
export const liveDirs = new Set<string>();
let exitHookInstalled = false;

export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) killQuietly(c, 'SIGKILL');
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      // Someone else handles this signal (e.g. scripts/cluster.ts stops gracefully): leave it to them.
      if (process.listenerCount(sig) > 1) return;
      process.removeListener(sig, onSignal);
      for (const c of liveChildren) killQuietly(c, 'SIGKILL');
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

function killQuietly(c: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (c.exitCode === null && c.signalCode === null) c.kill(sig);
  } catch {
    // already gone
  }
}

/** Last `lines` lines of a log file, for error messages. */
export function tailFile(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return `(no log at ${path})`;
  }
}

export interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly logPath: string;
}

/**
 * Spawns `bin` with stdout/stderr appended to `logPath`. With `ownerDir`, records `<our pid> <child pid>` in
 * `<ownerDir>/pids` so a later run can reap the child if this process dies without cleaning up (SIGKILL, OOM).
 */
export function startProcess(
  bin: string,
  args: readonly string[],
  logPath: string,
  name: string,
  ownerDir?: string,
): Proc {
  const fd = openSync(logPath, 'a');
  writeSync(fd, `\n=== ${new Date().toISOString()} ${name} ${args.join(' ')}\n`);
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  liveChildren.add(child);
  if (ownerDir && child.pid) appendFileSync(join(ownerDir, 'pids'), `${process.pid} ${child.pid}\n`);
  const exited = new Promise<void>((resolveP) => {
    child.once('exit', () => {
      liveChildren.delete(child);
      resolveP();
    });
    child.once('error', () => {
      liveChildren.delete(child);
      resolveP();
    });
  });
  return { child, exited, logPath };
}

export async function stopProcess(p: Proc | undefined, graceMs = 10_000): Promise<void> {
  if (!p) return;
  killQuietly(p.child, 'SIGTERM');
  const timer = setTimeout(() => killQuietly(p.child, 'SIGKILL'), graceMs);
  timer.unref();
  await p.exited;
  clearTimeout(timer);
}

export function exitDescription(p: Proc): string | undefined {
  const { exitCode, signalCode } = p.child;
  if (exitCode === null && signalCode === null) return undefined;
  return signalCode ? `killed by ${signalCode}` : `exited with code ${exitCode}`;
}

/**
 * Waits until `check` answers `true` (otherwise it answers, or throws, the state it saw), failing at once when the
 * process exits and at `deadline` (epoch ms) with the last state and the log tail. The exit wakes the wait; readiness
 * is polled every 200 ms, since a starting etcd or kube-apiserver announces it through no event we can subscribe to.
 */
export async function waitUntil(
  what: string,
  proc: Proc,
  deadline: number,
  check: () => Promise<string | true>,
): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const dead = exitDescription(proc);
      if (dead) throw new Error(`${what}: process ${dead}; log tail (${proc.logPath}):\n${tailFile(proc.logPath)}`);
      try {
        const r = await check();
        if (r === true) return true;
        last = r;
      } catch (err) {
        last = (err as Error).message;
      }
      return false;
    },
    {
      what,
      timeoutMs: Math.max(0, deadline - Date.now()),
      intervalMs: 200,
      wakeOn: (wake) => {
        proc.child.on('exit', wake);
        return () => proc.child.off('exit', wake);
      },
      detail: () => `last: ${last}; log tail (${proc.logPath}):\n${tailFile(proc.logPath)}`,
    },
  );
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * If the process that started the children recorded in `<dir>/pids` is gone, SIGKILLs those children that are
 * still running and still refer to `dir` in their command line (so a recycled pid is never hit). Returns true
 * when `dir` belonged to a dead owner (or has no pids file), i.e. it may be removed.
 */
export function reapStaleChildren(dir: string): boolean {
  let lines: string[];
  try {
    lines = readFileSync(join(dir, 'pids'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return true;
  }
  const entries = lines.map((l) => l.split(' ').map(Number) as [number, number]);
  // This process counts as alive too: under mocha + tsx, a dynamic import() loads a second (ESM) copy of this module
  // next to the statically imported (CJS) one, so liveDirs alone does not cover every control plane of the process.
  if (entries.some(([owner]) => owner === process.pid || pidAlive(owner))) return false;
  for (const [owner, child] of entries) {
    if (owner === process.pid || !pidAlive(child)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${child}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(dir)) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  return true;
}

/** Reaps and removes `<root>/<prefix>*` working directories left behind by processes that died. */
export function reapStaleDirs(root: string, prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const n of names) {
    const dir = join(root, n);
    if (liveDirs.has(dir)) continue;
    // A directory without a pids file may be one being set up right now by another run: only touch it once
    // an owner is recorded and dead.
    try {
      readFileSync(join(dir, 'pids'));
    } catch {
      continue;
    }
    if (reapStaleChildren(dir)) rmSync(dir, { recursive: true, force: true });
  }
}
