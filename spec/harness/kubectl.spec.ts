// harness/kubectl.ts: every kubectl the harness runs gets a fresh cache of its own, never ~/.kube/cache and never one
// another run filled. The real kubectl against two real HTTPS servers that take turns on one loopback port, as two
// control planes do when the kernel hands a freed port to the next one (CI once saw a server's `api-resources` list
// the group of the server that had held the port before), and as one control plane does when specs register and
// remove APIServices (a cache shared by its runs answered `explain` without a group registered later).
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import {
  kubectlCacheDir,
  kubectlCommand,
  kubectlOk,
  kubectlUntil,
  runKubectl,
  type KubectlTarget,
} from '../../harness/kubectl.js';
import { writeKubeconfig } from '../../harness/kube.js';
import { testPki } from '../support/pki.js';

/** The discovery documents of a server that serves one resource, `things`, in `group`/v1. */
function discovery(group: string): Record<string, unknown> {
  return {
    '/api': { kind: 'APIVersions', versions: [], serverAddressByClientCIDRs: [] },
    '/apis': {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [
        {
          name: group,
          versions: [{ groupVersion: `${group}/v1`, version: 'v1' }],
          preferredVersion: { groupVersion: `${group}/v1`, version: 'v1' },
        },
      ],
    },
    [`/apis/${group}/v1`]: {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: `${group}/v1`,
      resources: [{ name: 'things', singularName: 'thing', namespaced: true, kind: 'Thing', verbs: ['get', 'list'] }],
    },
    '/version': { major: '1', minor: '37', gitVersion: 'v1.37.2' },
  };
}

/** An HTTPS server answering `group`'s discovery (plain JSON: kubectl falls back from aggregated discovery). */
async function discoveryServer(group: string, port = 0): Promise<{ server: Server; port: number }> {
  const pki = testPki();
  const docs = discovery(group);
  const server = createServer({ cert: pki.serving.certPem, key: pki.serving.keyPem }, (req, res) => {
    const doc = docs[new URL(req.url ?? '/', 'https://x').pathname];
    res.writeHead(doc ? 200 : 404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(doc ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('harness/kubectl: a fresh kubectl cache per run', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const servers: Server[] = [];
  const tempDir = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  /** A "control plane" directory with an admin kubeconfig for `https://127.0.0.1:<port>`. */
  const target = (port: number): KubectlTarget => {
    const dir = tempDir('kda-kubectl-spec-');
    const kubeconfigPath = writeKubeconfig(join(dir, 'admin.kubeconfig'), {
      server: `https://127.0.0.1:${port}`,
      caPem: testPki().servingCA.certPem,
      token: 'not-checked',
    });
    return { dir, kubeconfigPath };
  };
  after(async () => {
    for (const s of servers) await close(s);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('puts --kubeconfig and a fresh --cache-dir under <control plane dir>/kubectl-cache before the arguments, one per run', () => {
    const t = target(1);
    expect(kubectlCacheDir(t)).to.equal(join(t.dir, 'kubectl-cache'));
    const one = kubectlCommand(t, ['get', 'pods'], { binary: '/bin/kubectl' });
    const two = kubectlCommand(t, ['version'], { binary: 'kubectl', kubeconfig: join(t.dir, 'pat.kubeconfig') });
    expect(one.file).to.equal('/bin/kubectl');
    expect(one.args).to.deep.equal(['--kubeconfig', t.kubeconfigPath, '--cache-dir', one.cacheDir, 'get', 'pods']);
    expect(two.args).to.deep.equal([
      '--kubeconfig',
      join(t.dir, 'pat.kubeconfig'),
      '--cache-dir',
      two.cacheDir,
      'version',
    ]);
    expect(dirname(one.cacheDir)).to.equal(kubectlCacheDir(t));
    expect(two.cacheDir).to.not.equal(one.cacheDir);
    expect(existsSync(one.cacheDir) && existsSync(two.cacheDir)).to.equal(true);
  });

  it("a server that replaced another on the same port: no run answers from the gone server's documents (a shared cache would), and runs leave no cache behind", async () => {
    const home = tempDir('kda-kubectl-home-');
    const env = { ...process.env, HOME: home };
    const first = await discoveryServer('first.kda.example.com');
    servers.push(first.server);
    const a = target(first.port);
    const listed = await kubectlOk(a, ['api-resources', '-o', 'name'], { env });
    expect(listed.trim()).to.equal('things.first.kda.example.com');
    // The run's cache went with it, and nothing was written to ~/.kube.
    expect(readdirSync(kubectlCacheDir(a))).to.deep.equal([]);
    expect(existsSync(join(home, '.kube'))).to.equal(false);
    // The control case: a cache kept across runs (what the old per-control-plane directory was) fills here...
    const kept = tempDir('kda-kubectl-kept-');
    const direct = (args: string[]) =>
      runKubectl(a, ['--cache-dir', kept, ...args], { env }).then((r) => {
        expect(r.code, r.stderr).to.equal(0);
        return r.stdout.trim();
      });
    expect(await direct(['api-resources', '-o', 'name'])).to.equal('things.first.kda.example.com');

    await close(first.server);
    const second = await discoveryServer('second.kda.example.com', first.port);
    servers.push(second.server);
    // --cached: answer from the cache when it has this host:port, as any kubectl command resolving a resource does.
    // Same control plane (the case of APIServices coming and going) and another one (ports reused): both current.
    expect((await kubectlOk(a, ['api-resources', '--cached', '-o', 'name'], { env })).trim()).to.equal(
      'things.second.kda.example.com',
    );
    const b = target(second.port);
    expect((await kubectlOk(b, ['api-resources', '--cached', '-o', 'name'], { env })).trim()).to.equal(
      'things.second.kda.example.com',
    );
    // ...and answers with the group of the server that is gone: the hazard is real. (kubectl takes the last
    // --cache-dir given, so `kept` wins over the run's own.)
    expect(await direct(['api-resources', '--cached', '-o', 'name'])).to.equal('things.first.kda.example.com');
    expect(readdirSync(kubectlCacheDir(a))).to.deep.equal([]);
    expect(existsSync(join(home, '.kube'))).to.equal(false);
  });

  it('runKubectl resolves with the exit code and stderr of a failed run; kubectlOk rejects naming the command; a missing binary rejects', async () => {
    const srv = await discoveryServer('errors.kda.example.com');
    servers.push(srv.server);
    const t = target(srv.port);
    const missing = await runKubectl(t, ['get', '--raw', '/no-such-path']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/NotFound|not found/i);
    const err = await kubectlOk(t, ['get', '--raw', '/no-such-path']).catch((e: unknown) => e as Error);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(/^kubectl get --raw \/no-such-path exited with 1: /);
    const gone = await runKubectl(t, ['version'], { binary: join(t.dir, 'no-kubectl') }).catch((e: unknown) => e);
    expect((gone as { code?: string }).code).to.equal('ENOENT');
  });

  it('kubectlUntil returns the first run whose output matches, and fails at its deadline quoting the last run', async () => {
    const srv = await discoveryServer('until.kda.example.com');
    servers.push(srv.server);
    const t = target(srv.port);
    const run = await kubectlUntil(t, ['get', '--raw', '/apis'], /until\.kda\.example\.com/);
    expect(run.code).to.equal(0);
    const err = await kubectlUntil(t, ['get', '--raw', '/apis'], /never-served/, { timeoutMs: 1_000 }).catch(
      (e: unknown) => e as Error,
    );
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message)
      .to.match(/waiting for kubectl get --raw \/apis to print \/never-served\//)
      .and.to.contain('last run: exit 0; stdout: {"kind":"APIGroupList"');
  });
});
