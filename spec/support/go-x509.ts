// Go's real crypto/x509 (the parser and verifier kube-apiserver uses, as the aggregator's TLS client and as the
// delegated x509 authenticator) as the reference for certificate specs: spec/support/go-x509/main.go, standard
// library only, built once per source and toolchain version into a cache directory outside the checkout. Two uses:
// {@link GoX509.check} parses (and optionally verifies) PEM files; {@link GoX509.startBatch} answers one
// verification per call over stdin/stdout, for the fuzz and field specs that ask thousands of times.
// {@link goX509} is undefined when no Go toolchain is installed or it is older than {@link minimumGo}: x509 parsing
// changed between releases (negative serials are refused since 1.23, policies are validated since 1.24, …) and the
// expectations here are those of current Go. The tests that depend on it are then pending, never counted as passing.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const source = join(dirname(fileURLToPath(import.meta.url)), 'go-x509', 'main.go');

/** The Go release the certificate specs' statements about Go were checked against. */
export const minimumGo: readonly [number, number] = [1, 26];

/** One line of x509check's file-mode output: a parsed certificate, or a verification. */
export interface GoX509Result {
  readonly file: string;
  readonly index: number;
  readonly subject?: string;
  readonly issuer?: string;
  readonly serial?: string;
  readonly isCA: boolean;
  readonly error?: string;
  /** `ok` or `error` for the verification line (with `roots`). */
  readonly verify?: string;
}

/** What Go says of one batch request. */
export interface GoVerdict {
  readonly ok: boolean;
  readonly error?: string;
}

export type GoUsage = 'server' | 'client' | 'any';

/** A running batch-mode x509check. */
export interface GoX509Batch {
  /**
   * Go: parse every certificate sent, then Verify(Roots, Intermediates, CurrentTime, DNSName, KeyUsages); the usage
   * is clientAuth unless `opts.usage` says otherwise (as k8s.io/apiserver's x509 authenticator calls it).
   */
  verify(
    leaf: Buffer,
    intermediates: readonly Buffer[],
    roots: readonly Buffer[],
    now: number,
    opts?: { readonly dnsName?: string; readonly usage?: GoUsage },
  ): Promise<GoVerdict>;
  close(): void;
}

/** The built x509check. */
export interface GoX509 {
  /**
   * Parses every CERTIFICATE block of `files` with Go's `x509.ParseCertificate`; with `roots`, also verifies the
   * first certificate of each file (the others are intermediates) as a Go TLS client would. Never throws for a
   * failed parse: `ok` is false and the results say why.
   */
  check(
    files: readonly string[],
    opts?: { readonly roots?: string; readonly dnsName?: string; readonly usage?: GoUsage },
  ): Promise<{ readonly ok: boolean; readonly results: readonly GoX509Result[]; readonly stderr: string }>;
  /** Starts a batch-mode process (close it when done). */
  startBatch(): GoX509Batch;
}

/** The Go toolchain: `$GO`, else /usr/local/go/bin/go, else `go` on PATH. */
function goBinary(): string {
  if (process.env.GO) return process.env.GO;
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
}

function goEnv(): NodeJS.ProcessEnv {
  // A file outside any module, no toolchain download, no network needed (standard library only).
  return { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '', GO111MODULE: 'on', GOPROXY: 'off', CGO_ENABLED: '0' };
}

let built: Promise<GoX509 | undefined> | undefined;

/**
 * Builds x509check once per source and Go version into `$XDG_CACHE_HOME/kube-delegated-auth/go-x509/<hash>/`.
 * Undefined when there is no Go toolchain or it is older than {@link minimumGo}; rejects when a recent enough
 * toolchain fails to build it (that fails the Go tests, it does not make them pending).
 */
export function goX509(): Promise<GoX509 | undefined> {
  built ??= (async () => {
    const go = goBinary();
    const version = await run(go, ['env', 'GOVERSION'], { env: goEnv() }).then(
      (r) => r.stdout.trim(),
      () => undefined,
    );
    const m = version ? /^go(\d+)\.(\d+)/.exec(version) : null;
    if (!m || Number(m[1]) * 1000 + Number(m[2]) < minimumGo[0] * 1000 + minimumGo[1]) return undefined;
    const hash = createHash('sha256').update(readFileSync(source)).update(version!).digest('hex').slice(0, 16);
    const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
    const dir = join(cache, 'kube-delegated-auth', 'go-x509', hash);
    const bin = join(dir, 'x509check');
    if (!existsSync(bin)) {
      mkdirSync(dir, { recursive: true });
      // Build to a private name, then rename: concurrent test runs never execute a half-written binary.
      const tmp = `${bin}.${process.pid}.tmp`;
      await run(go, ['build', '-trimpath', '-o', tmp, source], {
        env: goEnv(),
        cwd: dirname(source),
        timeout: 300_000,
      }).catch((err: Error & { stderr?: string }) => {
        throw new Error(`go build of spec/support/go-x509 failed: ${err.stderr || err.message}`);
      });
      renameSync(tmp, bin);
    }
    return { check: (files, opts) => check(bin, files, opts), startBatch: () => startBatch(bin) };
  })();
  return built;
}

async function check(
  bin: string,
  files: readonly string[],
  opts: { readonly roots?: string; readonly dnsName?: string; readonly usage?: GoUsage } = {},
): Promise<{ readonly ok: boolean; readonly results: readonly GoX509Result[]; readonly stderr: string }> {
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

function startBatch(bin: string): GoX509Batch {
  const child = spawn(bin, ['-batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const pending: ((v: GoVerdict) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    pending.shift()?.(JSON.parse(line) as GoVerdict);
  });
  return {
    verify(leaf, intermediates, roots, now, opts = {}) {
      return new Promise((resolve) => {
        pending.push(resolve);
        const b64 = (b: Buffer) => b.toString('base64');
        const request = {
          leaf: b64(leaf),
          intermediates: intermediates.map(b64),
          roots: roots.map(b64),
          now,
          dns: opts.dnsName ?? '',
          usage: opts.usage ?? 'client',
        };
        child.stdin.write(JSON.stringify(request) + '\n');
      });
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}
