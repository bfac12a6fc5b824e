// Go's crypto/x509 as a reference for certificate specs: spec/support/go-x509-oracle/main.go, built once per run with
// the local Go toolchain (stdlib only, no network) and driven over stdin/stdout. Undefined when `go` is not installed
// or older than {@link minimumGo}: x509 parsing changed between releases (negative serials are refused since 1.23,
// policies are validated since 1.24, …) and the expectations here are those of current Go.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface GoVerdict {
  readonly ok: boolean;
  readonly error?: string;
}

export interface GoOracle {
  /** Go: parse every certificate the client sent, then Verify(Roots, Intermediates, CurrentTime, [clientAuth]). */
  verify(leaf: Buffer, intermediates: readonly Buffer[], roots: readonly Buffer[], now: number): Promise<GoVerdict>;
  close(): void;
}

/** The Go release the certificate specs' statements about Go were checked against. */
export const minimumGo: readonly [number, number] = [1, 26];

const source = fileURLToPath(new URL('./go-x509-oracle/main.go', import.meta.url));

/** Builds and starts the oracle; undefined when no Go toolchain is on PATH. */
export async function startGoOracle(): Promise<GoOracle | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'kda-go-oracle-'));
  const binary = join(dir, 'oracle');
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '', CGO_ENABLED: '0' };
  const version = await new Promise<string | undefined>((resolve) => {
    execFile('go', ['env', 'GOVERSION'], { env }, (err, stdout) => resolve(err ? undefined : stdout.trim()));
  });
  const m = version && /^go(\d+)\.(\d+)/.exec(version);
  if (!m || Number(m[1]) * 1000 + Number(m[2]) < minimumGo[0] * 1000 + minimumGo[1]) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  const built = await new Promise<'ok' | 'no-go'>((resolve, reject) => {
    execFile('go', ['build', '-o', binary, source], { env, cwd: dir }, (err, _stdout, stderr) => {
      if (!err) resolve('ok');
      else if ((err as NodeJS.ErrnoException).code === 'ENOENT') resolve('no-go');
      else reject(new Error(`go build of the x509 oracle failed: ${stderr || err.message}`));
    });
  });
  if (built === 'no-go') {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  const child: ChildProcessWithoutNullStreams = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const pending: ((v: GoVerdict) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    pending.shift()?.(JSON.parse(line) as GoVerdict);
  });
  return {
    verify(leaf, intermediates, roots, now) {
      return new Promise((resolve) => {
        pending.push(resolve);
        const b64 = (b: Buffer) => b.toString('base64');
        child.stdin.write(
          JSON.stringify({ leaf: b64(leaf), intermediates: intermediates.map(b64), roots: roots.map(b64), now }) + '\n',
        );
      });
    },
    close() {
      child.stdin.end();
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
