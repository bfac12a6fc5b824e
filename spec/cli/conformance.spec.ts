// `kube-delegated-auth conformance` flag handling through the CLI entry (cli/main.ts): usage, every flag problem
// at once with exit 2, a bad kubeconfig as one line with exit 1, a target it cannot go on from as one line in the
// shape of every CLI failure. The runs against clusters are in spec/e2e/conformance-probe.spec.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { main } from '../../cli/main.js';
import { sendJson, startFakeApiserver, status, type FakeApiserver } from '../cluster/fake-apiserver.js';
import { testPki } from '../support/pki.js';

async function cli(args: readonly string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('kube-delegated-auth conformance (flags)', () => {
  it('is listed in the CLI usage and prints its own help', async () => {
    expect((await cli(['--help'])).out.join('\n')).to.match(/\n {2}conformance {2}Check any APIService backend/);
    const h = await cli(['conformance', '--help']);
    expect(h.code).to.equal(0);
    expect(h.out.join('\n')).to.include('kube-delegated-auth conformance --apiservice <version>.<group>');
    expect(h.out.join('\n')).to.match(/--csr-timeout duration\s+how long to wait .* \(default 20s\)/);
  });

  it('reports every flag problem at once with exit 2', async () => {
    const r = await cli(['conformance', '--output', 'yaml', '--csr-timeout', 'soon', 'extra', '--bogus']);
    expect(r.code).to.equal(2);
    expect(r.err).to.deep.equal([
      'error: --csr-timeout: invalid argument "soon": time: invalid duration "soon"; fix: --csr-timeout=20s',
      "error: --bogus: unknown flag; fix: run 'kube-delegated-auth conformance --help' for the flags",
      'error: extra: unexpected argument (this command takes flags only); fix: drop it, or give it to the flag it belongs to (--flag extra)',
      'error: --apiservice: required flag not set; fix: --apiservice=<version>.<group> (kubectl get apiservices lists them)',
      'error: --output: invalid argument "yaml"; fix: --output=table or --output=json',
    ]);
  });

  it('names the kubeconfig problem in one line, exit 1, before touching any cluster', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kda-probe-cmd-'));
    const missing = join(dir, 'missing.kubeconfig');
    const r = await cli(['conformance', '--kubeconfig', missing, '--apiservice', 'v1.x.example.com']);
    expect(r.code).to.equal(1);
    expect(r.err).to.have.length(1);
    expect(r.err[0]).to.match(/^error: --kubeconfig: .*missing\.kubeconfig.*; fix: --kubeconfig=/);
    const empty = join(dir, 'empty.kubeconfig');
    writeFileSync(empty, 'apiVersion: v1\nkind: Config\n');
    const e = await cli(['conformance', '--kubeconfig', empty, '--apiservice', 'v1.x.example.com']);
    expect(e.code).to.equal(1);
    expect(e.err).to.deep.equal([
      `error: --kubeconfig: kubeconfig:${empty}: no current context or its cluster is missing; fix: --kubeconfig=<a kubeconfig whose current context names its cluster>`,
    ]);
  });
});

describe('kube-delegated-auth conformance (a target it cannot go on from)', () => {
  // An in-process kube-apiserver stand-in (real TLS, Kubernetes Status bodies): these answers need no cluster, and a
  // real one is exercised by spec/e2e/conformance-probe.spec.ts (whose --backend case asserts the same line shape).
  let fake: FakeApiserver;
  let dir: string;
  let kubeconfigPath: string;
  const apiServices: Record<string, unknown> = {
    'v1.local.example.com': { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', spec: {} },
    'v1.svc.example.com': {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      spec: { service: { namespace: 'ns', name: 'svc', port: 443 } },
    },
  };
  before(async () => {
    fake = await startFakeApiserver((req, res) => {
      const m = /^\/apis\/apiregistration\.k8s\.io\/v1\/apiservices\/(.+)$/.exec(req.path);
      const found = m ? apiServices[m[1]!] : undefined;
      if (found) sendJson(res, 200, found);
      else sendJson(res, 404, status(404, 'NotFound', `${req.path} not found`));
    });
    dir = mkdtempSync(join(tmpdir(), 'kda-probe-target-'));
    kubeconfigPath = join(dir, 'kubeconfig');
    const ca = Buffer.from(testPki().servingCA.certPem).toString('base64');
    writeFileSync(
      kubeconfigPath,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: '${fake.url}', certificate-authority-data: ${ca}}}]`,
        'users: [{name: u, user: {token: opaque}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A loopback port nobody listens on (bound once, then released). */
  async function closedPort(): Promise<number> {
    const srv = createNetServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const { port } = srv.address() as AddressInfo;
    await new Promise<void>((r) => srv.close(() => r()));
    return port;
  }

  const run = (apiService: string, ...extra: string[]) =>
    cli(['conformance', '--kubeconfig', kubeconfigPath, '--apiservice', apiService, ...extra]);

  it('an APIService that does not exist', async () => {
    const r = await run('v1.missing.example.com');
    expect(r.code).to.equal(1);
    expect(r.out).to.deep.equal([]);
    expect(r.err).to.deep.equal([
      'error: --apiservice v1.missing.example.com: APIService not found; fix: kubectl get apiservices lists them (the name is <version>.<group>)',
    ]);
  });

  it('an APIService kube-apiserver serves itself (no spec.service)', async () => {
    const r = await run('v1.local.example.com');
    expect(r.code).to.equal(1);
    expect(r.err).to.deep.equal([
      'error: --apiservice v1.local.example.com: has no spec.service: it is served by kube-apiserver itself; fix: name an APIService backed by a Service (kubectl get apiservices: SERVICE is not Local)',
    ]);
  });

  it('--backend that is not https, not a URL, or does not answer', async () => {
    const notHttps = await run('v1.svc.example.com', '--backend', 'http://127.0.0.1:1');
    expect(notHttps.code).to.equal(1);
    expect(notHttps.err).to.deep.equal([
      'error: --backend http://127.0.0.1:1: must be an https:// URL, not http:; fix: --backend=https://host:port (or leave it out to dial the Service)',
    ]);
    const notUrl = await run('v1.svc.example.com', '--backend', '127.0.0.1 8443');
    expect(notUrl.err).to.have.length(1);
    expect(notUrl.err[0]).to.match(/^error: --backend "127.0.0.1 8443": not a URL; fix: --backend=https:\/\/host:port/);
    const port = await closedPort();
    const closed = await run('v1.svc.example.com', '--backend', `https://127.0.0.1:${port}`);
    expect(closed.code).to.equal(1);
    expect(closed.err).to.deep.equal([
      `error: --backend https://127.0.0.1:${port}: not reachable: 127.0.0.1:${port}: ECONNREFUSED; fix: an address where the backend answers TLS from here (e.g. kubectl port-forward), or leave --backend out to dial the Service`,
    ]);
  });
});
