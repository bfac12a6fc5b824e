// Programs the specs spawn as a user runs them (an example or the CLI under tsx, `serve`, a packed install under plain
// node, kubectl): `runToExit` for one that runs to its exit code, `startListening` for a server that says where it
// listens with a `listening on https://<host>:<port>` line. The one place the specs spawn a program and collect its
// output, so that each spec says only what it runs and what it checks.
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait-for.js';

/** A spawned program that has printed its `listening on` line. */
export interface ListeningProcess {
  readonly child: ChildProcess;
  /** `https://<host>:<port>` from its `listening on` line (no path, no trailing slash). */
  readonly url: string;
  /** The port of `url`. */
  readonly port: number;
  /** Everything it wrote so far, stdout and stderr together. */
  output(): string;
  /** Its exit code once it has exited (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Resolves with the match once a whole line of its output matches `re`; rejects when it exits first. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends `signal` (default SIGTERM) when it still runs, then resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How `startListening` spawns the program. */
export interface StartListeningOptions {
  readonly cwd?: string;
  /** The child's environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Names the program in errors. Default: its first `.ts`/`.js` argument, or `command`. */
  readonly name?: string;
  /** How long it may take to print its `listening on` line; then it is killed. Default 90000. */
  readonly timeoutMs?: number;
}

/** The `listening on` line every example, fixture and `serve` prints (pino's JSON line included). */
const listeningLine = /listening on (https?:\/\/[^\s"'/]+)/;

/**
 * Spawns `command args` and resolves once it prints `listening on <url>`. Rejects with its output when it exits (or
 * cannot be spawned) first, or when `timeoutMs` passes first (killing it then): a failed start leaves no child behind.
 */
export async function startListening(
  command: string,
  args: readonly string[],
  options: StartListeningOptions = {},
): Promise<ListeningProcess> {
  const name = options.name ?? args.find((a) => /\.[cm]?[jt]s$/.test(a)) ?? command;
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    ...(options.env !== undefined && { env: options.env }),
  });
  let out = '';
  const collect = (d: Buffer) => (out += d.toString());
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  // Set once it can print no more: 'close' comes after its streams end, so `out` is complete by then.
  let ended: string | undefined;
  child.once('close', (code, signal) => (ended ??= `exited with ${code ?? signal}`));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      ended ??= `could not be spawned: ${err.message}`;
      if (child.pid === undefined) resolve(null); // never ran: no 'exit' comes
    });
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  const waitForOutput = (re: RegExp, timeoutMs = 90_000) =>
    waitFor(
      () => {
        // Whole lines only (all of it once it has ended): a line split across chunks must not match half-read.
        const m = re.exec(ended === undefined ? out.slice(0, out.lastIndexOf('\n') + 1) : out);
        if (m) return m;
        if (ended !== undefined) throw new Error(`${name} ${ended} before printing ${re}:\n${out}`);
        return undefined;
      },
      {
        what: `${name} to print ${re}`,
        timeoutMs,
        wakeOn: (wake) => {
          child.stdout!.on('data', wake);
          child.stderr!.on('data', wake);
          child.on('close', wake);
          child.on('error', wake);
          return () => {
            child.stdout!.off('data', wake);
            child.stderr!.off('data', wake);
            child.off('close', wake);
            child.off('error', wake);
          };
        },
        detail: () => `\n${out}`,
      },
    );
  let url: string;
  try {
    url = (await waitForOutput(listeningLine, options.timeoutMs))[1]!;
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  return { child, url, port: Number(new URL(url).port), output: () => out, exited, waitForOutput, stop };
}

/** How a program that ran to its end ended. */
export interface ProgramRun {
  /** Its exit code (null when a signal ended it). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How `runToExit` runs the program. */
export interface RunToExitOptions {
  readonly cwd?: string;
  /** The child's environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed (default: stdin is /dev/null). */
  readonly stdin?: string;
  /** Kills it and rejects with its output when it still runs by then (for a program that should have ended). */
  readonly timeoutMs?: number;
}

/**
 * Runs `command args` to its end and resolves with its exit code and output; a non-zero exit is a result, not an
 * error (the spec asserts the code). Rejects when it cannot be spawned, or when `timeoutMs` passes first.
 */
export function runToExit(
  command: string,
  args: readonly string[],
  options: RunToExitOptions = {},
): Promise<ProgramRun> {
  const child = spawn(command, args, {
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    ...(options.env !== undefined && { env: options.env }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  return new Promise((resolve, reject) => {
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`still running after ${options.timeoutMs} ms:\n${stdout}\n${stderr}`));
          }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
