// Reading another process's CPU time: for servers that are not our IPC children (Go, `kube-delegated-auth serve`,
// kube-apiserver), from /proc (Linux only; elsewhere the CPU columns stay empty); and stopping a server child.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The pid listening on a loopback TCP port (from `ss`), or undefined. */
export function listeningPid(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process from /proc/<pid>/stat, µs (clock ticks of 1/100 s), or undefined if unreadable. */
export function processCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the comm: index 11 = utime, 12 = stime (proc(5) fields 14 and 15).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process from /proc/<pid>/status, bytes. */
export function processRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks `child` to stop with `askToStop` (a signal, an IPC message) and resolves once it has exited; SIGKILL after
 * 10 s if it has not. Resolves at once when it already exited.
 */
export function stopChild(child: ChildProcess, askToStop: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    askToStop();
  });
}
