// Runs Go's real crypto/x509 parser (the one kube-apiserver's aggregator uses) on PEM files: spec/support/go-x509/
// main.go, standard library only, built on demand into a cache directory outside the checkout.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const source = join(dirname(fileURLToPath(import.meta.url)), 'go-x509', 'main.go');

/** One line of x509check's output: a parsed certificate, or a verification. */
export interface GoX509Result {
  readonly file: string;
  readonly index: number;
  readonly subject?: string;
  readonly issuer?: string;
  readonly serial?: string;
  readonly isCA: boolean;
  readonly error?: string;
  /** `ok` or `error` for the verification line (with -roots). */
  readonly verify?: string;
}

/** The Go toolchain: `$GO`, else /usr/local/go/bin/go, else `go` on PATH. */
function goBinary(): string {
  if (process.env.GO) return process.env.GO;
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
}

let built: Promise<string> | undefined;

/** Builds x509check once per source version into `$XDG_CACHE_HOME/kube-delegated-auth/go-x509/<hash>/`. */
export function buildGoX509Check(): Promise<string> {
  built ??= (async () => {
    const go = goBinary();
    const { stdout: version } = await run(go, ['env', 'GOVERSION'], { env: goEnv() });
    const hash = createHash('sha256').update(readFileSync(source)).update(version).digest('hex').slice(0, 16);
    const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
    const dir = join(cache, 'kube-delegated-auth', 'go-x509', hash);
    const bin = join(dir, 'x509check');
    if (existsSync(bin)) return bin;
    mkdirSync(dir, { recursive: true });
    // Build to a private name, then rename: concurrent test runs never execute a half-written binary.
    const tmp = `${bin}.${process.pid}.tmp`;
    await run(go, ['build', '-trimpath', '-o', tmp, source], { env: goEnv(), cwd: dirname(source), timeout: 300_000 });
    renameSync(tmp, bin);
    return bin;
  })();
  return built;
}

function goEnv(): NodeJS.ProcessEnv {
  // A file outside any module, no toolchain download, no network needed (standard library only).
  return { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '', GO111MODULE: 'on', GOPROXY: 'off' };
}

/**
 * Parses every CERTIFICATE block of `files` with Go's `x509.ParseCertificate`; with `roots`, also verifies the
 * first certificate of each file (the others are intermediates) as a Go TLS client would. Never throws for a
 * failed parse: `ok` is false and the results say why.
 */
export async function goX509Check(
  files: readonly string[],
  opts: { readonly roots?: string; readonly dnsName?: string; readonly usage?: 'server' | 'client' | 'any' } = {},
): Promise<{ readonly ok: boolean; readonly results: readonly GoX509Result[]; readonly stderr: string }> {
  const bin = await buildGoX509Check();
  const args = [
    ...(opts.roots ? ['-roots', opts.roots] : []),
    ...(opts.dnsName ? ['-dns', opts.dnsName] : []),
    ...(opts.usage ? ['-usage', opts.usage] : []),
    ...files,
  ];
  try {
    const { stdout, stderr } = await run(bin, args);
    return { ok: true, results: parseLines(stdout), stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (e.code !== 1) throw err;
    return { ok: false, results: parseLines(e.stdout ?? ''), stderr: e.stderr ?? '' };
  }
}

function parseLines(stdout: string): GoX509Result[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as GoX509Result);
}
