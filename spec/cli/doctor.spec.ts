import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { runDoctorCommand } from '../../cli/doctor.js';
import { buildReport, formatReport, type DoctorReport } from '../../lib/doctor/report.js';

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runDoctorCommand(argv, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    options: { env, timeout: 2000 },
  });
  return { code, stdout, stderr };
}

describe('doctor command (no cluster)', () => {
  const usageErrors: readonly { name: string; argv: string[]; stderr: RegExp }[] = [
    {
      name: 'unknown flag',
      argv: ['--nope'],
      stderr: /^error: --nope: unknown flag; fix: run 'kube-delegated-auth doctor --help' for the flags\n$/,
    },
    {
      name: 'bad --output',
      argv: ['--output', 'yaml'],
      stderr: /^error: --output: must be text or json, got "yaml"; fix: --output=json\n$/,
    },
    {
      name: '--group without --version',
      argv: ['--group', 'x.example.com'],
      stderr: /^error: --version: required with --group; fix: give both, /,
    },
    {
      name: '--version without --group',
      argv: ['--version', 'v1'],
      stderr: /^error: --group: required with --version; fix: give both, /,
    },
    {
      name: 'malformed --configmap',
      argv: ['--configmap', 'just-a-name'],
      stderr: /^error: --configmap: must be <namespace>\/<name>, got "just-a-name"; fix: --configmap=/,
    },
    { name: 'positional argument', argv: ['extra'], stderr: /^error: extra: unexpected argument/ },
  ];
  for (const c of usageErrors) {
    it(`usage error: ${c.name} → exit 2, nothing on stdout`, async () => {
      const r = await run(c.argv);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(c.stderr);
      expect(r.stdout).to.equal('');
    });
  }

  it('--help prints the usage and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^Usage: kube-delegated-auth doctor \[--kubeconfig <path>\]/);
  });

  it('no kubeconfig and not in a pod: one failing connection check with the fix, exit 1', async () => {
    const r = await run(['--output', 'json'], {});
    expect(r.code).to.equal(1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.ok).to.equal(false);
    expect(report.checks).to.have.length(1);
    expect(report.checks[0]).to.deep.include({
      id: 'connection',
      status: 'fail',
      fix: 'kube-delegated-auth doctor --kubeconfig <path-to-kubeconfig>   # or export KUBECONFIG=<path>',
    });
    expect(report.checks[0]!.message).to.match(/^failed to get delegated authentication kubeconfig/);
  });

  describe('unreachable server', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'kda-doctor-'));
      // Port 1 on loopback: connection refused at once.
      writeFileSync(
        join(dir, 'kubeconfig'),
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
          'users: [{name: u, user: {token: abc}}]',
          'contexts: [{name: x, context: {cluster: c, user: u}}]',
          'current-context: x',
        ].join('\n'),
      );
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('connection refused: fail "cannot reach kube-apiserver", text output with the fix line, exit 1', async () => {
      const r = await run(['--kubeconfig', join(dir, 'kubeconfig')]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/^cluster: kubeconfig:.*kubeconfig$/m);
      expect(r.stdout).to.match(/^FAIL {2}connection: cannot reach kube-apiserver at https:\/\/127\.0\.0\.1:1: /m);
      // The fix names the kubeconfig that was given, ready to paste.
      expect(r.stdout).to.include(`      fix: kubectl --kubeconfig ${join(dir, 'kubeconfig')} get --raw /readyz`);
      expect(r.stdout).to.match(/^0 passed, 0 warnings, 1 failed$/m);
    });
  });
});

describe('doctor report', () => {
  it('summary counts, ok only without failures, fixes printed for warn/fail only', () => {
    const report = buildReport(
      [
        { id: 'a', status: 'pass', message: 'fine', fix: 'never shown' },
        { id: 'b', status: 'warn', message: 'hmm', fix: 'do b' },
      ],
      'kubeconfig:/x',
      'alice',
    );
    expect(report).to.deep.include({ ok: true, summary: { pass: 1, warn: 1, fail: 0 }, identity: 'alice' });
    expect(formatReport(report)).to.equal(
      'cluster: kubeconfig:/x, identity: alice\nPASS  a: fine\nWARN  b: hmm\n      fix: do b\n1 passed, 1 warning, 0 failed\n',
    );
    const failed = buildReport([{ id: 'c', status: 'fail', message: 'bad', fix: 'do c' }]);
    expect(failed.ok).to.equal(false);
    expect(formatReport(failed)).to.equal('FAIL  c: bad\n      fix: do c\n0 passed, 0 warnings, 1 failed\n');
  });
});
