// `kube-delegated-auth conformance` (cli/conformance) run as a CLI child process against real backends behind the
// real kube-apiserver aggregator: our sample server (passes), the Go sample-apiserver (its findings are asserted
// as findings about Go, with their evidence), and three deliberately flawed backends (each fails with the exact
// finding). Also: JUnit/table output, cleanup of every labelled object, also after SIGINT.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { ProbeResult } from '../../cli/conformance/cases.js';
import type { ProbeReport } from '../../cli/conformance/output.js';
import { prepareExtensionServer, type RegisteredApiService } from '../../harness/register-apiservice.js';
import { getCluster, getGoSampleApiserver } from './support/cluster.js';
import { startFlawedBackend, type FlawedBackend } from './support/flawed-backend.js';
import { repoRoot, servingFlags, startServe, type ServeProcess } from './support/serve.js';

const runLabel = 'kube-delegated-auth.io/conformance-run';

interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI as a user runs it (`tsx cli/main.ts`), in its own process so that signals reach it directly. */
function startTool(args: readonly string[]): { child: ChildProcess; done: Promise<ToolRun> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'cli/main.ts'), 'conformance', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ToolRun>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
  return { child, done };
}

async function runJson(
  apiService: string,
  extra: readonly string[] = [],
): Promise<{ run: ToolRun; report: ProbeReport }> {
  const cp = getCluster();
  const run = await startTool([
    '--kubeconfig',
    cp.adminKubeconfigPath,
    '--apiservice',
    apiService,
    '--output',
    'json',
    '--csr-timeout',
    '3s',
    ...extra,
  ]).done;
  let report: ProbeReport;
  try {
    report = JSON.parse(run.stdout) as ProbeReport;
  } catch {
    throw new Error(`no JSON report (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { run, report };
}

function result(report: ProbeReport, name: string): ProbeResult {
  const r = report.results.find((x) => x.name === name);
  if (!r)
    throw new Error(`case ${JSON.stringify(name)} missing; have: ${report.results.map((x) => x.name).join(' | ')}`);
  return r;
}

const outcomes = (report: ProbeReport, outcome: ProbeResult['outcome']) =>
  report.results.filter((r) => r.outcome === outcome).map((r) => r.name);

/** Every labelled object of `runId` still in the cluster, as `<kind>/<name>`. */
async function leftovers(runId: string): Promise<string[]> {
  const cp = getCluster();
  const selector = `${runLabel}=${runId}`;
  const found: string[] = [];
  for (const path of [
    '/apis/rbac.authorization.k8s.io/v1/clusterroles',
    '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    '/api/v1/serviceaccounts',
    '/apis/certificates.k8s.io/v1/certificatesigningrequests',
  ]) {
    const list = await cp.admin.get<{ items: { metadata: { name: string } }[] }>(path, {
      query: { labelSelector: selector },
    });
    for (const i of list.items) found.push(`${path.split('/').pop()}/${i.metadata.name}`);
  }
  return found;
}

const csrCase = 'cluster: client certificate through the CSR API';
const clientCaCase = 'direct: client-CA certificate with X-Remote-User is its own user';

describe('e2e: kube-delegated-auth conformance against APIService backends', function () {
  this.timeout(240_000);

  describe('our sample server (kube-delegated-auth serve) behind the aggregator', () => {
    let server: ServeProcess | undefined;
    let registered: RegisteredApiService | undefined;
    let report: ProbeReport;
    let run: ToolRun;
    const apiService = 'v1alpha1.sample.kube-delegated-auth.io';

    before(async function () {
      this.timeout(240_000);
      const cp = getCluster();
      const setup = await prepareExtensionServer(cp, {
        group: 'sample.kube-delegated-auth.io',
        version: 'v1alpha1',
        serviceName: 'kda-sample-probe',
      });
      server = await startServe(servingFlags(setup));
      const { port } = server;
      registered = await setup.register(port);
      ({ run, report } = await runJson(apiService));
    });

    after(async function () {
      this.timeout(60_000);
      await registered?.unregister().catch(() => {});
      await server?.stop();
    });

    it('passes: exit 0, no failed case', () => {
      expect(
        outcomes(report, 'fail'),
        JSON.stringify(
          report.results.filter((r) => r.outcome === 'fail'),
          null,
          1,
        ),
      ).to.deep.equal([]);
      expect(run.code, run.stderr).to.equal(0);
      expect(report.failed).to.equal(0);
    });

    it('runs the direct probes (the ExternalName Service is reachable from the host)', () => {
      expect(report.backend).to.match(
        /^direct at localhost:\d+ \(TLS name kda-sample-probe\.kube-delegated-auth\.svc\)$/,
      );
      for (const name of [
        'direct: spoofed X-Remote-* without a client certificate',
        'direct: spoofed X-Remote-* with a self-signed CN=front-proxy-client',
        'direct: path confusion (dot-segments)',
        'direct: ServiceAccount token (TokenRequest) is accepted',
        'direct: tampered ServiceAccount token is refused',
        'aggregator: impersonated user with RBAC (groups, extra, uid) is served',
        'tls: serving chain verifies against the APIService caBundle',
        'tls: asks for client certificates of the front-proxy CA',
        clientCaCase,
      ]) {
        expect(result(report, name).outcome, `${name}: ${result(report, name).detail}`).to.equal('pass');
      }
    });

    it('finds the front-proxy CA in the CertificateRequest of the TLS 1.2 handshake', () => {
      expect(result(report, 'tls: asks for client certificates of the front-proxy CA').detail).to.match(
        /^\d+ acceptable CA\(s\), including CN=kube-delegated-auth-front-proxy-ca$/,
      );
    });

    it('reports the CSR signing as skipped on the harness (no kube-controller-manager), never as passed', () => {
      const csr = result(report, csrCase);
      expect(csr.outcome).to.equal('skip');
      expect(csr.detail).to.match(
        /approved but not signed within 3s: no signer for kubernetes\.io\/kube-apiserver-client/,
      );
      // The client-CA case says which certificate it used instead.
      expect(result(report, clientCaCase).detail).to.match(
        /the kubeconfig's client certificate \(CN=kube-delegated-auth-admin\)/,
      );
      expect(outcomes(report, 'skip')).to.deep.equal([csrCase]);
    });

    it('deletes every object it labelled (RBAC, ServiceAccount, CSR)', async () => {
      expect(report.cleanupProblems).to.deep.equal([]);
      expect(await leftovers(report.runId)).to.deep.equal([]);
    });

    it('writes a table (one line per case) and a JUnit file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kda-probe-'));
      const junit = join(dir, 'junit.xml');
      const cp = getCluster();
      const t = await startTool([
        '--kubeconfig',
        cp.adminKubeconfigPath,
        '--apiservice',
        apiService,
        '--junit',
        junit,
        '--csr-timeout',
        '1s',
      ]).done;
      expect(t.code, t.stdout + t.stderr).to.equal(0);
      const lines = t.stdout.split('\n').filter((l) => /^(pass|FAIL|skip) {2}/.test(l));
      expect(lines).to.have.length(report.results.length);
      expect(t.stdout).to.match(
        /of v1alpha1\.sample\.kube-delegated-auth\.io: \d+ passed, 0 FAILED, 1 skipped of \d+ \(a skip is not a pass\)/,
      );
      const xml = readFileSync(junit, 'utf8');
      expect(xml.match(/<testcase /g)).to.have.length(report.results.length);
      expect(xml).to.include('<skipped message="CSR');
      expect(xml).to.not.include('<failure');
    });

    it('cleans up when interrupted with SIGINT and exits 1', async () => {
      const cp = getCluster();
      const tool = startTool([
        '--kubeconfig',
        cp.adminKubeconfigPath,
        '--apiservice',
        apiService,
        '--csr-timeout',
        '1s',
      ]);
      let seen = '';
      await new Promise<void>((r) => {
        const onData = (d: Buffer) => {
          seen += d.toString();
          // The RBAC and ServiceAccount exist once the impersonation case has run.
          if (/impersonated user with RBAC/.test(seen)) {
            tool.child.stdout!.off('data', onData);
            r();
          }
        };
        tool.child.stdout!.on('data', onData);
      });
      const runId = /run id ([0-9a-f]+)/.exec(seen)![1]!;
      tool.child.kill('SIGINT');
      const t = await tool.done;
      expect(t.code).to.equal(1);
      expect(t.stderr).to.include(`SIGINT: stopping after the current case and deleting the objects of run ${runId}`);
      expect(t.stdout).to.match(/skip {2}.*\n.*\n {8}skipped: interrupted/);
      expect(await leftovers(runId)).to.deep.equal([]);
    });
  });

  describe('the Go sample-apiserver (k8s.io/sample-apiserver) behind the aggregator', () => {
    let report: ProbeReport;
    let run: ToolRun;
    before(async function () {
      this.timeout(240_000);
      await getGoSampleApiserver();
      ({ run, report } = await runJson('v1alpha1.wardle.example.com'));
      process.stderr.write(
        `[conformance-probe] Go sample-apiserver findings:\n${report.results
          .filter((r) => r.outcome !== 'pass')
          .map((r) => `  ${r.outcome} ${r.name}: ${r.detail}`)
          .join('\n')}\n`,
      );
    });

    it('keeps the delegated-auth contract on spoofing, tokens and RBAC', () => {
      for (const name of [
        'aggregator: discovery of the group-version',
        'aggregator: impersonated user with RBAC (groups, extra, uid) is served',
        'aggregator: user without RBAC gets 403',
        'direct: anonymous request for a resource is refused',
        'direct: spoofed X-Remote-* without a client certificate',
        'direct: spoofed X-Remote-* with a self-signed CN=front-proxy-client',
        'direct: look-alike identity headers without a client certificate',
        clientCaCase,
        'direct: ServiceAccount token (TokenRequest) is accepted',
        'direct: tampered ServiceAccount token is refused',
        'tls: serving chain verifies against the APIService caBundle',
        'tls: asks for client certificates of the front-proxy CA',
      ]) {
        expect(result(report, name).outcome, `${name}: ${result(report, name).detail}`).to.equal('pass');
      }
    });

    it('reports its findings about Go with evidence (exit 1 when there are any)', () => {
      const failed = report.results.filter((r) => r.outcome === 'fail');
      for (const f of failed) {
        expect(f.detail, f.name).to.not.equal('');
        expect(f.hint, f.name).to.be.a('string');
      }
      expect(run.code).to.equal(failed.length > 0 ? 1 : 0);
      expect(outcomes(report, 'fail')).to.deep.equal(GO_FINDINGS);
    });
  });

  describe('reaching the backend', () => {
    it('--backend: probes the given address, verified with the caBundle for <service>.<namespace>.svc', async () => {
      const go = await getGoSampleApiserver();
      const { run, report } = await runJson('v1alpha1.wardle.example.com', ['--backend', go.url]);
      expect(report.backend).to.equal(`direct at 127.0.0.1:${go.port} (TLS name api.wardle.svc)`);
      expect(result(report, 'tls: serving chain verifies against the APIService caBundle').outcome).to.equal('pass');
      expect(run.code).to.equal(0);
    });

    it('--backend that does not answer: one line naming the flag, exit 1, nothing created', async () => {
      const run = await startTool([
        '--kubeconfig',
        getCluster().adminKubeconfigPath,
        '--apiservice',
        'v1alpha1.wardle.example.com',
        '--backend',
        'https://127.0.0.1:1',
      ]).done;
      expect(run.code).to.equal(1);
      expect(run.stderr.trim()).to.equal(
        'error: --backend https://127.0.0.1:1: not reachable: 127.0.0.1:1: ECONNREFUSED; fix: an address where the backend answers TLS from here (e.g. kubectl port-forward), or leave --backend out to dial the Service',
      );
      expect(run.stdout).to.equal('');
    });

    it('a Service whose backend does not answer here: says so, every direct and TLS case is skipped, not passed', async () => {
      const cp = getCluster();
      // ExternalName localhost on port 1 (tcpmux, where nothing listens): unreachable, and all traffic stays on
      // loopback. Not a port freed a moment ago: the kernel may hand that to another run's server in between.
      const closed = 1;
      await cp.admin.ensureNamespace('kda-unreachable');
      await cp.admin.apply({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'backend', namespace: 'kda-unreachable' },
        spec: {
          type: 'ExternalName',
          externalName: 'localhost',
          ports: [{ name: 'https', port: closed, protocol: 'TCP' }],
        },
      });
      await cp.admin.apply({
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: 'v1.unreachable.kda.example.com' },
        spec: {
          group: 'unreachable.kda.example.com',
          version: 'v1',
          service: { name: 'backend', namespace: 'kda-unreachable', port: closed },
          groupPriorityMinimum: 1000,
          versionPriority: 15,
          insecureSkipTLSVerify: true,
        },
      });
      try {
        const { run, report } = await runJson('v1.unreachable.kda.example.com');
        expect(run.code).to.equal(1);
        const reason = `backend not reachable from here via the Service (ExternalName localhost:${closed}: localhost:${closed}: ECONNREFUSED); pass --backend https://host:port (e.g. after kubectl port-forward)`;
        expect(report.backend).to.equal(`not reached directly: ${reason}`);
        const direct = report.results.filter((r) => /^(direct|tls):/.test(r.name));
        expect(direct.length).to.be.greaterThan(10);
        for (const r of direct) expect([r.name, r.outcome, r.detail]).to.deep.equal([r.name, 'skip', reason]);
        expect(result(report, 'aggregator: discovery of the group-version').outcome).to.equal('fail');
      } finally {
        await cp.admin.delete('/apis/apiregistration.k8s.io/v1/apiservices/v1.unreachable.kda.example.com');
        await cp.admin.delete('/api/v1/namespaces/kda-unreachable/services/backend');
      }
    });
  });

  describe('deliberately flawed backends fail with the exact finding', () => {
    const backends: FlawedBackend[] = [];
    after(async function () {
      this.timeout(60_000);
      for (const b of backends) await b.stop();
    });

    const cases = [
      {
        flaw: 'trusts-headers-without-certificate',
        name: 'a',
        finding: 'direct: spoofed X-Remote-* without a client certificate',
        // Headers are read whatever the connection, so every probe that sends them on top of something else fails.
        allFailed: [
          'direct: spoofed X-Remote-* without a client certificate',
          'direct: spoofed X-Remote-* with a self-signed CN=front-proxy-client',
          clientCaCase,
        ],
        detail: /with X-Remote-User, X-Remote-Group, .* → HTTP 200 .*secret-thing.*: the spoofed identity was honoured/,
      },
      {
        flaw: 'trusts-any-client-ca-certificate',
        name: 'b',
        finding: clientCaCase,
        allFailed: [clientCaCase],
        detail:
          /without headers → HTTP 200 .*; with X-Remote-User: kda-conformance-[0-9a-f]+-nobody → HTTP 403 .*: authorized the header's user/,
      },
      {
        flaw: 'authorizes-other-path',
        name: 'c',
        finding: 'direct: path confusion (dot-segments)',
        // WHATWG URL parsing resolves these three to the resource; %2F, # and absolute-form do not reach it.
        allFailed: [
          'direct: path confusion (dot-segments)',
          'direct: path confusion (encoded dot-segments)',
          'direct: path confusion (backslash)',
        ],
        detail:
          /anonymous GET "\/healthz\/\.\.\/\.\.\/apis\/c\.flawed\.kda\.example\.com\/v1\/things" → HTTP 200 .*secret-thing.*: authorized as one path, served another/,
      },
      {
        flaw: 'health-answers-data',
        name: 'd',
        finding: 'direct: always-allow /healthz?verbose answers no data',
        allFailed: ['direct: always-allow /healthz?verbose answers no data'],
        detail: /^anonymous GET \/healthz\?verbose → HTTP 200 ".*\/etc\/flawed\/config\.yaml.*"$/,
      },
    ] as const;

    for (const c of cases) {
      it(`${c.flaw} → FAIL ${c.finding}`, async () => {
        const b = await startFlawedBackend(getCluster(), c.name, c.flaw);
        backends.push(b);
        const { run, report } = await runJson(b.apiServiceName);
        expect(run.code).to.equal(1);
        const r = result(report, c.finding);
        expect(r.outcome, r.detail).to.equal('fail');
        expect(r.detail).to.match(c.detail);
        expect(r.hint).to.be.a('string').and.not.equal('');
        expect(outcomes(report, 'fail')).to.deep.equal(c.allFailed);
        expect(await leftovers(report.runId)).to.deep.equal([]);
      });
    }
  });
});

/** What the Go sample-apiserver fails, as measured on this harness (see the spec's stderr for the evidence). */
const GO_FINDINGS: readonly string[] = [];
