// The sample extension apiserver (`kube-delegated-auth serve --kubeconfig ...`, spawned as a user runs it) behind
// the real kube-apiserver aggregator, driven with `kubectl` as a user would drive it: selectors, server-side dry
// runs, `get -w`, validation errors, and a user whose RBAC allows only one widget name.
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import {
  createIdentityKubeconfig,
  prepareExtensionServer,
  type RegisteredApiService,
} from '../../harness/register-apiservice.js';
import { getCluster } from './support/cluster.js';
import { servingFlags, startServe, type ServeProcess } from './support/serve.js';

const group = 'sample.kube-delegated-auth.io';
const ns = 'kubectl-shop';
const kind = `widget.${group}`;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kubectl to completion; never throws on a non-zero exit (the specs assert the code). */
function kubectl(kubeconfig: string, args: readonly string[], stdin?: string): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

function widgetYaml(name: string, labels: Record<string, string> = {}): string {
  return JSON.stringify({ apiVersion: `${group}/v1alpha1`, kind: 'Widget', metadata: { name, namespace: ns, labels } });
}

/** Resolves once `read()` satisfies `done`, re-checking whenever `stream` emits data (no fixed sleep). */
function waitForOutput(stream: NodeJS.ReadableStream, read: () => string, done: (s: string) => boolean): Promise<void> {
  return new Promise((resolvePromise) => {
    const check = () => {
      if (!done(read())) return;
      stream.off('data', check);
      resolvePromise();
    };
    stream.on('data', check);
    check();
  });
}

describe('e2e: the sample served through the aggregator, driven with kubectl', function () {
  this.timeout(180_000);
  let server: ServeProcess | undefined;
  let registered: RegisteredApiService | undefined;
  let admin: string;
  let pat: string;

  before(async function () {
    this.timeout(240_000);
    const cp = getCluster();
    admin = cp.adminKubeconfigPath;
    const setup = await prepareExtensionServer(cp, {
      group,
      version: 'v1alpha1',
      serviceName: 'kda-sample-kubectl',
    });
    server = await startServe(servingFlags(setup));
    const { port } = server;
    registered = await setup.register(port);

    // pat may list widgets in the namespace only under the name `public` (RBAC resourceNames).
    await cp.admin.ensureNamespace(ns);
    await cp.admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'kda-public-widget-reader', namespace: ns },
      rules: [{ apiGroups: [group], resources: ['widgets'], verbs: ['list', 'get'], resourceNames: ['public'] }],
    });
    await cp.admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'kda-public-widget-reader', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kda-public-widget-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'pat' }],
    });
    pat = createIdentityKubeconfig(cp, { userName: 'pat' }).kubeconfigPath;

    for (const [name, labels] of [
      ['public', { app: 'web' }],
      ['secret', { app: 'db' }],
      ['spare', { app: 'db', tier: 'back' }],
    ] as const) {
      const r = await kubectl(admin, ['create', '-f', '-'], widgetYaml(name, labels));
      expect(r.code, r.stderr).to.equal(0);
    }
  });

  after(async function () {
    this.timeout(60_000);
    await registered?.unregister().catch(() => undefined);
    await server?.stop();
  });

  const names = (r: Run) => r.stdout.split('\n').filter((l) => l !== '');

  it('kubectl get -l selects by label (and -l app=nope finds nothing, not everything)', async () => {
    const web = await kubectl(admin, ['get', 'widgets', '-n', ns, '-l', 'app=web', '-o', 'name']);
    expect(web.code, web.stderr).to.equal(0);
    expect(names(web)).to.deep.equal([`${kind}/public`]);
    const set = await kubectl(admin, ['get', 'widgets', '-n', ns, '-l', 'app in (db),!tier', '-o', 'name']);
    expect(names(set)).to.deep.equal([`${kind}/secret`]);
    const none = await kubectl(admin, ['get', 'widgets', '-n', ns, '-l', 'app=nope', '-o', 'name']);
    expect(none.code, none.stderr).to.equal(0);
    expect(names(none)).to.deep.equal([]);
  });

  it('kubectl get --field-selector selects by name; an unsupported field is refused', async () => {
    const one = await kubectl(admin, [
      'get',
      'widgets',
      '-n',
      ns,
      '--field-selector',
      'metadata.name=secret',
      '-o',
      'name',
    ]);
    expect(names(one)).to.deep.equal([`${kind}/secret`]);
    const not = await kubectl(admin, [
      'get',
      'widgets',
      '-n',
      ns,
      '--field-selector',
      'metadata.name!=secret',
      '-o',
      'name',
    ]);
    expect(names(not)).to.deep.equal([`${kind}/public`, `${kind}/spare`]);
    const bad = await kubectl(admin, ['get', 'widgets', '-n', ns, '--field-selector', 'spec.color=red']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('"spec.color" is not a known field selector');
  });

  it('a user allowed only `public` lists with --field-selector metadata.name=public and gets only it', async () => {
    const r = await kubectl(pat, [
      'get',
      'widgets',
      '-n',
      ns,
      '--field-selector',
      'metadata.name=public',
      '-o',
      'name',
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(names(r)).to.deep.equal([`${kind}/public`]);
    const all = await kubectl(pat, ['get', 'widgets', '-n', ns, '-o', 'name']);
    expect(all.code).to.equal(1);
    expect(all.stderr).to.include('forbidden');
    expect(all.stdout).to.equal('');
  });

  it('kubectl create --dry-run=server answers "created (server dry run)" and stores nothing', async () => {
    const r = await kubectl(admin, ['create', '--dry-run=server', '-f', '-'], widgetYaml('ghost'));
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(`${kind}/ghost created (server dry run)`);
    const get = await kubectl(admin, ['get', 'widget', 'ghost', '-n', ns]);
    expect(get.code).to.equal(1);
    expect(get.stderr).to.include('"ghost" not found');
  });

  it('kubectl delete --dry-run=server answers "deleted (server dry run)" and keeps the object', async () => {
    const r = await kubectl(admin, ['delete', 'widget', 'public', '-n', ns, '--dry-run=server']);
    expect(r.code, r.stderr).to.equal(0);
    // kubectl ≥ 1.33 adds "from <namespace> namespace".
    expect(r.stdout.trim()).to.match(
      new RegExp(`^${esc(kind)} "public" deleted( from ${ns} namespace)? \\(server dry run\\)$`),
    );
    const get = await kubectl(admin, ['get', 'widget', 'public', '-n', ns, '-o', 'name']);
    expect(get.code, get.stderr).to.equal(0);
    expect(names(get)).to.deep.equal([`${kind}/public`]);
  });

  it('an invalid widget: kubectl prints the 422 with the field and the reason', async () => {
    const r = await kubectl(admin, ['create', '-f', '-'], widgetYaml('Bad_Name'));
    expect(r.code).to.equal(1);
    // kubectl prints the field only from details.causes ("The Widget ... is invalid" alone without them).
    expect(r.stderr).to.match(
      /The Widget "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
    );
  });

  it('kubectl get -w receives the widget created meanwhile, then is ended', async () => {
    const watch = spawn('kubectl', ['--kubeconfig', admin, 'get', 'widgets', '-n', ns, '-w', '-o', 'name'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    let err = '';
    watch.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    watch.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => watch.once('exit', (code) => r(code)));
    try {
      // The initial list is printed first; the watch then starts from its resourceVersion.
      await waitForOutput(
        watch.stdout,
        () => seen,
        (s) => s.includes(`${kind}/spare`),
      );
      const made = await kubectl(admin, ['create', '-f', '-'], widgetYaml('late', { app: 'web' }));
      expect(made.code, made.stderr).to.equal(0);
      await waitForOutput(
        watch.stdout,
        () => seen,
        (s) => s.includes(`${kind}/late`),
      );
      expect(watch.exitCode, err).to.equal(null);
      expect(names({ code: 0, stdout: seen, stderr: '' })).to.deep.equal([
        `${kind}/public`,
        `${kind}/secret`,
        `${kind}/spare`,
        `${kind}/late`,
      ]);
    } finally {
      watch.kill('SIGTERM');
      await exited;
    }
  });

  it('kubectl delete -l deletes only the selected widgets', async () => {
    const r = await kubectl(admin, ['delete', 'widgets', '-n', ns, '-l', 'app=db']);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(new RegExp(`^${esc(kind)} "secret" deleted( from ${ns} namespace)?$`));
    expect(lines[1]).to.match(new RegExp(`^${esc(kind)} "spare" deleted( from ${ns} namespace)?$`));
    const left = await kubectl(admin, ['get', 'widgets', '-n', ns, '-o', 'name']);
    expect(names(left)).to.deep.equal([`${kind}/late`, `${kind}/public`]);
  });
});
