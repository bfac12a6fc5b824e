// The library as a user gets it: `npm pack` once, the tarball installed into four empty projects (Koa, Express,
// Fastify, node:http; spec/e2e/fixtures/pack-install/<framework>/), each compiled by `tsc` twice with strict settings
// and `skipLibCheck: false` (module/moduleResolution nodenext; module esnext + moduleResolution bundler), then run:
// in local mode (CA files from the installed bin's `certs`) with real mTLS requests, and in cluster mode behind the
// real kube-apiserver's aggregator (`kubectl get --raw` as an admin and as a user RBAC does not allow; that user
// sent by the front proxy straight to the server is refused by the server's own SubjectAccessReview).
//
// Installing without the network: the tarball is unpacked into `node_modules/kube-delegated-auth` as a real
// directory, and every other package the project or the tarball declares is a symlink to the repository's
// `node_modules/<name>` (what `npm ci` just installed). Node and tsc resolve symlinks to their real path, so those
// packages find their own dependencies where npm put them; the library itself, being a real directory in the
// project, sees only what its `dependencies` declare (plus the project's own packages), as after `npm install`.
// `npm install --offline` would need the registry's package documents (not in the cache after `npm ci`, which
// fetches tarballs only), and `file:` links make npm install the linked packages' dependencies into the checkout.
import { expect } from 'chai';
import { execFile, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { runKubectl } from '../../harness/kubectl.js';
import { createIdentityKubeconfig, prepareExtensionServer } from '../../harness/register-apiservice.js';
import { createCertificate } from '../../lib/dev-pki/index.js';
import { startListening } from '../support/programs.js';
import { getCluster } from './support/cluster.js';
import { repoRoot } from './support/serve.js';

const execFileP = promisify(execFile);
const fixtures = join(repoRoot, 'spec/e2e/fixtures/pack-install');
const frameworks = ['koa', 'express', 'fastify', 'node-http'] as const;
type Framework = (typeof frameworks)[number];
const builds = ['nodenext', 'bundler'] as const;
type Build = (typeof builds)[number];

interface PackageJson {
  readonly name: string;
  readonly bin?: string | Record<string, string>;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as PackageJson;

/** Links `node_modules/<name>` of `project` to the repository's copy; a missing one fails naming the package. */
function linkFromRepo(project: string, name: string): void {
  let target: string;
  try {
    target = realpathSync(join(repoRoot, 'node_modules', name));
  } catch {
    throw new Error(`${name} (needed by ${project}) is not in the repository's node_modules: run npm ci`);
  }
  const link = join(project, 'node_modules', name);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(target, link, 'dir');
}

/** Waits for all (no tsc left writing into a directory being removed); rejects with every failure's message. */
async function allOrEveryError<T>(work: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(work);
  const errors = settled.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (errors.length > 0) throw new Error(errors.join('\n'));
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Copies the fixture, unpacks the tarball into it, links the rest, and compiles both builds (tsc output on failure). */
async function prepareProject(work: string, tarball: string, framework: Framework): Promise<string> {
  const project = join(work, framework);
  cpSync(join(fixtures, framework), project, { recursive: true });
  for (const b of builds) cpSync(join(fixtures, `tsconfig.${b}.json`), join(project, `tsconfig.${b}.json`));
  const installed = join(project, 'node_modules', 'kube-delegated-auth');
  mkdirSync(installed, { recursive: true });
  await execFileP('tar', ['-xzf', tarball, '--strip-components=1', '-C', installed]);
  const own = readJson(join(project, 'package.json'));
  const names = new Set([
    ...Object.keys(own.dependencies ?? {}),
    ...Object.keys(own.devDependencies ?? {}),
    ...Object.keys(readJson(join(installed, 'package.json')).dependencies ?? {}),
  ]);
  names.delete('kube-delegated-auth');
  for (const name of names) linkFromRepo(project, name);
  const tsc = join(project, 'node_modules/typescript/bin/tsc');
  await allOrEveryError(
    builds.map(async (b) => {
      try {
        await execFileP(process.execPath, [tsc, '-p', `tsconfig.${b}.json`], { cwd: project });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`tsc -p tsconfig.${b}.json failed in the ${framework} project:\n${e.stdout}${e.stderr}`);
      }
    }),
  );
  return project;
}

/** A user's compiled server, spawned with plain `node` (no tsx, no NODE_OPTIONS), until it prints its URL. */
interface App {
  readonly port: number;
  output(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

const apps: ChildProcess[] = [];

async function startApp(project: string, build: Build, env: Record<string, string>): Promise<App> {
  const base = { ...process.env };
  for (const k of ['KUBECONFIG', 'CERT_DIR', 'TLS_CERT_FILE', 'TLS_PRIVATE_KEY_FILE', 'PORT', 'NODE_OPTIONS']) {
    delete base[k];
  }
  const app = await startListening(process.execPath, [join(`dist-${build}`, 'server.js')], {
    cwd: project,
    env: { ...base, ...env, PORT: '0' },
    name: `${project} (${build})`,
  });
  apps.push(app.child);
  return { port: app.port, output: app.output, stop: () => app.stop() };
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function getJson(
  url: string,
  tls: { readonly ca: string; readonly cert: string; readonly key: string },
  headers: Record<string, string>,
): Promise<Answer> {
  const agent = new Agent({ connect: { ...tls, servername: 'localhost' } });
  try {
    const res = await request(url, { dispatcher: agent, headers });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  } finally {
    await agent.close();
  }
}

describe('e2e: the packed tarball installed into Koa, Express, Fastify and node:http projects', function () {
  this.timeout(180_000);
  let work: string;
  let certs: string;
  const projects = new Map<Framework, string>();

  before(async function () {
    this.timeout(600_000);
    work = mkdtempSync(join(tmpdir(), 'kda-pack-install-'));
    const t0 = Date.now();
    await execFileP('npm', ['pack', '--pack-destination', work], { cwd: repoRoot, maxBuffer: 16 << 20 });
    const packed = readdirSync(work).filter((f) => f.endsWith('.tgz'));
    expect(packed, 'npm pack wrote one tarball').to.have.length(1);
    const tarball = join(work, 'kube-delegated-auth.tgz');
    cpSync(join(work, packed[0]!), tarball);
    const t1 = Date.now();
    const prepared = await allOrEveryError(frameworks.map((f) => prepareProject(work, tarball, f)));
    frameworks.forEach((f, i) => projects.set(f, prepared[i]!));
    process.stderr.write(`[pack-install] npm pack ${t1 - t0} ms, install + 8 tsc builds ${Date.now() - t1} ms\n`);

    // Dev certificates as a user makes them: the installed package's bin, found through its package.json.
    const installed = join(projects.get('node-http')!, 'node_modules', 'kube-delegated-auth');
    const { bin } = readJson(join(installed, 'package.json'));
    const binPath = typeof bin === 'string' ? bin : bin?.['kube-delegated-auth'];
    expect(binPath, 'the package declares the kube-delegated-auth bin').to.be.a('string');
    certs = join(work, 'certs');
    await execFileP(process.execPath, [join(installed, binPath!), 'certs', '--dir', certs], { cwd: work });
  });

  after(async () => {
    for (const child of apps) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('local mode (CA files, static policy), real mTLS', () => {
    // A front proxy whose certificate comes from a CA the server does not trust, claiming system:masters.
    let rogue: { readonly certPem: string; readonly keyPem: string };
    before(() => {
      const rogueCa = createCertificate({ commonName: 'rogue-front-proxy-ca', isCA: true });
      rogue = createCertificate({ commonName: 'front-proxy-client', issuer: rogueCa });
    });

    for (const framework of frameworks) {
      for (const build of builds) {
        it(`${framework} (${build} build): 200 for an allowed front-proxy user, 401 for an untrusted client certificate, 403 for a denied user`, async () => {
          const app = await startApp(projects.get(framework)!, build, { CERT_DIR: certs });
          const url = `https://localhost:${app.port}/apis/sample.example.com/v1/namespaces/default/widgets`;
          const ca = readFileSync(join(certs, 'serving-ca.crt'), 'utf8');
          const frontProxy = {
            ca,
            cert: readFileSync(join(certs, 'front-proxy-client.crt'), 'utf8'),
            key: readFileSync(join(certs, 'front-proxy-client.key'), 'utf8'),
          };

          const alice = await getJson(url, frontProxy, { 'x-remote-user': 'alice', 'x-remote-group': 'developers' });
          expect(alice, app.output()).to.deep.equal({
            status: 200,
            body: { framework, user: 'alice', groups: ['developers', 'system:authenticated'] },
          });

          const spoofed = await getJson(
            url,
            { ca, cert: rogue.certPem, key: rogue.keyPem },
            { 'x-remote-user': 'admin', 'x-remote-group': 'system:masters' },
          );
          expect(spoofed.status, JSON.stringify(spoofed.body)).to.equal(401);
          expect(spoofed.body).to.include({ kind: 'Status', reason: 'Unauthorized', code: 401 });

          const bob = await getJson(url, frontProxy, { 'x-remote-user': 'bob' });
          expect(bob.status, JSON.stringify(bob.body)).to.equal(403);
          expect(bob.body).to.include({ kind: 'Status', reason: 'Forbidden', code: 403 });
          expect(bob.body.message).to.match(/User "bob" cannot list resource "widgets"/);

          expect(await app.stop(), app.output()).to.equal(0);
        });
      }
    }
  });

  describe('cluster mode behind the real aggregator (nodenext build)', () => {
    for (const framework of frameworks) {
      it(`${framework}: kubectl get --raw through the aggregator answers an admin; a user RBAC does not allow gets 403 there and from the server's SubjectAccessReview`, async () => {
        const cp = getCluster();
        const group = `pack-${framework}.e2e.kube-delegated-auth.io`;
        const setup = await prepareExtensionServer(cp, { group, version: 'v1', serviceName: `pack-${framework}` });
        const app = await startApp(projects.get(framework)!, 'nodenext', {
          KUBECONFIG: setup.kubeconfigPath,
          TLS_CERT_FILE: setup.servingCertPath,
          TLS_PRIVATE_KEY_FILE: setup.servingKeyPath,
        });
        const registered = await setup.register(app.port);
        try {
          const path = `/apis/${group}/v1/namespaces/default/things`;
          const kubectl = (kubeconfig: string) => runKubectl(cp, ['get', '--raw', path], { kubeconfig });

          const allowed = await kubectl(cp.adminKubeconfigPath);
          expect(allowed.code, allowed.stderr).to.equal(0);
          const admin = JSON.parse(allowed.stdout) as { framework: string; user: string; groups: string[] };
          expect(admin.framework).to.equal(framework);
          expect(admin.groups).to.include('system:masters');

          const nobody = createIdentityKubeconfig(cp, { userName: `pack-${framework}-nobody` });
          const denied = await kubectl(nobody.kubeconfigPath);
          expect(denied.code, `kubectl as a user without RBAC: ${denied.stdout}`).to.equal(1);
          expect(denied.stderr).to.include('Error from server (Forbidden)');
          expect(denied.stderr).to.include(`User "pack-${framework}-nobody" cannot list resource "things"`);

          // kube-apiserver authorizes before it proxies, so that 403 may be its own. Our server's refusal: the same
          // user sent by the cluster's front proxy straight to it, authorized by its SubjectAccessReview.
          const direct = await getJson(
            `https://localhost:${app.port}${path}`,
            {
              ca: readFileSync(setup.servingCaPath, 'utf8'),
              cert: cp.pki.frontProxyClient.certPem,
              key: cp.pki.frontProxyClient.keyPem,
            },
            { 'x-remote-user': `pack-${framework}-nobody` },
          );
          expect(direct.status, JSON.stringify(direct.body)).to.equal(403);
          expect(direct.body).to.include({ kind: 'Status', reason: 'Forbidden', code: 403 });
          expect(direct.body.message).to.include(`User "pack-${framework}-nobody" cannot list resource "things"`);
        } finally {
          const code = await app.stop();
          await registered.unregister();
          expect(code, app.output()).to.equal(0);
        }
      });
    }
  });
});
