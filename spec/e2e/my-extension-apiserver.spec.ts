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
//
// The example's kube-delegated-auth/apiserver blocks through the aggregator: one replica at `-v=3` logs every request
// with its Accept, which shows what kube-apiserver asked it (aggregated discovery v2, OpenAPI v3 or v2), while the
// harness's kubectl (kubectlPath(), v1.37 against every release) reads the merged results through kube-apiserver.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { adminUserName } from '../../harness/cluster-pki.js';
import { kubectlUntil, runKubectl } from '../../harness/kubectl.js';
import {
  prepareExtensionServer,
  waitForAPIServiceAvailable,
  type ExtensionServerSetup,
  type RegisteredApiService,
} from '../../harness/register-apiservice.js';
import YAML from 'yaml';
import { writeDevPki } from '../../lib/dev-pki/index.js';
import { startListening } from '../support/programs.js';
import { getCluster } from './support/cluster.js';
import { repoRoot, servingFlags } from './support/serve.js';

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

async function startReplica(
  app: string,
  setup: ExtensionServerSetup,
  name: string,
  extraArgs: readonly string[] = [],
): Promise<Replica> {
  const replica = await startListening(
    process.execPath,
    [
      'dist/main.js',
      ...servingFlags(setup),
      '--bind-address',
      '127.0.0.1',
      '--secure-port',
      '0',
      '--shutdown-delay-duration',
      shutdownDelay,
      ...extraArgs,
    ],
    { cwd: app, env: { ...process.env, POD_NAME: name }, name, timeoutMs: Number.POSITIVE_INFINITY },
  );
  return {
    name,
    child: replica.child,
    port: replica.port,
    output: replica.output,
    waitFor: async (re) => {
      await replica.waitForOutput(re, Number.POSITIVE_INFINITY);
    },
    exited: replica.exited,
  };
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

  let lbPort: number | undefined;
  /** The balancer listening and the APIService pointing at it, Available (once ready replicas are in the balancer). */
  async function serveThroughAggregator(): Promise<RegisteredApiService> {
    lbPort ??= await balancer.listen();
    if (registered) await waitForAPIServiceAvailable(getCluster().admin, registered.apiServiceName);
    else registered = await setup.register(lbPort);
    return registered;
  }

  /** Starts a replica and adds it to the endpoints once its /readyz passes. */
  async function bringUp(name: string, extraArgs: readonly string[] = []): Promise<Replica> {
    const r = await startReplica(app, setup, name, extraArgs);
    replicas.push(r);
    const ready = await readyz(r);
    expect(ready.status, `${ready.body}\n${r.output()}`).to.equal(200);
    expect(ready.body).to.include('[+]shutdown ok');
    balancer.ready.set(name, r.port);
    return r;
  }

  /** The `-v=3` request log of a replica: one JSON `HTTP` line per request (src/app.ts). */
  function requestLog(r: Replica): { verb: string; URI: string; resp: number; accept: string; user?: string }[] {
    return r
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; verb: string; URI: string; resp: number; accept: string })
      .filter((l) => l.msg === 'HTTP');
  }

  it("the library's blocks through the real aggregator: kubectl api-resources (aggregated discovery v2; the v1 documents before 1.26), kubectl explain (OpenAPI), the replica's /readyz?verbose", async function () {
    // First in this file: the APIService is registered while this replica is its only endpoint, so kube-aggregator's
    // first discovery and OpenAPI fetches reach it (it does not fetch again while the APIService stays unchanged).
    const r = await bringUp('replica-blocks', ['-v', '3']);
    try {
      await blocksThroughAggregator(r);
    } finally {
      // Out of the endpoints and stopped cleanly, pass or fail: the rolling restart below counts its replicas' load.
      balancer.ready.delete(r.name);
      r.child.kill('SIGTERM');
    }
    expect(await r.exited).to.equal(0);
  });

  async function blocksThroughAggregator(r: Replica): Promise<void> {
    const cp = getCluster();
    const minor = cp.kubernetesVersion.minor;
    await serveThroughAggregator();
    const v2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
    // kube-aggregator's discovery manager asks /apis once the APIService is available: wait for its request (logged
    // at -v=3 with its Accept) where it must come.
    if (minor >= 30) await r.waitFor(/"URI":"\/apis".*"accept":"application\/json;g=apidiscovery\.k8s\.io;v=v2;/);
    else if (minor >= 27)
      await r.waitFor(/"URI":"\/apis".*"accept":"application\/json;g=apidiscovery\.k8s\.io;v=v2beta1;/);
    // Asynchronous runs (never spawnSync): the balancer (kube-proxy's part) runs in this process and must forward
    // meanwhile. The harness's runner gives kubectl the control plane's own cache (no other server's discovery).
    const kubectl = (args: readonly string[]) => runKubectl(cp, args);
    // kube-apiserver fetches discovery and OpenAPI from the APIService some time after it became available, and
    // announces neither: kubectl is asked again until the output appears, up to a deadline.
    const until = (args: readonly string[], expected: RegExp) => kubectlUntil(cp, args, expected);

    // kubectl api-resources: the resource as src/api.ts describes it (short name, namespaced, kind).
    const resources = await until(['api-resources', '--api-group', group], /^greetings\s/m);
    expect(resources.code, resources.stderr).to.equal(0);
    expect(resources.stdout).to.match(/^greetings\s+gr\s+hello\.example\.com\/v1alpha1\s+true\s+Greeting\s*$/m);
    const aggregatedAccept = /g=apidiscovery\.k8s\.io;v=(v2|v2beta1);as=APIGroupDiscoveryList/;
    const asked = requestLog(r).filter((l) => l.URI === '/apis' && aggregatedAccept.test(l.accept));
    const admin = new Agent({
      connect: { ca: cp.pki.ca.certPem, cert: cp.pki.admin.certPem, key: cp.pki.admin.keyPem },
    });
    agents.push(admin);
    const clusterApis = await request(`${cp.apiServerUrl}/apis`, {
      dispatcher: admin,
      headers: { accept: `${v2},application/json` },
    });
    const clusterDiscovery = (await clusterApis.body.json()) as {
      kind: string;
      groups?: { name: string }[];
      items?: { metadata: { name: string }; versions: { version: string; resources: { resource: string }[] }[] }[];
    };
    if (minor >= 30) {
      // Aggregated discovery v2 is GA from 1.30: kube-aggregator asked our /apis for v2 (v2beta1 as its fallback)
      // and answered with our document, merged into kube-apiserver's own aggregated /apis.
      expect(
        asked.map((l) => [l.accept.split(',')[0], l.resp]),
        JSON.stringify(requestLog(r)),
      ).to.deep.include([v2, 200]);
      expect(clusterApis.headers['content-type']).to.equal(v2);
      const ours = clusterDiscovery.items!.find((g) => g.metadata.name === group);
      expect(ours?.versions.map((v) => [v.version, v.resources.map((x) => x.resource)])).to.deep.equal([
        [version, ['greetings']],
      ]);
    } else if (minor >= 27) {
      // 1.27-1.29: aggregated discovery is beta and v2beta1 only.
      expect(asked.map((l) => l.resp)).to.include(200);
      expect(asked.every((l) => l.accept.includes('v=v2beta1'))).to.equal(true);
    } else {
      // Before 1.26 kube-apiserver has no aggregated discovery: it never asks our /apis for it, serves the plain
      // APIGroupList (its own, listing our group from the APIService), and kubectl falls back to the v1 documents,
      // reading our /apis/hello.example.com/v1alpha1 (APIResourceList) through the aggregator's proxy.
      expect(asked, JSON.stringify(asked)).to.deep.equal([]);
      expect(clusterApis.headers['content-type']).to.match(/^application\/json/);
      expect(clusterDiscovery.kind).to.equal('APIGroupList');
      expect(clusterDiscovery.groups!.map((g) => g.name)).to.include(group);
      // kubectl's request, proxied as the admin kubeconfig's user (kube-apiserver's availability checks hit it too).
      const legacy = requestLog(r).filter((l) => l.URI === `/apis/${group}/${version}` && l.user === adminUserName);
      expect(
        legacy.map((l) => [l.verb, l.resp]),
        JSON.stringify(requestLog(r)),
      ).to.deep.include(['GET', 200]);
    }

    // kubectl explain through kube-apiserver: the typed fields from our OpenAPI, merged by the aggregator (v3 from
    // 1.24, on by default; a 1.20 kube-apiserver serves no v3 and kubectl reads the merged v2 document).
    const spec = await until(['explain', 'greetings.spec'], /message\s+<string>/);
    expect(spec.code, spec.stderr).to.equal(0);
    expect(spec.stdout).to.match(/message\s+<string>( -required-)?/);
    expect(spec.stdout).to.include('What the greeting says.');
    expect(spec.stdout).to.include('The message, e.g. "hello".');
    const top = await kubectl(['explain', 'greetings']);
    expect(top.code, top.stderr).to.equal(0);
    expect(top.stdout).to.include('A Greeting is a message this extension apiserver keeps');
    expect(top.stdout).to.match(/metadata\s+<(ObjectMeta|Object)>/);
    const openapi = requestLog(r).filter((l) => l.URI.startsWith('/openapi/'));
    if (minor >= 24) {
      expect(
        openapi.some((l) => l.URI.startsWith('/openapi/v3') && l.resp === 200),
        JSON.stringify(openapi),
      ).to.equal(true);
    } else {
      expect(
        openapi.some((l) => l.URI === '/openapi/v2' && l.resp === 200),
        JSON.stringify(openapi),
      ).to.equal(true);
    }

    // `kubectl get --raw '/readyz?verbose'` is kube-apiserver's own (not proxied: our checks are not in it) ...
    const clusterReadyz = await kubectl(['get', '--raw', '/readyz?verbose']);
    expect(clusterReadyz.code, clusterReadyz.stderr).to.equal(0);
    expect(clusterReadyz.stdout).to.include('readyz check passed');
    expect(clusterReadyz.stdout).not.to.include('trust:request-header');
    // ... so the replica's is read where the kubelet reads it: Go's format, the trust sources loaded, not shutting down.
    const own = await readyz(r);
    expect(own.status).to.equal(200);
    expect(own.body).to.match(/^\[\+\]ping ok\n(\[\+\]trust:[a-z-]+ ok\n)+\[\+\]shutdown ok\nreadyz check passed\n$/);
    expect(own.body).to.include('[+]trust:request-header ok\n');
    const excluded = await request(`https://localhost:${r.port}/readyz?verbose&exclude=shutdown&exclude=nope`, {
      dispatcher: probe,
    });
    const excludedBody = await excluded.body.text();
    expect(excluded.statusCode).to.equal(200);
    expect(excludedBody).to.include('[+]shutdown excluded: ok\n');
    expect(excludedBody).to.include('warn: some health checks cannot be excluded: no matches for "nope"');
    // The probes were anonymous (the always-allowed paths); the aggregator's discovery requests carried its user.
    expect(asked.every((l) => l.user !== undefined && l.user !== 'system:anonymous')).to.equal(true);
    expect(
      requestLog(r)
        .filter((l) => l.URI.startsWith('/readyz'))
        .every((l) => l.user === 'system:anonymous'),
    ).to.equal(true);
  }

  it('a rolling restart of two replicas behind one APIService, under load through the aggregator, loses no request', async function () {
    const cp = getCluster();
    const a1 = await bringUp('replica-a-1');
    const b1 = await bringUp('replica-b-1');
    // kube-apiserver's dials while no replica was up (between the specs of this file) are not the rollout's.
    const refusedBefore = balancer.refused.length;
    await serveThroughAggregator();

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
    expect(balancer.refused.slice(refusedBefore)).to.deep.equal([]);
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
    // A server-side dry run does not create the Namespace the namespaced objects need.
    await getCluster().admin.ensureNamespace('my-extension');
    const certs = join(app, 'manifests/overlays/self-managed-ca/certs');
    writeDevPki(certs, { dnsNames: ['my-extension-apiserver.my-extension.svc'] });
    const built = await runKubectl(getCluster(), ['kustomize', join(app, 'manifests/overlays/self-managed-ca')]);
    expect(built.code, built.stderr).to.equal(0);
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
    // policy/v1 PodDisruptionBudget is served from Kubernetes 1.21: an older kube-apiserver (1.20) dry-runs the rest,
    // and the PDB is checked below as built.
    const applicable =
      getCluster().kubernetesVersion.minor >= 21 ? objects : objects.filter((o) => o.kind !== 'PodDisruptionBudget');
    const run = await runKubectl(getCluster(), ['apply', '--dry-run=server', '-f', '-'], {
      stdin: applicable.map((o) => YAML.stringify(o)).join('---\n'),
    });
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout.split('\n').filter((l) => l.endsWith('(server dry run)'))).to.have.length(applicable.length);
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
