// One log shape for the commands that log (serve, webhook): createPinoLogger with the library's redaction and a
// `component` field; JSON lines when stderr is a pipe or file, one text line per entry when it is a terminal. The
// terminal is a real pseudo-terminal (util-linux `script`), the command a real process. `doctor` writes a report,
// not logs (its usage errors are the same one-line `error:` shape, spec/cli/doctor.spec.ts).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

/**
 * `serve` that logs a warning (a non-standard username header, as Go warns) and the dev-PKI line, then fails to
 * listen (192.0.2.1 is TEST-NET-1, never a local address) and exits 1: log lines from a process that ends by itself.
 */
function serveArgs(certDir: string): string[] {
  return [
    '--import',
    'tsx',
    join(repoRoot, 'cli/main.ts'),
    'serve',
    '--requestheader-username-headers=X-User',
    '--bind-address=192.0.2.1',
    '--secure-port=0',
    `--cert-dir=${certDir}`,
  ];
}

async function exitOutput(p: Promise<{ stdout: string; stderr: string }>) {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
  throw new Error('expected the command to exit 1');
}

describe('CLI logs: one shape, JSON on a pipe, text on a terminal (spawned)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'kda-cli-logs-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stderr is a pipe: JSON lines with a level label, ISO time and component', async () => {
    const r = await exitOutput(run(process.execPath, serveArgs(join(dir, 'pipe')), { cwd: repoRoot }));
    expect(r.code).to.equal(1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
    const warn = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'warn');
    expect(warn, r.stderr).to.deep.include({ component: 'sample-apiserver' });
    expect(warn!.msg).to.match(/^--requestheader-username-headers is set without .*X-Remote-User/);
    expect(warn!.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // The failure itself is the one `error:` line, not a log entry.
    expect(r.stderr.trimEnd().split('\n').at(-1)).to.match(/^error: --bind-address 192\.0\.2\.1/);
  });

  it('stderr is a terminal: one text line per entry, no JSON', async () => {
    const cmd = [process.execPath, ...serveArgs(join(dir, 'tty'))].map((a) => `'${a}'`).join(' ');
    // script(1) runs the command on a new pseudo-terminal and copies what it writes to our stdout.
    const r = await exitOutput(run('script', ['-qec', cmd, '/dev/null'], { cwd: repoRoot }));
    expect(r.code).to.equal(1);
    const out = r.stdout.replace(/\r/g, '');
    expect(out).to.not.match(/^\{/m);
    expect(out).to.match(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}--requestheader-username-headers is set without .* component=sample-apiserver$/m,
    );
    expect(out).to.match(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}created a development PKI component=sample-apiserver certDir=\S+$/m,
    );
  });
});
