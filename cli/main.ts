#!/usr/bin/env node
import { InvalidOptionError } from 'kube-delegated-auth';
import { runCerts } from './certs.js';
import { certsUsage, parseCertsFlags, parseServeFlags, serveUsage } from './flags.js';
import { startupErrorLines } from 'kube-delegated-auth/startup';
import { FlagError, flagErrorLines } from './flag-set.js';
import { readManifest } from './package-root.js';
import { runIfEntryPoint } from './entry-point.js';

export const usage = `Usage: kube-delegated-auth <command> [flags]

Commands:
  serve     Run the sample extension apiserver (sample.kube-delegated-auth.io/v1alpha1)
  certs     Write a development PKI (front-proxy CA, client CA with users, serving certificate)
  doctor    Check a cluster's aggregation-layer setup (ConfigMap, CAs, RBAC, APIService); one line per check
  webhook   Run a TokenReview/SubjectAccessReview webhook server (static tokens, identity mapping, policy)
  conformance  Check any APIService backend's delegated-auth contract (spoofed headers, paths, tokens, TLS)

Run 'kube-delegated-auth <command> --help' for the flags of a command, 'kube-delegated-auth --version' for the
version.

Exit codes: 0 success, 1 a failure, 2 a flag-usage error; either is one line per problem,
error: <flag or file>: <cause>; fix: <what to do>. NODE_DEBUG=kube-delegated-auth adds the stack and causes to a
failure. Logs go to stderr: JSON lines, or text when stderr is a terminal.
`;

/** Where a command writes: plain lines for humans on stdout, problems on stderr. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

type Command = (args: readonly string[], io: CliIo) => Promise<number>;

/** Commands owned by other modules register here; unknown ones print the usage. */
const commands: Record<string, Command> = {
  async serve(args, io) {
    const parsed = parseServeFlags(args);
    if (parsed.help) {
      io.out(serveUsage);
      return 0;
    }
    // Loaded lazily so `certs` and `--help` do not pay for Koa and the cluster client.
    const { runServe } = await import('../examples/sample-apiserver/serve.js').catch(missingPeer('koa', 'serve'));
    return runServe(parsed, io);
  },
  async certs(args, io) {
    const opts = parseCertsFlags(args);
    if (opts.help) {
      io.out(certsUsage);
      return 0;
    }
    return runCerts(opts, io.out);
  },
  async doctor(args, io) {
    const { runDoctorCommand } = await import('./doctor.js');
    // doctor writes whole lines with their newlines; the CLI io takes lines.
    const lines = (write: (line: string) => void) => (s: string) => write(s.replace(/\n$/, ''));
    return runDoctorCommand([...args], { stdout: lines(io.out), stderr: lines(io.err) });
  },
  async conformance(args, io) {
    const { runConformanceCommand } = await import('./conformance.js');
    return runConformanceCommand(args, io);
  },
  async webhook(args) {
    const { runWebhookCommand } = await import('./webhook.js');
    await runWebhookCommand([...args]);
    return 0;
  },
};

/**
 * `koa` is an optional peer of the package: a user who installed it for Express does not have it. `serve` is a Koa
 * app, so its absence is one line with the install command, not a module-resolution stack.
 */
function missingPeer(pkg: string, command: string) {
  return (err: unknown): never => {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && new RegExp(`'${pkg}'`).test(e.message)) {
      throw new Error(`"${command}" needs the optional peer dependency ${pkg}; fix: npm install ${pkg}`);
    }
    throw err;
  };
}

/** The `version` of the package.json this CLI belongs to. */
export function packageVersion(): string {
  return readManifest().version ?? 'unknown';
}

/** Runs the CLI; resolves to the process exit code (for `serve`, once the server has shut down). */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    io.out(`kube-delegated-auth ${packageVersion()}`);
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    const what = name.startsWith('-') ? 'unknown flag (commands come first)' : 'unknown command';
    io.err(`error: ${name}: ${what}; fix: one of ${Object.keys(commands).join(', ')}, --version or --help`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    // Flag problems: one line each, naming the flag, the cause and the fix; exit 2 (cobra's usage-error code).
    if (err instanceof FlagError) {
      for (const line of flagErrorLines(err, name)) io.err(line);
      return 2;
    }
    if (err instanceof InvalidOptionError) {
      for (const p of err.problems) io.err(`error: ${p}; fix: run 'kube-delegated-auth ${name} --help' for the flags`);
      return 2;
    }
    // A StartupError names the flag or file, the cause and the fix; anything else is one `error:` line too.
    for (const line of startupErrorLines(err)) io.err(line);
    return 1;
  }
}

runIfEntryPoint(import.meta.url, main, startupErrorLines);
