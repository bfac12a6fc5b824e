// examples/my-extension-apiserver's own pieces, without a cluster: its Go-named flags (its own and
// kube-delegated-auth/apiserver's delegated authn/authz flags) and its app (the library's health, discovery and
// OpenAPI blocks, the greetings resource). The app runs here on a loopback node:http server with a pass-through
// instead of delegatedAuth(): authentication and authorization need the cluster's trust, and the whole server runs
// with them against the real kube-apiserver and its aggregator in spec/e2e/my-extension-apiserver.spec.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { gracefulShutdown, trustSourceChecks, type GracefulShutdown } from '../../lib/apiserver/index.js';
import type { DelegatedAuth } from '../../lib/index.js';
import { createApp } from '../../examples/my-extension-apiserver/src/app.js';
import { parseFlags } from '../../examples/my-extension-apiserver/src/flags.js';

describe('examples/my-extension-apiserver: flags', () => {
  it('defaults as documented, and takes Go durations for the shutdown flags', () => {
    const f = parseFlags([]);
    expect(f).to.deep.include({
      securePort: 8443,
      bindAddress: '0.0.0.0',
      shutdownDelayDuration: 0,
      shutdownWatchTerminationGracePeriod: 0,
      verbosity: 0,
      help: false,
    });
    expect(f.auth).to.deep.equal({}); // unset: delegatedAuth() applies Go's defaults
    expect(parseFlags(['--shutdown-delay-duration', '10s']).shutdownDelayDuration).to.equal(10_000);
    expect(
      parseFlags(['--shutdown-watch-termination-grace-period=1m30s']).shutdownWatchTerminationGracePeriod,
    ).to.equal(90_000);
    expect(parseFlags(['-v', '3']).verbosity).to.equal(3);
  });

  it("passes Go's delegated authn/authz flags to delegatedAuth() as options", () => {
    const f = parseFlags([
      '--kubeconfig',
      '/k/config',
      '--requestheader-allowed-names',
      'front-proxy-client,aggregator',
      '--authorization-always-allow-paths=/healthz',
      '--authorization-always-allow-paths=/readyz',
      '--authorization-webhook-cache-authorized-ttl=1m',
      '--authentication-tolerate-lookup-failure',
    ]);
    expect(f.auth).to.deep.equal({
      kubeconfig: '/k/config',
      requestheaderAllowedNames: ['front-proxy-client', 'aggregator'],
      authorizationAlwaysAllowPaths: ['/healthz', '/readyz'],
      authorizationWebhookCacheAuthorizedTtl: 60_000,
      authenticationTolerateLookupFailure: true,
    });
  });

  it('refuses a bad value naming the flag, in pflag words, and an unknown flag', () => {
    for (const bad of ['10', '10 s', 's', '1d', '10s '])
      expect(() => parseFlags(['--shutdown-delay-duration', bad]), bad).to.throw(
        `invalid argument ${JSON.stringify(bad)} for "--shutdown-delay-duration" flag: time:`,
      );
    expect(() => parseFlags(['--shutdown-delay-duration=-1s'])).to.throw(/"--shutdown-delay-duration" flag: must not/);
    expect(() => parseFlags(['--secure-port', '70000'])).to.throw(/"--secure-port" flag/);
    expect(() => parseFlags(['--secure-port', '-1'])).to.throw(/--secure-port/); // parseArgs': an option-like value
    expect(() => parseFlags(['--v', 'x'])).to.throw(/"--v" flag/);
    expect(() => parseFlags(['--authorization-webhook-cache-authorized-ttl', '10x'])).to.throw(
      'invalid argument "10x" for "--authorization-webhook-cache-authorized-ttl" flag',
    );
    expect(() => parseFlags(['--no-such-flag'])).to.throw(/no-such-flag/);
    expect(() => parseFlags(['positional'])).to.throw(/positional/);
  });
});

describe('examples/my-extension-apiserver: app (the library blocks and greetings)', () => {
  let server: Server;
  let shutdown: GracefulShutdown;
  let base: string;
  let trustLoaded: boolean;
  const timers: (() => void)[] = [];
  const logged: { fields: Record<string, unknown>; msg: string }[] = [];
  const logger = {
    debug: () => {},
    info: (fields: object, msg: string) => logged.push({ fields: fields as Record<string, unknown>, msg }),
    warn: (fields: object, msg: string) => logged.push({ fields: fields as Record<string, unknown>, msg }),
    error: (fields: object, msg: string) => logged.push({ fields: fields as Record<string, unknown>, msg }),
  };

  beforeEach(async () => {
    trustLoaded = true;
    logged.length = 0;
    server = createServer((req, res) => handle(req, res)); // `handle` is set below, before listen()
    // The shutdown delay runs on this clock: the spec ends it, no time passes.
    shutdown = gracefulShutdown({
      server,
      shutdownDelayDuration: 10_000,
      signals: [],
      clock: { setTimeout: (cb) => timers.push(cb), clearTimeout: () => {} },
    });
    // The shape delegatedAuth()'s status() has: the front-proxy CA of the ConfigMap, loaded or not.
    const stack: Pick<DelegatedAuth, 'status'> = {
      status: () => [
        { name: 'request-header::kube-system/extension-apiserver-authentication', loaded: trustLoaded } as never,
      ],
    };
    const handle = createApp({
      auth: (_ctx, next) => next(),
      readyzChecks: [...trustSourceChecks(stack), shutdown.readinessCheck],
      logger,
      servedBy: 'pod-a',
      logRequests: true,
    }).callback();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    void shutdown.shutdown();
    while (timers.length > 0) timers.shift()!();
    await shutdown.whenPhase('closed');
  });

  async function get(path: string, headers: Record<string, string> = {}): Promise<[number, string, Headers]> {
    const res = await fetch(`${base}${path}`, { headers });
    return [res.status, await res.text(), res.headers];
  }

  it("/readyz?verbose lists the trust source and shutdown checks in Go's format; a failing one takes /readyz only", async () => {
    expect((await get('/readyz')).slice(0, 2)).to.deep.equal([200, 'ok']);
    expect((await get('/readyz?verbose')).slice(0, 2)).to.deep.equal([
      200,
      '[+]ping ok\n[+]trust:request-header ok\n[+]shutdown ok\nreadyz check passed\n',
    ]);
    trustLoaded = false;
    expect((await get('/readyz')).slice(0, 2)).to.deep.equal([
      500,
      '[+]ping ok\n[-]trust:request-header failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n',
    ]);
    expect(logged.some((l) => l.fields.check === 'trust:request-header')).to.equal(true);
    trustLoaded = true;
    void shutdown.shutdown('spec');
    expect((await get('/readyz')).slice(0, 2)).to.deep.equal([
      500,
      '[+]ping ok\n[+]trust:request-header ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n',
    ]);
    // Served during the delay: /livez and /healthz pass, as Go's.
    expect((await get('/livez')).slice(0, 2)).to.deep.equal([200, 'ok']);
    expect((await get('/healthz')).slice(0, 2)).to.deep.equal([200, 'ok']);
  });

  it('serves discovery from src/api.ts: aggregated v2 when asked, the v1 documents otherwise', async () => {
    const v2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
    const [code, body, headers] = await get('/apis', { accept: `${v2},application/json` });
    expect(code).to.equal(200);
    expect(headers.get('content-type')).to.equal(v2);
    expect(headers.get('x-served-by')).to.equal('pod-a');
    const aggregated = JSON.parse(body) as {
      kind: string;
      items: { metadata: { name: string }; versions: { version: string; resources: Record<string, unknown>[] }[] }[];
    };
    expect(aggregated.kind).to.equal('APIGroupDiscoveryList');
    expect(aggregated.items.map((g) => g.metadata.name)).to.deep.equal(['hello.example.com']);
    expect(aggregated.items[0]!.versions[0]!.resources[0]).to.deep.include({
      resource: 'greetings',
      singularResource: 'greeting',
      scope: 'Namespaced',
      verbs: ['create', 'get', 'list'],
      shortNames: ['gr'],
    });
    const plain = await get('/apis');
    expect(JSON.parse(plain[1])).to.deep.include({ kind: 'APIGroupList' });
    const resources = JSON.parse((await get('/apis/hello.example.com/v1alpha1'))[1]) as {
      kind: string;
      resources: { name: string; kind: string; verbs: string[] }[];
    };
    expect(resources.kind).to.equal('APIResourceList');
    expect(resources.resources.map((r) => [r.name, r.kind, r.verbs])).to.deep.equal([
      ['greetings', 'Greeting', ['create', 'get', 'list']],
    ]);
    // The v2 request was logged with its Accept (-v=3): what the e2e spec reads to see the aggregator asked v2.
    expect(logged.find((l) => l.msg === 'HTTP' && l.fields.URI === '/apis')?.fields).to.deep.include({
      verb: 'GET',
      resp: 200,
      accept: `${v2},application/json`,
    });
  });

  it('serves OpenAPI v2 and v3 with the Greeting schema (kubectl explain greetings.spec)', async () => {
    const index = JSON.parse((await get('/openapi/v3'))[1]) as { paths: Record<string, { serverRelativeURL: string }> };
    const url = index.paths['apis/hello.example.com/v1alpha1']!.serverRelativeURL;
    expect(url).to.match(/^\/openapi\/v3\/apis\/hello\.example\.com\/v1alpha1\?hash=/);
    const v3 = JSON.parse((await get(url))[1]) as { components: { schemas: Record<string, Record<string, unknown>> } };
    const greeting = v3.components.schemas['com.example.hello.v1alpha1.Greeting']!;
    expect(greeting['x-kubernetes-group-version-kind']).to.deep.equal([
      { group: 'hello.example.com', version: 'v1alpha1', kind: 'Greeting' },
    ]);
    expect(JSON.stringify(greeting)).to.include('"message":{"type":"string"');
    const v2 = JSON.parse((await get('/openapi/v2'))[1]) as { definitions: Record<string, unknown> };
    expect(Object.keys(v2.definitions)).to.include.members([
      'com.example.hello.v1alpha1.Greeting',
      'com.example.hello.v1alpha1.GreetingList',
    ]);
  });

  it('creates, lists and gets greetings; other paths are a NotFound Status', async () => {
    const url = `${base}/apis/hello.example.com/v1alpha1/namespaces/default/greetings`;
    const created = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'hi' }, spec: { message: 'hello' } }),
    });
    expect(created.status).to.equal(201);
    const list = JSON.parse((await get('/apis/hello.example.com/v1alpha1/namespaces/default/greetings'))[1]) as {
      items: { spec: { message: string } }[];
    };
    expect(list.items.map((g) => g.spec.message)).to.deep.equal(['hello']);
    expect((await get('/apis/hello.example.com/v1alpha1/namespaces/default/greetings/hi'))[0]).to.equal(200);
    const missing = await get('/apis/hello.example.com/v1alpha1/namespaces/default/greetings/nope');
    expect(missing[0]).to.equal(404);
    expect(JSON.parse(missing[1])).to.deep.include({ kind: 'Status', reason: 'NotFound' });
    const bad = await fetch(url, { method: 'POST', body: '{"metadata":{"name":"Bad_Name"},"spec":{"message":"x"}}' });
    expect(bad.status).to.equal(422);
    const other = await get('/other');
    expect(other[0]).to.equal(404);
    expect(JSON.parse(other[1])).to.deep.include({ kind: 'Status', reason: 'NotFound' });
  });
});
