// The `main` stanza of the programs run as scripts (the `kube-delegated-auth` bin, `npm run conformance`): run main
// when this module is the script node started (also through npm's bin symlink), exit with its code, and never end in
// a stack trace: not on a rejected main, not on a stdout closed by the reader (`kube-delegated-auth certs | head -2`).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** True when `moduleUrl` (a module's `import.meta.url`) is the script node was started with, symlinks resolved. */
export function isEntryPoint(moduleUrl: string, script: string | undefined = process.argv[1]): boolean {
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/**
 * A reader that goes away (`| head -2`, a closed socket) makes the next stdout write fail with EPIPE, which node
 * reports as an unhandled 'error' event: a stack trace on stderr and exit 1. Go and coreutils end quietly on
 * SIGPIPE instead. Here the rest of stdout is dropped without a word and the command finishes its work (files
 * written, cluster objects cleaned up) with its own exit code: 0 when the work succeeded. Any other stdout error is
 * one `error:` line and exit code 1.
 */
export function endQuietlyOnClosedStdout(stdout: NodeJS.WriteStream = process.stdout): void {
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
    process.stderr.write(`error: stdout: ${err.message}; fix: write the output to a file or a pipe that stays open\n`);
    process.exitCode = 1;
  });
}

/**
 * When `moduleUrl` is the entry point: runs `main` with the command-line arguments and exits with the code it
 * resolves to; a rejection prints `errorLines(err)` on stderr and exits 1. Does nothing when the module is imported.
 */
export function runIfEntryPoint(
  moduleUrl: string,
  main: (argv: readonly string[]) => Promise<number>,
  errorLines: (err: unknown) => readonly string[],
): void {
  if (!isEntryPoint(moduleUrl)) return;
  endQuietlyOnClosedStdout();
  main(process.argv.slice(2)).then(
    (code) => {
      if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(errorLines(err).join('\n') + '\n');
      process.exitCode = 1;
    },
  );
}
