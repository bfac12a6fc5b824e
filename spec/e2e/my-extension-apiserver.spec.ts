// examples/my-extension-apiserver as a user builds it (issue 13, item 5 and "Must show": a rolling restart through the
// aggregator under load loses no request).
//
// Build: `npm pack` of this repository, the tarball unpacked as node_modules/kube-delegated-auth of a temporary copy
// of the example (what `npm install <tarball>` does; the registry is not reachable here, so the third-party
// dependencies are linked from the repository's node_modules instead of downloaded), then the example's own `tsc`
// with its strict tsconfig (`skipLibCheck: false`).
//
// Routing: kube-apiserver runs with the default ClusterIP routing (no `--enable-aggregator-routing`): the aggregator
// dials the Service address and kube-proxy picks a ready endpoint per connection. With aggregator routing it would
// read Endpoints itself, but it refuses ExternalName services and the Endpoints API refuses loopback addresses, and
// every process here runs on loopback; so the Service is `ExternalName: localhost` at the port of a TCP balancer in
// this process, an in-process stand-in for kube-proxy (there is no kubelet or kube-proxy in the harness). The test
// is the endpoints controller: it probes each replica's /readyz and adds or removes the replica from the balancer.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import {
  prepareExtensionServer,
  type ExtensionServerSetup,
  type RegisteredApiService,
} from '../../harness/register-apiservice.js';
import YAML from 'yaml';
import { writeDevPki } from '../../lib/dev-pki/index.js';
import { getCluster } from './support/cluster.js';
import { repoRoot } from './support/serve.js';

const group = 'hello.example.com';
const version = 'v1alpha1';
// Above what the test (the endpoints controller) needs to probe /readyz and update the balancer on a busy machine.
const shutdownDelay = '10s';

function run(cmd: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Packs the library and builds a temporary copy of the example against the tarball; returns the copy's path. */
function buildExample(work: string): string {
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', work], repoRoot).trim().split('\n').pop()!;
  const app = join(work, 'my-extension-apiserver');
  cpSync(join(repoRoot, 'examples/my-extension-apiserver'), app, {
    recursive: true,
    filter: (src) => !/\/(node_modules|dist)(\/|$)/.test(src),
  });
  const lib = join(app, 'node_modules/kube-delegated-auth');
  mkdirSync(lib, { recursive: true });
  run('tar', ['-xzf', join(work, tarball), '-C', lib, '--strip-components=1'], work);
  const pkg = (path: string) =>
    JSON.parse(readFileSync(path, 'utf8')) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
  const example = pkg(join(app, 'package.json'));
  const library = pkg(join(lib, 'package.json'));
  const linked = new Set([
    ...Object.keys(example.dependencies ?? {}),
    ...Object.keys(example.devDependencies ?? {}),
    ...Object.keys(library.dependencies ?? {}),
  ]);
  linked.delete('kube-delegated-auth');
  for (const name of linked) {
    const target = join(repoRoot, 'node_modules', name);
    if (!existsSync(target)) throw new Error(`${name} is not installed in ${repoRoot}/node_modules`);
    mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
    symlinkSync(target, join(app, 'node_modules', name), 'dir');
  }
  // What a user runs: the example's build script (tsc with its own strict tsconfig).
  run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  return app;
}

/** One replica process of the example. */
interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  /** Resolves when the output matches `re`. */
  waitFor(re: RegExp): Promise<void>;
  readonly exited: Promise<number | null>;
}

function startReplica(app: string, setup: ExtensionServerSetup, name: string): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [
      'dist/main.js',
      '--kubeconfig',
      setup.kubeconfigPath,
      '--tls-cert-file',
      setup.servingCertPath,
      '--tls-private-key-file',
      setup.servingKeyPath,
      '--bind-address',
      '127.0.0.1',
      '--secure-port',
      '0',
      '--shutdown-delay-duration',
      shutdownDelay,
    ],
    { cwd: app, env: { ...process.env, POD_NAME: name }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const watchers: { re: RegExp; resolve: () => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...watchers]) {
      if (w.re.test(out)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (re.test(out)) return resolve();
      watchers.push({ re, resolve });
      void exited.then((code) => reject(new Error(`${name} exited (${code}) before ${re}:\n${out}`)));
    });
  return waitFor(/listening on https:\/\/\S+:\d+/).then(() => ({
    name,
    child,
    port: Number(/listening on https:\/\/\S+:(\d+)/.exec(out)![1]),
    output: () => out,
    waitFor,
    exited,
  }));
}

/** kube-proxy's part, in-process: each new connection goes to the next ready endpoint (round robin). */
class ServiceBalancer {
  readonly ready = new Map<string, number>();
  readonly connections = new Map<string, number>();
  /** Dials to a backend that failed: an endpoint listed as ready that was not listening. */
  readonly refused: string[] = [];
  private next = 0;
  private readonly sockets = new Set<Socket>();
  readonly server: Server = createServer((client) => {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    const endpoints = [...this.ready];
    if (endpoints.length === 0) {
      this.refused.push('no ready endpoint');
      client.destroy();
      return;
    }
    const [name, port] = endpoints[this.next++ % endpoints.length]!;
    this.connections.set(name, (this.connections.get(name) ?? 0) + 1);
    const backend = connect(port, '127.0.0.1');
    this.sockets.add(backend);
    backend.once('close', () => this.sockets.delete(backend));
    let connected = false;
    backend.once('connect', () => (connected = true));
    backend.once('error', (err: NodeJS.ErrnoException) => {
      // A refused dial is an endpoint that should not have been ready. Errors on an established connection (the
      // client's TLS close_notify after the server closed: EPIPE) lose nothing by themselves; a request they cut
      // shows as a failure of the load.
      if (!connected) this.refused.push(`${name}: ${err.code ?? err.message}`);
      client.destroy();
    });
    client.once('error', () => backend.destroy());
    client.pipe(backend);
    backend.pipe(client);
  });
  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port)),
    );
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('e2e: examples/my-extension-apiserver (packed library, built with its own tsconfig)', function () {
  this.timeout(240_000);
  let work: string;
  let app: string;
  let setup: ExtensionServerSetup;
  let registered: RegisteredApiService | undefined;
  const balancer = new ServiceBalancer();
  const replicas: Replica[] = [];
  const agents: Agent[] = [];
  let probe: Agent;

  before(async function () {
    this.timeout(300_000);
    work = mkdtempSync(join(tmpdir(), 'kda-myext-'));
    app = buildExample(work);
    setup = await prepareExtensionServer(getCluster(), {
      group,
      version,
      // Not the manifests' namespace: their dry run below must not meet this ExternalName Service.
      namespace: 'my-extension-e2e',
      serviceName: 'my-extension-apiserver',
    });
    // What the kubelet's readiness probe does: HTTPS to the pod, trusting nothing but reaching the endpoint.
    probe = new Agent({ connect: { ca: readFileSync(setup.servingCaPath, 'utf8'), servername: 'localhost' } });
    agents.push(probe);
  });

  after(async function () {
    for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await registered?.unregister().catch(() => undefined);
    await balancer.close().catch(() => undefined);
    await Promise.all(agents.map((a) => a.close()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function readyz(r: Replica): Promise<{ status: number; body: string }> {
    const res = await request(`https://localhost:${r.port}/readyz?verbose`, { dispatcher: probe });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** Starts a replica and adds it to the endpoints once its /readyz passes. */
  async function bringUp(name: string): Promise<Replica> {
    const r = await startReplica(app, setup, name);
    replicas.push(r);
    const ready = await readyz(r);
    expect(ready.status, `${ready.body}\n${r.output()}`).to.equal(200);
    expect(ready.body).to.include('[+]shutdown ok');
    balancer.ready.set(name, r.port);
    return r;
  }

  it('a rolling restart of two replicas behind one APIService, under load through the aggregator, loses no request', async function () {
    const cp = getCluster();
    const lbPort = await balancer.listen();
    const a1 = await bringUp('replica-a-1');
    const b1 = await bringUp('replica-b-1');
    registered = await setup.register(lbPort);

    // Steady load: 4 clients listing and creating greetings through kube-apiserver (admin client certificate).
    const admin = new Agent({
      connect: { ca: cp.pki.ca.certPem, cert: cp.pki.admin.certPem, key: cp.pki.admin.keyPem },
    });
    agents.push(admin);
    const url = `${cp.apiServerUrl}/apis/${group}/${version}/namespaces/default/greetings`;
    const servedBy = new Map<string, number>();
    const failures: string[] = [];
    let completed = 0;
    let stopping = false;
    const progress: { at: number; resolve: () => void }[] = [];
    const afterMore = (n: number) => new Promise<void>((resolve) => progress.push({ at: completed + n, resolve }));
    // Reads (replayable: Go's transport retries them on a reused connection that breaks) and creates (not
    // replayable: a connection dropped under one is a failed request).
    let created = 0;
    const client = async (id: number) => {
      for (let n = 0; !stopping; n++) {
        const create = n % 2 === 1;
        try {
          const res = create
            ? await request(url, {
                dispatcher: admin,
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({
                  apiVersion: `${group}/${version}`,
                  kind: 'Greeting',
                  metadata: { name: `g-${id}-${n}` },
                  spec: { message: 'hello' },
                }),
              })
            : await request(url, { dispatcher: admin });
          const body = await res.body.text();
          const by = String(res.headers['x-served-by'] ?? '');
          const ok = create
            ? res.statusCode === 201 && body.includes(`"g-${id}-${n}"`)
            : res.statusCode === 200 && body.includes('"GreetingList"');
          if (!ok) {
            failures.push(`${create ? 'POST' : 'GET'} HTTP ${res.statusCode} from ${by || '?'}: ${body.slice(0, 300)}`);
          } else {
            servedBy.set(by, (servedBy.get(by) ?? 0) + 1);
            if (create) created++;
          }
        } catch (err) {
          failures.push(`${create ? 'POST' : 'GET'} error: ${(err as Error).message}`);
        }
        completed++;
        for (const p of [...progress]) {
          if (completed >= p.at) {
            progress.splice(progress.indexOf(p), 1);
            p.resolve();
          }
        }
      }
    };
    const load = Promise.all([client(1), client(2), client(3), client(4)]);
    await afterMore(40);

    /** One step of the rollout: SIGTERM, readyz fails while still serving, out of the endpoints, drain, exit 0. */
    const restart = async (old: Replica, next: string): Promise<Replica> => {
      const servedBefore = completed;
      old.child.kill('SIGTERM');
      await old.waitFor(/shutdown initiated/);
      // The readiness probe sees the failure while the listener is still open (it answered).
      const notReady = await readyz(old);
      expect(notReady.status).to.equal(500);
      expect(notReady.body).to.include('[-]shutdown failed');
      balancer.ready.delete(old.name); // the endpoints controller
      // Requests keep succeeding through the delay and the drain.
      await afterMore(20);
      expect(await old.exited).to.equal(0);
      expect(old.output()).to.match(/draining in-flight requests/);
      expect(old.output()).to.match(/all connections closed/);
      await afterMore(20);
      expect(completed).to.be.greaterThan(servedBefore);
      const fresh = await bringUp(next);
      await afterMore(40);
      return fresh;
    };
    const a2 = await restart(a1, 'replica-a-2');
    const b2 = await restart(b1, 'replica-b-2');
    await afterMore(40);
    stopping = true;
    await load;

    expect(failures, failures.slice(0, 10).join('\n')).to.deep.equal([]);
    expect(balancer.refused).to.deep.equal([]);
    expect(completed).to.be.greaterThan(200);
    expect(created).to.be.greaterThan(100);
    // Both replicas served traffic before the rollout, and the restarted A carried the load while B restarted.
    expect(servedBy.get(a1.name) ?? 0, JSON.stringify([...servedBy])).to.be.greaterThan(0);
    expect(servedBy.get(b1.name) ?? 0, JSON.stringify([...servedBy])).to.be.greaterThan(0);
    expect(servedBy.get(a2.name) ?? 0, JSON.stringify([...servedBy])).to.be.greaterThan(0);
    expect([...servedBy.keys()].every((k) => [a1, b1, a2, b2].some((r) => r.name === k))).to.equal(true);

    // The new replicas stop cleanly too (SIGTERM, exit 0).
    for (const r of [a2, b2]) {
      balancer.ready.delete(r.name);
      r.child.kill('SIGTERM');
      expect(await r.exited).to.equal(0);
    }
  });
  it('its manifests (overlays/self-managed-ca) pass kubectl apply --dry-run=server, with the Deployment a rolling update needs', async function () {
    const kubeconfig = getCluster().adminKubeconfigPath;
    // A server-side dry run does not create the Namespace the namespaced objects need.
    await getCluster().admin.ensureNamespace('my-extension');
    const certs = join(app, 'manifests/overlays/self-managed-ca/certs');
    writeDevPki(certs, { dnsNames: ['my-extension-apiserver.my-extension.svc'] });
    const kubectl = (args: readonly string[], input = '') =>
      spawnSync('kubectl', args, { input, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    const built = kubectl(['kustomize', join(app, 'manifests/overlays/self-managed-ca')]);
    expect(built.status, built.stderr).to.equal(0);
    interface Probe {
      httpGet: { path: string };
    }
    interface Obj {
      kind: string;
      metadata: { name: string; labels?: Record<string, string> };
      roleRef?: { name: string };
      spec?: {
        caBundle?: string;
        replicas?: number;
        strategy?: { rollingUpdate?: unknown };
        template?: {
          spec: {
            terminationGracePeriodSeconds?: number;
            topologySpreadConstraints?: unknown[];
            containers: { args: string[]; readinessProbe: Probe; livenessProbe: Probe; startupProbe: Probe }[];
          };
        };
      };
    }
    const objects = YAML.parseAllDocuments(built.stdout)
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null);
    const run = kubectl(['--kubeconfig', kubeconfig, 'apply', '--dry-run=server', '-f', '-'], built.stdout);
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout.split('\n').filter((l) => l.endsWith('(server dry run)'))).to.have.length(objects.length);
    const apiService = objects.find((o) => o.kind === 'APIService')!;
    expect(Buffer.from(String(apiService.spec!.caBundle), 'base64').toString()).to.equal(
      readFileSync(join(certs, 'serving-ca.crt'), 'utf8'),
    );
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec!.replicas).to.equal(2);
    expect(deployment.spec!.strategy!.rollingUpdate).to.deep.equal({ maxUnavailable: 0, maxSurge: 1 });
    const pod = deployment.spec!.template!.spec;
    const container = pod.containers[0]!;
    expect(container.readinessProbe.httpGet.path).to.equal('/readyz');
    expect(container.livenessProbe.httpGet.path).to.equal('/livez');
    expect(container.startupProbe.httpGet.path).to.equal('/livez');
    const delayArg = container.args.find((a) => a.startsWith('--shutdown-delay-duration='))!;
    // The kubelet's SIGKILL must not cut the delay plus the 60 s drain bound.
    expect(pod.terminationGracePeriodSeconds).to.be.greaterThan(Number(/=(\d+)s$/.exec(delayArg)![1]) + 60);
    expect(pod.topologySpreadConstraints).to.have.length(2);
    expect(objects.some((o) => o.kind === 'PodDisruptionBudget')).to.equal(true);
    const roles = objects.filter((o) => o.kind === 'ClusterRole');
    expect(roles.map((r) => Object.keys(r.metadata.labels ?? {})).flat()).to.include.members([
      'rbac.authorization.k8s.io/aggregate-to-view',
      'rbac.authorization.k8s.io/aggregate-to-edit',
    ]);
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    expect(bindings.map((b) => b.roleRef!.name).sort()).to.deep.equal([
      'extension-apiserver-authentication-reader',
      'system:auth-delegator',
    ]);
  });
});
