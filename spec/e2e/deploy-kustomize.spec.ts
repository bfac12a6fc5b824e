// deploy/ as operators apply it: `kubectl kustomize` of each overlay, then `kubectl apply --dry-run=server` of the
// output against the real kube-apiserver of the harness (server-side validation and admission, nothing persisted).
// cert-manager's CRDs are not installed here, so its two objects are checked by kind and the rest is dry-run.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { writeDevPki } from '../../lib/dev-pki/index.js';
import { runKubectl } from '../../harness/kubectl.js';
import { getCluster } from './support/cluster.js';

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
  readonly spec?: Record<string, unknown>;
}

/**
 * Runs the harness's kubectl (not whatever `kubectl` is on PATH) against the run's control plane, with that control
 * plane's own cache; never throws on a non-zero exit (the specs assert the code).
 */
async function kubectl(args: readonly string[], stdin?: string): Promise<Run> {
  const r = await runKubectl(getCluster(), args, stdin === undefined ? {} : { stdin });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

function parseAll(yaml: string): K8sObject[] {
  return YAML.parseAllDocuments(yaml)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const namespace: K8sObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-delegated-auth' } };

describe('e2e: deploy/ kustomize overlays pass kubectl apply --dry-run=server', function () {
  this.timeout(120_000);
  let dir: string;
  let servesPolicyV1 = true;

  before(async () => {
    // A copy of deploy/, so the generated certificates never land in the repository.
    dir = mkdtempSync(join(tmpdir(), 'kda-deploy-'));
    cpSync('deploy', join(dir, 'deploy'), { recursive: true });
    writeDevPki(join(dir, 'deploy/overlays/self-managed-ca/certs'));
    // A dry-run Namespace is not created, so the namespaced objects would be NotFound: create it for real, as
    // `kubectl apply -k` does when it applies the Namespace first.
    const ns = await kubectl(['apply', '-f', '-'], YAML.stringify(namespace));
    expect(ns.code, ns.err).to.equal(0);
    const versions = await kubectl(['api-versions']);
    expect(versions.code, versions.err).to.equal(0);
    servesPolicyV1 = versions.out.split('\n').includes('policy/v1');
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function build(path: string): Promise<{ yaml: string; objects: K8sObject[] }> {
    const r = await kubectl(['kustomize', join(dir, path)]);
    expect(r.code, `kubectl kustomize ${path}: ${r.err}`).to.equal(0);
    return { yaml: r.out, objects: parseAll(r.out) };
  }

  /**
   * The manifests target supported Kubernetes (policy/v1 PodDisruptionBudget, GA in 1.21, the only version from
   * 1.25). A harness kube-apiserver older than 1.21 (v1.20.2 on some machines) does not serve it: there the PDB is
   * dry-run as policy/v1beta1, whose schema for minAvailable + selector is the same, and a line says so.
   */
  function forServer(o: K8sObject): K8sObject {
    if (servesPolicyV1 || o.kind !== 'PodDisruptionBudget') return o;
    expect(o.apiVersion).to.equal('policy/v1');
    process.stderr.write('[deploy-kustomize] kube-apiserver < 1.21: PodDisruptionBudget dry-run as policy/v1beta1\n');
    return { ...o, apiVersion: 'policy/v1beta1' };
  }

  async function dryRun(objects: readonly K8sObject[]): Promise<Run> {
    const yaml = objects.map((o) => YAML.stringify(forServer(o))).join('---\n');
    return kubectl(['apply', '--dry-run=server', '-f', '-'], yaml);
  }

  function serverDryRunLines(run: Run): string[] {
    return run.out.split('\n').filter((l) => l.endsWith('(server dry run)'));
  }

  it('overlays/self-managed-ca: every object accepted; caBundle is the serving CA from the generated Secret', async () => {
    const { objects } = await build('deploy/overlays/self-managed-ca');
    const run = await dryRun(objects);
    expect(run.code, `${run.out}\n${run.err}`).to.equal(0);
    expect(serverDryRunLines(run)).to.have.length(objects.length);
    const apiService = objects.find((o) => o.kind === 'APIService')!;
    const ca = Buffer.from(String(apiService.spec!.caBundle), 'base64').toString();
    expect(ca).to.equal(readFileSync(join(dir, 'deploy/overlays/self-managed-ca/certs/serving-ca.crt'), 'utf8'));
    const secret = objects.find((o) => o.kind === 'Secret') as K8sObject & { type: string };
    expect(secret.metadata.name).to.equal('kube-delegated-auth-sample-serving');
    expect(secret.type).to.equal('kubernetes.io/tls');
  });

  it('overlays/cert-manager: only Certificate and Issuer are cert-manager kinds; everything else is accepted', async () => {
    const { objects } = await build('deploy/overlays/cert-manager');
    const certManager = objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/'));
    expect(certManager.map((o) => o.kind).sort()).to.deep.equal(['Certificate', 'Issuer']);
    const rest = objects.filter((o) => !o.apiVersion.startsWith('cert-manager.io/'));
    const run = await dryRun(rest);
    expect(run.code, `${run.out}\n${run.err}`).to.equal(0);
    expect(serverDryRunLines(run)).to.have.length(rest.length);
    const apiService = rest.find((o) => o.kind === 'APIService')!;
    expect(apiService.metadata.annotations).to.deep.equal({
      'cert-manager.io/inject-ca-from': 'kube-delegated-auth/kube-delegated-auth-sample-serving',
    });
    expect(apiService.spec).to.not.have.property('caBundle');
    const certificate = certManager.find((o) => o.kind === 'Certificate')!;
    expect(certificate.spec!.secretName).to.equal('kube-delegated-auth-sample-serving');
  });

  it('the base alone is refused: its caBundle placeholder fails server-side validation', async () => {
    const { objects } = await build('deploy/base');
    const run = await dryRun(objects.filter((o) => o.kind === 'APIService'));
    expect(run.code).to.not.equal(0);
    expect(run.err).to.match(/caBundle|illegal base64/i);
  });
});
