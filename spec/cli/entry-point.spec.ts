// cli/entry-point.ts: the one main stanza of the bin and `npm run conformance`. A reader that closes stdout early
// (`kube-delegated-auth certs | head -2`) must not end the CLI in an unhandled EPIPE stack: the rest of the output is
// dropped quietly and the command finishes its work with its own exit code (0 here).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { isEntryPoint } from '../../cli/entry-point.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const mainTs = join(repoRoot, 'cli/main.ts');

describe('cli/entry-point', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kda-entry-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('isEntryPoint: the script itself and a symlink to it (npm bin) are; another script, none or a missing one are not', () => {
    const link = join(dir, 'kube-delegated-auth');
    symlinkSync(mainTs, link);
    const url = pathToFileURL(mainTs).href;
    expect(isEntryPoint(url, mainTs)).to.equal(true);
    expect(isEntryPoint(url, link)).to.equal(true);
    expect(isEntryPoint(url, join(repoRoot, 'cli/flags.ts'))).to.equal(false);
    expect(isEntryPoint(url, undefined)).to.equal(false);
    expect(isEntryPoint(url, join(dir, 'missing.js'))).to.equal(false);
  });

  it('certs with its stdout closed by the reader before it writes: no EPIPE stack, the PKI written, exit 0', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_DEBUG;
    const child = spawn(process.execPath, ['--import', 'tsx', mainTs, 'certs', '--dir', join(dir, 'pki')], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // `| head -0`: the only reader closes its end as soon as the process exists, long before the first line (the
    // child still has to load tsx and generate RSA keys), so every stdout write of the child meets a closed pipe.
    await new Promise<void>((res, rej) => {
      child.once('error', rej);
      child.once('spawn', () => {
        child.stdout.once('close', () => res());
        child.stdout.destroy();
      });
    });
    const code = await new Promise<number | null>((res) => child.once('close', (c) => res(c)));
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
    expect(existsSync(join(dir, 'pki', 'serving.crt'))).to.equal(true);
  });
});
