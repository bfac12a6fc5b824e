import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startControlPlane, type ControlPlane } from '../../../harness/control-plane.js';
import type { KubeClient } from '../../../harness/kube.js';
import {
  createIdentityKubeconfig,
  registerApiService,
  type RegisteredApiService,
} from '../../../harness/register-apiservice.js';
import { runDoctorCommand } from '../../../cli/doctor.js';
import type { DoctorCheck, DoctorReport } from '../../../lib/doctor/report.js';
import { createCertificate, generateKeyPair } from '../../../lib/dev-pki/index.js';
import { getCluster, getGoSampleApiserver } from '../support/cluster.js';

const cmPath = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
const day = 24 * 60 * 60 * 1000;

/** Runs the real command with `--output json`; returns the exit code, the parsed report and the text output. */
async function doctor(args: readonly string[]): Promise<{ code: number; report: DoctorReport; text: string }> {
  let json = '';
  const code = await runDoctorCommand([...args, '--output', 'json'], { stdout: (s) => (json += s), stderr: () => {} });
  let text = '';
  const again = await runDoctorCommand(args, { stdout: (s) => (text += s), stderr: () => {} });
  expect(again, 'text and json runs agree on the exit code').to.equal(code);
  return { code, report: JSON.parse(json) as DoctorReport, text };
}

function check(report: DoctorReport, id: string): DoctorCheck {
  const found = report.checks.find((c) => c.id === id);
  expect(found, `check ${id} in ${JSON.stringify(report.checks.map((c) => c.id))}`).to.not.equal(undefined);
  return found!;
}

function failures(report: DoctorReport): string[] {
  return report.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.message}`);
}

describe('doctor against the real kube-apiserver', function () {
  this.timeout(180_000);

  describe('shared control plane (read-only, or scratch objects it removes)', () => {
    let cp: ControlPlane;
    const cleanup: (() => Promise<unknown>)[] = [];
    before(() => {
      cp = getCluster();
    });
    after(async () => {
      for (const c of cleanup.reverse()) await c().catch(() => undefined);
    });

    it('passes on a healthy setup: admin identity, Go sample-apiserver APIService; exit 0, no fail', async () => {
      const sample = await getGoSampleApiserver();
      const { code, report, text } = await doctor([
        '--kubeconfig',
        cp.kubeconfigPath,
        '--group',
        sample.group,
        '--version',
        sample.version,
      ]);
      expect(failures(report)).to.deep.equal([]);
      expect(code).to.equal(0);
      expect(report.ok).to.equal(true);
      for (const id of [
        'connection',
        'rbac.configmap',
        'rbac.tokenreviews',
        'rbac.subjectaccessreviews',
        'configmap',
        'configmap.key.client-ca-file',
        'configmap.key.requestheader-client-ca-file',
        'configmap.key.requestheader-username-headers',
        'configmap.key.requestheader-group-headers',
        'configmap.key.requestheader-extra-headers-prefix',
        'configmap.key.requestheader-allowed-names',
        'ca.distinct',
        'apiservice',
        'apiservice.available',
        'apiservice.tls',
      ]) {
        expect(check(report, id).status, id).to.equal('pass');
      }
      expect(check(report, 'configmap.key.requestheader-allowed-names').message).to.include('front-proxy-client');
      expect(report.identity).to.equal('kube-delegated-auth-admin');
      expect(text).to.match(/^PASS {2}apiservice\.available: Available \(Passed/m);
      expect(text).to.not.match(/^FAIL/m);
    });

    it("passes as an extension server's own identity (auth-delegator + authentication-reader bindings)", async () => {
      const sample = await getGoSampleApiserver();
      const { code, report } = await doctor(['--kubeconfig', sample.kubeconfigPath]);
      expect(failures(report)).to.deep.equal([]);
      expect(code).to.equal(0);
      expect(report.identity).to.equal(sample.userName);
    });

    it('RoleBinding missing: auth-delegator only → rbac.configmap and configmap fail with the rolebinding fix; exit 1', async () => {
      const user = 'kda-doctor-no-reader';
      const crb = `${user}:system:auth-delegator`;
      await cp.admin.apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: crb },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
        subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
      });
      cleanup.push(() => cp.admin.delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${crb}`));
      const id = createIdentityKubeconfig(cp, { userName: user });
      const { code, report, text } = await doctor(['--kubeconfig', id.kubeconfigPath]);
      expect(code).to.equal(1);
      const fix = `kubectl create rolebinding -n kube-system extension-apiserver-authentication-reader --role=extension-apiserver-authentication-reader --user=${user}`;
      expect(check(report, 'rbac.configmap')).to.deep.include({ status: 'fail', fix });
      expect(check(report, 'rbac.configmap').message).to.include('may not get, list, watch');
      expect(check(report, 'configmap')).to.deep.include({ status: 'fail', fix });
      expect(check(report, 'rbac.tokenreviews').status).to.equal('pass');
      expect(check(report, 'rbac.subjectaccessreviews').status).to.equal('pass');
      expect(text).to.include(`      fix: ${fix}`);
    });

    it('no RBAC at all: TokenReviews and SubjectAccessReviews fail with the system:auth-delegator fix', async () => {
      const user = 'kda-doctor-nobody';
      const id = createIdentityKubeconfig(cp, { userName: user });
      const { code, report } = await doctor(['--kubeconfig', id.kubeconfigPath]);
      expect(code).to.equal(1);
      const fix = `kubectl create clusterrolebinding ${user}:system:auth-delegator --clusterrole=system:auth-delegator --user=${user}`;
      expect(check(report, 'rbac.tokenreviews')).to.deep.include({ status: 'fail', fix });
      expect(check(report, 'rbac.subjectaccessreviews')).to.deep.include({ status: 'fail', fix });
      expect(check(report, 'rbac.configmap').status).to.equal('fail');
    });

    describe('edited copies of the ConfigMap in a scratch namespace (the real one stays untouched)', () => {
      const ns = 'kda-doctor-e2e';
      let kube: KubeClient;
      let real: Record<string, string>;
      before(async () => {
        kube = cp.admin;
        await kube.ensureNamespace(ns);
        real = (await kube.get<{ data: Record<string, string> }>(cmPath)).data;
      });

      async function copy(name: string, data: Record<string, string>): Promise<void> {
        await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data });
        cleanup.push(() => kube.delete(`/api/v1/namespaces/${ns}/configmaps/${name}`));
      }

      it('ConfigMap key missing (requestheader-client-ca-file removed): fail with the kube-apiserver flag fix', async () => {
        const data = { ...real };
        delete data['requestheader-client-ca-file'];
        await copy('missing-key', data);
        const { code, report } = await doctor(['--kubeconfig', cp.kubeconfigPath, '--configmap', `${ns}/missing-key`]);
        expect(code).to.equal(1);
        const c = check(report, 'configmap.key.requestheader-client-ca-file');
        expect(c.status).to.equal('fail');
        expect(c.message).to.equal('key requestheader-client-ca-file is missing');
        expect(c.fix).to.match(/^add --requestheader-client-ca-file=\S+ to kube-apiserver's flags/);
        expect(check(report, 'configmap.key.client-ca-file').status).to.equal('pass');
        // Nothing to compare against: the CA-reuse check does not run, and no other check fails.
        expect(report.checks.some((x) => x.id === 'ca.distinct')).to.equal(false);
        expect(failures(report)).to.have.length(1);
      });

      it('empty requestheader-allowed-names: warn (any CN of the front-proxy CA may assert users)', async () => {
        await copy('any-cn', { ...real, 'requestheader-allowed-names': '[]' });
        const { code, report } = await doctor(['--kubeconfig', cp.kubeconfigPath, '--configmap', `${ns}/any-cn`]);
        expect(code, 'a warning alone does not fail the run').to.equal(0);
        const c = check(report, 'configmap.key.requestheader-allowed-names');
        expect(c.status).to.equal('warn');
        expect(c.fix).to.match(/^add --requestheader-allowed-names=front-proxy-client /);
      });

      it('ConfigMap that does not exist: fail', async () => {
        const { code, report } = await doctor(['--kubeconfig', cp.kubeconfigPath, '--configmap', `${ns}/nothing-here`]);
        expect(code).to.equal(1);
        expect(check(report, 'configmap')).to.deep.include({
          status: 'fail',
          message: `${ns}/nothing-here does not exist`,
        });
      });

      it('CA expiry: an expired requestheader CA fails, a client CA expiring in 10 days warns', async () => {
        const now = Date.now();
        const keyPair = generateKeyPair();
        const expired = createCertificate({
          commonName: 'kda-doctor-expired-ca',
          isCA: true,
          keyPair,
          notBefore: new Date(now - 400 * day),
          notAfter: new Date(now - day),
        });
        const soon = createCertificate({
          commonName: 'kda-doctor-soon-ca',
          isCA: true,
          keyPair,
          notBefore: new Date(now - day),
          notAfter: new Date(now + 10 * day + 3_600_000),
        });
        await copy('expiry', {
          ...real,
          'client-ca-file': soon.certPem,
          'requestheader-client-ca-file': expired.certPem,
        });
        const { code, report } = await doctor(['--kubeconfig', cp.kubeconfigPath, '--configmap', `${ns}/expiry`]);
        expect(code).to.equal(1);
        const fail = check(report, 'ca.expiry.requestheader-client-ca-file');
        expect(fail.status).to.equal('fail');
        expect(fail.message).to.match(/^"kda-doctor-expired-ca" in requestheader-client-ca-file expired on /);
        const warn = check(report, 'ca.expiry.client-ca-file');
        expect(warn.status).to.equal('warn');
        expect(warn.message).to.match(/^"kda-doctor-soon-ca" in client-ca-file expires in 10 days/);
      });
    });
  });

  describe('dedicated control plane: --requestheader-client-ca-file = the cluster CA', () => {
    let cp: ControlPlane;
    let registration: RegisteredApiService | undefined;
    const group = 'doctor-dead.example.com';
    before(async function () {
      this.timeout(240_000);
      const dir = mkdtempSync(join(process.env.KDA_TMP_DIR ?? tmpdir(), 'kda-cp-doctor-'));
      cp = await startControlPlane({
        dir,
        extraApiServerFlags: [`--requestheader-client-ca-file=${join(dir, 'pki', 'ca.crt')}`],
      });
      // An APIService whose Service points at a port nobody listens on (1, tcpmux: not a port probed free, which
      // another run's server may take meanwhile), TLS verification off.
      registration = await registerApiService(cp.admin, {
        group,
        version: 'v1',
        port: 1,
        insecureSkipTLSVerify: true,
      });
      await cp.admin.waitFor<{ status?: { conditions?: { type: string; status: string; reason?: string }[] } }>(
        `/apis/apiregistration.k8s.io/v1/apiservices/v1.${group}`,
        (o) => o.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'False' && !!c.reason) ?? false,
        { timeoutMs: 60_000, what: 'the dead APIService to be marked unavailable' },
      );
    });
    after(async function () {
      this.timeout(60_000);
      await registration?.unregister().catch(() => undefined);
      await cp?.stop();
    });

    it('same CA for client and requestheader: ca.distinct fails with the front-proxy CA fix; exit 1', async () => {
      const { code, report, text } = await doctor(['--kubeconfig', cp.kubeconfigPath]);
      expect(code).to.equal(1);
      const c = check(report, 'ca.distinct');
      expect(c.status).to.equal('fail');
      expect(c.message).to.include('"kube-delegated-auth-cluster-ca"');
      expect(c.fix).to.match(/^kubeadm init phase certs front-proxy-ca/);
      expect(text).to.match(/^FAIL {2}ca\.distinct: requestheader CA and client CA share/m);
      expect(failures(report)).to.have.length(1);
    });

    it('APIService pointing at a dead port: not Available, with the condition reason and message; exit 1', async () => {
      const { code, report, text } = await doctor([
        '--kubeconfig',
        cp.kubeconfigPath,
        '--group',
        group,
        '--version',
        'v1',
      ]);
      expect(code).to.equal(1);
      expect(check(report, 'apiservice').status).to.equal('pass');
      const c = check(report, 'apiservice.available');
      expect(c.status).to.equal('fail');
      expect(c.message).to.match(/^not Available: FailedDiscoveryCheck: failing or missing response from https:/);
      expect(c.fix).to.include(`kubectl get --raw /apis/${group}/v1`);
      expect(text).to.match(/^FAIL {2}apiservice\.available: not Available: FailedDiscoveryCheck/m);
    });

    it('APIService with insecureSkipTLSVerify: warn with the caBundle patch', async () => {
      const { report } = await doctor(['--kubeconfig', cp.kubeconfigPath, '--group', group, '--version', 'v1']);
      const c = check(report, 'apiservice.tls');
      expect(c.status).to.equal('warn');
      expect(c.fix).to.match(new RegExp(`^kubectl patch apiservice v1\\.${group.replace(/\./g, '\\.')} --type=merge`));
    });

    it('APIService that does not exist: fail', async () => {
      const { report } = await doctor([
        '--kubeconfig',
        cp.kubeconfigPath,
        '--group',
        'nope.example.com',
        '--version',
        'v9',
      ]);
      expect(check(report, 'apiservice')).to.deep.include({
        status: 'fail',
        message: 'APIService v9.nope.example.com does not exist',
      });
    });
  });
});
