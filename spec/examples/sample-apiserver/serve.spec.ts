import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { healthEndpoints, trustSourceChecks } from '../../../lib/apiserver/index.js';
import { parseServeFlags } from '../../../cli/flags.js';
import { clusterAuthOptions } from '../../../examples/sample-apiserver/serve.js';
import type { TrustStatus } from '../../../lib/trust/interfaces.js';
import { startListening, type ListeningProcess } from '../../support/programs.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const mainTs = join(repoRoot, 'cli/main.ts');
const gv = '/apis/sample.kube-delegated-auth.io/v1alpha1';
const run = promisify(execFile);

interface Served extends ListeningProcess {
  /** The three `curl` lines of its banner, trimmed. */
  readonly curlLines: readonly string[];
}

/** Spawns `tsx cli/main.ts serve ...` and resolves once the banner with the curl lines is printed. */
async function serve(args: readonly string[]): Promise<Served> {
  const env = { ...process.env };
  // Standalone mode only: a developer's KUBECONFIG must not switch the test to cluster mode.
  delete env.KUBECONFIG;
  delete env.KUBERNETES_SERVICE_HOST;
  const served = await startListening(process.execPath, ['--import', 'tsx', mainTs, 'serve', ...args], {
    cwd: repoRoot,
    env,
  });
  expect(served.url).to.match(/^https:\/\/127\.0\.0\.1:/);
  await served.waitForOutput(/(?:^ {2}curl .*\n[\s\S]*?){3}/m);
  const curlLines = served
    .output()
    .split('\n')
    .filter((l) => l.startsWith('  curl '))
    .map((l) => l.trim());
  return { ...served, curlLines };
}

async function stop(s: Served | undefined): Promise<number | null> {
  return s ? s.stop() : null;
}

/** Runs a printed curl line as a user would paste it, plus flags that print the status code last. */
async function curl(line: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('sh', ['-c', `${line} -s -w '\\n%{http_code}'`], { cwd: repoRoot });
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}

describe('kube-delegated-auth serve (standalone, spawned)', function () {
  this.timeout(120_000);
  let certDir: string;
  let s: Served | undefined;
  const agents: Agent[] = [];

  before(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'kda-serve-'));
    s = await serve(['--secure-port', '0', '--bind-address', '127.0.0.1', '--cert-dir', certDir]);
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await stop(s);
    rmSync(certDir, { recursive: true, force: true });
  });

  function agent(stem?: string): Agent {
    const read = (f: string) => readFileSync(join(certDir, f), 'utf8');
    const a = new Agent({
      connect: {
        ca: read('serving-ca.crt'),
        servername: 'localhost',
        ...(stem ? { cert: read(`${stem}.crt`), key: read(`${stem}.key`) } : {}),
      },
    });
    agents.push(a);
    return a;
  }

  async function call(
    stem: string | undefined,
    path: string,
    init: { method?: 'GET' | 'POST' | 'DELETE'; body?: unknown; headers?: Record<string, string | string[]> } = {},
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await request(`https://127.0.0.1:${s!.port}${path}`, {
      method: init.method ?? 'GET',
      dispatcher: agent(stem),
      headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  it('created the development PKI in --cert-dir and printed three curl lines using it', () => {
    for (const f of ['front-proxy-ca.crt', 'front-proxy-client.key', 'client-ca.crt', 'alice.crt', 'serving-ca.crt']) {
      expect(readFileSync(join(certDir, f), 'utf8')).to.contain('-----BEGIN');
    }
    for (const line of s!.curlLines) expect(line).to.contain(`--cacert ${join(certDir, 'serving-ca.crt')}`);
    expect(s!.curlLines[0]).to.contain(`https://localhost:${s!.port}${gv}/namespaces/default/widgets`);
  });

  it('says at startup that widgets are kept in memory and lost on restart', () => {
    const out = s!.output();
    expect(out).to.include('widgets are kept in memory: they are lost when this process stops');
    expect(out).to.include('every replica has its own');
  });

  it('printed curl line 1 (front-proxy, alice in developers) returns 200 with the WidgetList', async () => {
    const r = await curl(s!.curlLines[0]!);
    expect(r.status).to.equal(200, r.body);
    expect(JSON.parse(r.body)).to.deep.include({
      kind: 'WidgetList',
      apiVersion: 'sample.kube-delegated-auth.io/v1alpha1',
    });
  });

  it('printed curl line 2 (client certificate alice) returns 200 with the WidgetList', async () => {
    const r = await curl(s!.curlLines[1]!);
    expect(r.status).to.equal(200, r.body);
    expect(JSON.parse(r.body)).to.have.property('kind', 'WidgetList');
  });

  it('printed curl line 3 (spoofed X-Remote-User without a proxy certificate) is refused: 403 for system:anonymous', async () => {
    const r = await curl(s!.curlLines[2]!);
    expect(r.status).to.equal(403, r.body);
    const status = JSON.parse(r.body) as Record<string, unknown>;
    expect(status).to.include({ kind: 'Status', reason: 'Forbidden', code: 403 });
    expect(status.message).to.equal(
      'widgets.sample.kube-delegated-auth.io is forbidden: User "system:anonymous" cannot list resource "widgets" in API group "sample.kube-delegated-auth.io" in the namespace "default"',
    );
    expect(status.message).to.not.contain('admin');
  });

  it('serves discovery to authenticated users and health to anyone', async () => {
    const list = await call('alice', gv);
    expect(list.status).to.equal(200);
    expect(list.json.kind).to.equal('APIResourceList');
    const groups = await call('front-proxy-client', '/apis', { headers: { 'x-remote-user': 'system:aggregator' } });
    expect(groups.json.kind).to.equal('APIGroupList');
    const ready = await request(`https://127.0.0.1:${s!.port}/readyz?verbose`, { dispatcher: agent() });
    expect(ready.statusCode).to.equal(200);
    const text = await ready.body.text();
    expect(text.split('\n')).to.include.members([
      '[+]ping ok',
      '[+]trust:client-ca-bundle ok',
      '[+]trust:request-header ok',
    ]);
  });

  it('anonymous /readyz and /readyz?verbose name checks only: no CA file path, no CA subject; the log has the paths', async () => {
    const caFiles = [join(certDir, 'client-ca.crt'), join(certDir, 'front-proxy-ca.crt')];
    const subjects = ['kube-delegated-auth', 'CN=', 'O='];
    for (const path of ['/readyz', '/readyz?verbose', '/readyz?verbose=1', '/healthz?verbose', '/livez?verbose']) {
      // No client certificate, no credentials: the anonymous caller the always-allow paths admit.
      const r = await request(`https://127.0.0.1:${s!.port}${path}`, { dispatcher: agent() });
      const text = await r.body.text();
      expect(r.statusCode, path).to.equal(200);
      for (const file of caFiles) expect(text, path).to.not.contain(file);
      expect(text, path).to.not.contain(certDir);
      expect(text, path).to.not.contain('::');
      expect(text, path).to.not.match(/\/[a-z]/i);
      for (const subject of subjects) expect(text, path).to.not.contain(subject);
      expect(text, path).to.not.contain('last-known-good');
    }
    const log = s!.output();
    for (const file of caFiles) expect(log).to.contain(file);
  });

  it('widget CRUD through the front proxy as alice; bob (no groups) is forbidden', async () => {
    const as = { 'x-remote-user': 'alice', 'x-remote-group': 'developers' };
    const path = `${gv}/namespaces/team/widgets`;
    const created = await call('front-proxy-client', path, {
      method: 'POST',
      headers: as,
      body: { metadata: { name: 'gear' }, spec: { teeth: 12 } },
    });
    expect(created.status).to.equal(201);
    const got = await call('front-proxy-client', `${path}/gear`, { headers: as });
    expect(got.json).to.deep.equal(created.json);
    const bob = await call('bob', `${path}/gear`);
    expect(bob.status).to.equal(403);
    expect(bob.json.message).to.contain('User "bob" cannot get resource "widgets"');
    const del = await call('front-proxy-client', `${path}/gear`, { method: 'DELETE', headers: as });
    expect(del.status).to.equal(200);
    expect((await call('alice', `${path}/gear`)).status).to.equal(404);
  });

  it('selfsubjectreview echoes the front-proxy identity', async () => {
    const r = await call('front-proxy-client', `${gv}/selfsubjectreviews`, {
      method: 'POST',
      body: { apiVersion: 'sample.kube-delegated-auth.io/v1alpha1', kind: 'SelfSubjectReview' },
      headers: { 'x-remote-user': 'carol', 'x-remote-group': ['qa', 'ops'], 'x-remote-extra-team': 'blue' },
    });
    expect(r.status).to.equal(201);
    expect((r.json.status as Record<string, unknown>).userInfo).to.deep.equal({
      username: 'carol',
      groups: ['qa', 'ops', 'system:authenticated'],
      extra: { team: ['blue'] },
    });
  });

  it('a front-proxy certificate without a username is refused with 401, not served as anonymous', async () => {
    const r = await call('front-proxy-client', `${gv}/namespaces/default/widgets`);
    expect(r.status).to.equal(401);
    expect(r.json).to.include({ kind: 'Status', reason: 'Unauthorized' });
  });

  it('SIGTERM closes gracefully with exit code 0, ending an open watch cleanly instead of cutting it', async () => {
    const watch = await request(`https://127.0.0.1:${s!.port}${gv}/namespaces/team/widgets?watch=true`, {
      dispatcher: agent('alice'),
    });
    expect(watch.statusCode).to.equal(200);
    const code = await stop(s);
    // A cut connection (the shutdown timeout's closeAllConnections) rejects here; an ended stream resolves.
    expect(await watch.body.text()).to.equal('');
    expect(code).to.equal(0);
    expect(s!.output()).to.contain('shutting down');
  });
});

describe('kube-delegated-auth serve --anonymous-auth=false (spawned)', function () {
  this.timeout(120_000);
  let certDir: string;
  let s: Served | undefined;
  before(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'kda-serve-noanon-'));
    s = await serve(['--secure-port=0', '--bind-address=127.0.0.1', `--cert-dir=${certDir}`, '--anonymous-auth=false']);
  });
  after(async () => {
    await stop(s);
    rmSync(certDir, { recursive: true, force: true });
  });

  it('the spoof line is refused with 401 instead of 403', async () => {
    const r = await curl(s!.curlLines[2]!);
    expect(r.status).to.equal(401);
    expect(r.body.trimEnd()).to.equal(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}',
    );
  });

  it('the authenticated lines still work', async () => {
    expect((await curl(s!.curlLines[0]!)).status).to.equal(200);
    expect((await curl(s!.curlLines[1]!)).status).to.equal(200);
  });
});

describe("/readyz from the trust sources (the library's trustSourceChecks, as serve wires it in cluster mode)", () => {
  let statuses: TrustStatus[] = [];
  const names = { client: 'client-ca::cm', rh: 'request-header::cm', cfg: 'request-header-config::cm' };
  const logged: Record<string, unknown>[] = [];
  const logger = {
    debug: () => {},
    info: () => {},
    warn: (fields: object) => logged.push(fields as Record<string, unknown>),
    error: () => {},
  };
  const readyz = async (stack: Parameters<typeof trustSourceChecks>[0]) => {
    const answer = await healthEndpoints({ readyzChecks: trustSourceChecks(stack), logger })({
      url: '/readyz?verbose',
      headers: {},
    });
    return answer!;
  };
  beforeEach(() => (logged.length = 0));
  const cases: readonly {
    name: string;
    statuses: TrustStatus[];
    status: number;
    lines: readonly string[];
    loggedError?: string;
  }[] = [
    {
      name: 'all loaded: ready',
      statuses: [
        { name: names.client, loaded: true },
        { name: names.rh, loaded: true },
        { name: names.cfg, loaded: true },
      ],
      status: 200,
      lines: ['[+]trust:client-ca ok', '[+]trust:request-header ok', '[+]trust:request-header-config ok'],
    },
    {
      name: 'front-proxy CA never loaded: not ready, reason withheld, logged',
      statuses: [
        { name: names.client, loaded: true },
        { name: names.rh, loaded: false, lastError: 'configmaps "extension-apiserver-authentication" is forbidden' },
        { name: names.cfg, loaded: true },
      ],
      status: 500,
      lines: ['[-]trust:request-header failed: reason withheld', 'readyz check failed'],
      loggedError: 'configmaps "extension-apiserver-authentication" is forbidden',
    },
    {
      name: 'client CA absent from the ConfigMap: still ready',
      statuses: [
        { name: names.client, loaded: false, lastError: 'missing content for CA bundle' },
        { name: names.rh, loaded: true },
        { name: names.cfg, loaded: true },
      ],
      status: 200,
      lines: ['[+]trust:client-ca ok'],
    },
    {
      name: 'ConfigMap deleted after loading: ready on last-known-good',
      statuses: [
        { name: names.client, loaded: true },
        { name: names.rh, loaded: true, lastError: 'configmap deleted', lastErrorAt: Date.UTC(2026, 0, 2, 3, 4, 5) },
        { name: names.cfg, loaded: true },
      ],
      status: 200,
      lines: ['[+]trust:request-header ok'],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      statuses = c.statuses;
      const report = await readyz({ status: () => statuses });
      expect(report.status).to.equal(c.status);
      for (const l of c.lines) expect(report.body.split('\n')).to.include(l);
      expect(report.body).to.not.contain('forbidden');
      expect(report.body).to.not.contain('::');
      expect(report.body).to.not.contain('last-known-good');
      expect(report.body).to.not.contain('deleted');
      const details = logged.map((f) => f.detail);
      expect(details, JSON.stringify(logged)).to.deep.equal(c.loggedError === undefined ? [] : [c.loggedError]);
    });
  }

  it('--authentication-tolerate-lookup-failure / --authentication-skip-lookup: never fails', async () => {
    statuses = [{ name: names.rh, loaded: false, lastError: 'boom' }];
    for (const options of [{ authenticationTolerateLookupFailure: true }, { authenticationSkipLookup: true }]) {
      expect((await readyz({ status: () => statuses, options })).status).to.equal(200);
    }
    expect((await readyz({ status: () => statuses })).status).to.equal(500);
  });
});

describe('clusterAuthOptions (serve flags → delegatedAuth() options)', () => {
  const headerKeys = [
    'requestheaderClientCaFile',
    'requestheaderUsernameHeaders',
    'requestheaderUidHeaders',
    'requestheaderGroupHeaders',
    'requestheaderExtraHeadersPrefix',
    'requestheaderAllowedNames',
  ];
  const opts = (args: string[]) => parseServeFlags(args).options;

  it('defaults: no requestheader option, so the ConfigMap lists are not overridden by the flag defaults', () => {
    const o = clusterAuthOptions(opts(['--kubeconfig', 'kc']), { cwd: '/srv', env: {} });
    for (const k of headerKeys) expect(o).to.not.have.property(k);
    expect(o).to.not.have.property('clientCaFile');
    expect(o).to.include({ kubeconfig: '/srv/kc', anonymous: true, authenticationSkipLookup: false });
    expect(o.authorizationAlwaysAllowPaths).to.deep.equal(['/healthz', '/readyz', '/livez']);
  });

  it('header flags without --requestheader-client-ca-file are ignored (Go: they apply only with it)', () => {
    const o = clusterAuthOptions(
      opts(['--requestheader-username-headers', 'x-user', '--requestheader-allowed-names', 'p']),
    );
    for (const k of headerKeys) expect(o).to.not.have.property(k);
  });

  it('with --requestheader-client-ca-file every header flag applies, defaults included; paths resolve against cwd', () => {
    const o = clusterAuthOptions(
      opts([
        '--requestheader-client-ca-file',
        'fp.crt',
        '--requestheader-allowed-names',
        'front-proxy-client',
        '--client-ca-file',
        '/etc/ca.crt',
        '--authentication-token-webhook-cache-ttl',
        '2m',
      ]),
      { cwd: '/srv' },
    );
    expect(o).to.deep.include({
      requestheaderClientCaFile: '/srv/fp.crt',
      requestheaderAllowedNames: ['front-proxy-client'],
      requestheaderUsernameHeaders: ['x-remote-user'],
      requestheaderGroupHeaders: ['x-remote-group'],
      requestheaderExtraHeadersPrefix: ['x-remote-extra-'],
      requestheaderUidHeaders: [],
      clientCaFile: '/etc/ca.crt',
      authenticationTokenWebhookCacheTtl: 120_000,
    });
  });
});
