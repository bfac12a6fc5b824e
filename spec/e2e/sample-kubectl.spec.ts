// The sample extension apiserver (`kube-delegated-auth serve --kubeconfig ...`, spawned as a user runs it) behind
// the real kube-apiserver aggregator, driven with `kubectl` as a user would drive it: selectors, server-side dry
// runs, `get -w`, validation errors, and a user whose RBAC allows only one widget name.
import { expect } from 'chai';
import {
  createIdentityKubeconfig,
  prepareExtensionServer,
  type RegisteredApiService,
} from '../../harness/register-apiservice.js';
import { kubectlUntil, runKubectl, spawnKubectl, type KubectlRun } from '../../harness/kubectl.js';
import { getCluster } from './support/cluster.js';
import { servingFlags, startServe, type ServeProcess } from './support/serve.js';

const group = 'sample.kube-delegated-auth.io';
const ns = 'kubectl-shop';
const kind = `widget.${group}`;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type Run = KubectlRun;

/**
 * Runs the harness's kubectl (v1.37, against every release) to completion, with the control plane's own cache (no
 * other server's discovery or OpenAPI); never throws on a non-zero exit (the specs assert the code).
 */
function kubectl(kubeconfig: string, args: readonly string[], stdin?: string): Promise<Run> {
  return runKubectl(getCluster(), args, { kubeconfig, ...(stdin !== undefined && { stdin }) });
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

  /** `kubectl get widget <name> -n <ns> -o jsonpath=<template>` as the admin: its output, once it exits 0. */
  async function widgetJsonpath(name: string, template: string): Promise<string> {
    const r = await kubectl(admin, ['get', 'widget', name, '-n', ns, '-o', `jsonpath=${template}`]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout;
  }

  /** `kubectl patch widget <name> -n <ns> --type=<type> -p <patch>` as the admin (the spec asserts the outcome). */
  const patchWidget = (name: string, type: 'merge' | 'json', patch: string) =>
    kubectl(admin, ['patch', 'widget', name, '-n', ns, `--type=${type}`, '-p', patch]);

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
    const watch = spawnKubectl(getCluster(), ['get', 'widgets', '-n', ns, '-w', '-o', 'name'], { kubeconfig: admin });
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

  /** A widget manifest with a spec, as a user writes it for `kubectl apply -f`. */
  const paintedYaml = (name: string, color: string, size: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      apiVersion: `${group}/v1alpha1`,
      kind: 'Widget',
      metadata: { name, namespace: ns, ...extra },
      spec: { color, size },
    });

  /**
   * `kubectl explain` reads the OpenAPI the kube-apiserver aggregated from the sample; the aggregator downloads it
   * some time after the APIService became available and announces nothing: kubectl is asked again until the fields
   * appear, up to a deadline (never a number of attempts, which a loaded machine makes too few or a fast one too many).
   */
  function explain(path: string, expected: RegExp): Promise<Run> {
    return kubectlUntil(getCluster(), ['explain', path], expected, { kubeconfig: admin });
  }

  it('kubectl explain widgets.spec shows the typed fields and their descriptions (OpenAPI through the aggregator)', async () => {
    const spec = await explain('widgets.spec', /color\s+<string>/);
    expect(spec.code, spec.stderr).to.equal(0);
    expect(spec.stdout).to.match(/color\s+<string>/);
    expect(spec.stdout).to.match(/size\s+<integer>/);
    expect(spec.stdout).to.include('Color of the widget');
    const top = await kubectl(admin, ['explain', 'widgets']);
    expect(top.code, top.stderr).to.equal(0);
    // kubectl names the type from OpenAPI v3 (`<ObjectMeta>`); from v2 (a 1.20 kube-apiserver serves no v3) `<Object>`.
    expect(top.stdout).to.match(/metadata\s+<(ObjectMeta|Object)>/);
    expect(top.stdout).to.match(/spec\s+<WidgetSpec>|spec\s+<Object>/);
    const meta = await kubectl(admin, ['explain', 'widgets.metadata.labels']);
    expect(meta.code, meta.stderr).to.equal(0);
    expect(meta.stdout).to.match(/labels\s+<map\[string\]string>/);
  });

  it('kubectl apply -f creates, then updates (configured), then leaves unchanged', async () => {
    const first = await kubectl(admin, ['apply', '-f', '-'], paintedYaml('applied', 'red', 3));
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout.trim()).to.equal(`${kind}/applied created`);
    const second = await kubectl(admin, ['apply', '-f', '-'], paintedYaml('applied', 'blue', 5));
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout.trim()).to.equal(`${kind}/applied configured`);
    expect(await widgetJsonpath('applied', '{.spec.color}/{.spec.size}')).to.equal('blue/5');
    const third = await kubectl(admin, ['apply', '-f', '-'], paintedYaml('applied', 'blue', 5));
    expect(third.code, third.stderr).to.equal(0);
    expect(third.stdout.trim()).to.equal(`${kind}/applied unchanged`);
  });

  it('kubectl label adds a label, and --overwrite is needed to change it', async () => {
    const r = await kubectl(admin, ['label', 'widget', 'applied', '-n', ns, 'finish=matte']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(`${kind}/applied labeled`);
    const again = await kubectl(admin, ['label', 'widget', 'applied', '-n', ns, 'finish=gloss']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include("'finish' already has a value (matte)");
    expect(await widgetJsonpath('applied', '{.metadata.labels.finish}')).to.equal('matte');
  });

  it('kubectl get widgets shows the server-side columns NAME COLOR SIZE AGE (list and single object)', async () => {
    const list = await kubectl(admin, ['get', 'widgets', '-n', ns]);
    expect(list.code, list.stderr).to.equal(0);
    const lines = list.stdout.split('\n').filter((l) => l !== '');
    expect(lines[0]).to.match(/^NAME\s+COLOR\s+SIZE\s+AGE$/);
    expect(lines.find((l) => l.startsWith('applied '))).to.match(/^applied\s+blue\s+5\s+\d+[smhdy]/);
    // A widget without a color or size has null cells, which kubectl prints blank (as for a CRD's missing column).
    expect(lines.find((l) => l.startsWith('public '))).to.match(/^public\s+\d+[smhdy]/);
    const one = await kubectl(admin, ['get', 'widget', 'applied', '-n', ns]);
    expect(one.code, one.stderr).to.equal(0);
    expect(one.stdout.split('\n').filter((l) => l !== '')).to.have.length(2);
    expect(one.stdout).to.match(/^NAME\s+COLOR\s+SIZE\s+AGE\napplied\s+blue\s+5\s+/);
  });

  it('kubectl get -w (default output) prints the columns, then a row per change', async () => {
    const watch = spawnKubectl(
      getCluster(),
      ['get', 'widgets', '-n', ns, '-w', '--field-selector', 'metadata.name=applied'],
      { kubeconfig: admin },
    );
    let seen = '';
    let err = '';
    watch.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    watch.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => watch.once('exit', (code) => r(code)));
    const rows = () => seen.split('\n').filter((l) => l.startsWith('applied '));
    try {
      await waitForOutput(
        watch.stdout,
        () => seen,
        () => rows().length >= 1,
      );
      expect(seen.split('\n')[0]).to.match(/^NAME\s+COLOR\s+SIZE\s+AGE$/);
      const painted = await patchWidget('applied', 'merge', '{"spec":{"color":"violet"}}');
      expect(painted.code, painted.stderr).to.equal(0);
      await waitForOutput(
        watch.stdout,
        () => seen,
        () => rows().length >= 2,
      );
      expect(watch.exitCode, err).to.equal(null);
      expect(rows()[1]).to.match(/^applied\s+violet\s+5\s+\d+[smhdy]/);
    } finally {
      watch.kill('SIGTERM');
      await exited;
    }
    // Back to what the next cases expect.
    const back = await patchWidget('applied', 'merge', '{"spec":{"color":"blue"}}');
    expect(back.code, back.stderr).to.equal(0);
  });

  it('a stale resourceVersion is a conflict: kubectl replace answers 409 and the widget keeps its value', async () => {
    const rv = await widgetJsonpath('applied', '{.metadata.resourceVersion}');
    const fresh = await patchWidget('applied', 'merge', '{"spec":{"size":6}}');
    expect(fresh.code, fresh.stderr).to.equal(0);
    const stale = await kubectl(
      admin,
      ['replace', '-f', '-'],
      paintedYaml('applied', 'green', 1, { resourceVersion: rv }),
    );
    expect(stale.code).to.equal(1);
    expect(stale.stderr).to.include('the object has been modified; please apply your changes to the latest version');
    expect(await widgetJsonpath('applied', '{.spec.color}/{.spec.size}')).to.equal('blue/6');
  });

  it('kubectl patch --type=json applies a JSON patch; an invalid result is a 422 naming the field', async () => {
    const ok = await patchWidget('applied', 'json', '[{"op":"replace","path":"/spec/color","value":"teal"}]');
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout.trim()).to.equal(`${kind}/applied patched`);
    const bad = await patchWidget('applied', 'merge', '{"spec":{"size":-1}}');
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include(
      'spec.size: Invalid value: -1: spec.size in body should be greater than or equal to 0',
    );
  });

  it('kubectl apply --server-side creates, updates, and removes a field it no longer applies', async () => {
    const first = await kubectl(admin, ['apply', '--server-side', '-f', '-'], paintedYaml('ssa', 'red', 1));
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout.trim()).to.equal(`${kind}/ssa serverside-applied`);
    const second = await kubectl(admin, ['apply', '--server-side', '-f', '-'], paintedYaml('ssa', 'gold', 2));
    expect(second.code, second.stderr).to.equal(0);
    expect(await widgetJsonpath('ssa', '{.spec.color}/{.spec.size}')).to.equal('gold/2');
    // A field the manager no longer applies is removed.
    const third = await kubectl(
      admin,
      ['apply', '--server-side', '-f', '-'],
      JSON.stringify({
        apiVersion: `${group}/v1alpha1`,
        kind: 'Widget',
        metadata: { name: 'ssa', namespace: ns },
        spec: { color: 'gold' },
      }),
    );
    expect(third.code, third.stderr).to.equal(0);
    expect(JSON.parse(await widgetJsonpath('ssa', '{.spec}'))).to.deep.equal({ color: 'gold' });
  });

  it('kubectl get --chunk-size=2 lists 5 widgets once each over 3 chunks; --raw ?limit=2 shows a continue token', async () => {
    const chunked = 'kubectl-chunks';
    await getCluster().admin.ensureNamespace(chunked);
    const items = ['w5', 'w3', 'w1', 'w4', 'w2'].map((name) => ({
      apiVersion: `${group}/v1alpha1`,
      kind: 'Widget',
      metadata: { name, namespace: chunked },
    }));
    const created = await kubectl(
      admin,
      ['create', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    );
    expect(created.code, created.stderr).to.equal(0);
    const all = ['w1', 'w2', 'w3', 'w4', 'w5'];
    // -v=6 logs each request: the list really was fetched in chunks, following the server's continue tokens.
    const byName = await kubectl(admin, ['get', 'widgets', '-n', chunked, '--chunk-size=2', '-o', 'name', '-v=6']);
    expect(byName.code, byName.stderr).to.equal(0);
    expect(names(byName)).to.deep.equal(all.map((n) => `${kind}/${n}`));
    const requests = byName.stderr.match(/\/namespaces\/kubectl-chunks\/widgets\?[^\s"]*/g) ?? [];
    expect(requests.filter((u) => u.includes('limit=2') && u.includes('continue='))).to.have.length(2);
    // The default output (server-side Table): one header, then one row per widget.
    const table = await kubectl(admin, ['get', 'widgets', '-n', chunked, '--chunk-size=2']);
    expect(table.code, table.stderr).to.equal(0);
    const rows = table.stdout.split('\n').filter((l) => l !== '');
    expect(rows[0]).to.match(/^NAME\s+COLOR\s+SIZE\s+AGE$/);
    expect(rows.slice(1).map((l) => l.split(/\s+/)[0])).to.deep.equal(all);
    // The raw first chunk: two items, a continue token, and what remains.
    const path = `/apis/${group}/v1alpha1/namespaces/${chunked}/widgets`;
    const raw = await kubectl(admin, ['get', '--raw', `${path}?limit=2`]);
    expect(raw.code, raw.stderr).to.equal(0);
    const first = JSON.parse(raw.stdout) as {
      metadata: { continue?: string; remainingItemCount?: number; resourceVersion: string };
      items: { metadata: { name: string } }[];
    };
    expect(first.items.map((i) => i.metadata.name)).to.deep.equal(['w1', 'w2']);
    expect(first.metadata.remainingItemCount).to.equal(3);
    expect(first.metadata.continue).to.match(/^[A-Za-z0-9_-]+$/);
    const next = await kubectl(admin, [
      'get',
      '--raw',
      `${path}?limit=2&continue=${encodeURIComponent(first.metadata.continue!)}`,
    ]);
    expect(next.code, next.stderr).to.equal(0);
    const second = JSON.parse(next.stdout) as typeof first;
    expect(second.items.map((i) => i.metadata.name)).to.deep.equal(['w3', 'w4']);
    expect(second.metadata.resourceVersion).to.equal(first.metadata.resourceVersion);
    // A garbage token is Go's 400, which kubectl reports.
    const bad = await kubectl(admin, ['get', '--raw', `${path}?limit=2&continue=garbage!`]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(
      /invalid continue token: continue key is not valid: illegal base64 data at input byte 7/,
    );
  });

  it('kubectl delete -l deletes only the selected widgets', async () => {
    const r = await kubectl(admin, ['delete', 'widgets', '-n', ns, '-l', 'app=db']);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(new RegExp(`^${esc(kind)} "secret" deleted( from ${ns} namespace)?$`));
    expect(lines[1]).to.match(new RegExp(`^${esc(kind)} "spare" deleted( from ${ns} namespace)?$`));
    const left = await kubectl(admin, ['get', 'widgets', '-n', ns, '-o', 'name']);
    expect(names(left)).to.deep.equal([`${kind}/applied`, `${kind}/late`, `${kind}/public`, `${kind}/ssa`]);
  });
});
