import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  auditMark,
  readAuditEvents,
  waitForAuditEvents,
  waitForReviews,
  type AuditEvent,
} from '../../harness/audit-log.js';
import { adminUserName, rotateFrontProxyCa } from '../../harness/cluster-pki.js';
import { kubernetesRelease, startControlPlane } from '../../harness/control-plane.js';
import { KubeApiError, KubeClient, type ConfigMapObject } from '../../harness/kube.js';
import { kubectlOk, runKubectl, spawnKubectl } from '../../harness/kubectl.js';
import {
  createIdentityKubeconfig,
  prepareExtensionServer,
  type RegisteredApiService,
} from '../../harness/register-apiservice.js';
import { waitFor } from '../support/wait-for.js';
import { getCluster, getGoSampleApiserver } from './support/cluster.js';

// node-forge writes CRLF PEM; kube-apiserver stores LF.
const pem = (s: string) => s.replace(/\r\n/g, '\n').trim();

interface SarStatus {
  status: { allowed: boolean; denied?: boolean; reason?: string };
}

function sar(user: string, groups: readonly string[], verb = 'list', resource = 'pods') {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user, groups, resourceAttributes: { namespace: 'default', verb, resource } },
  };
}

describe('harness: real control plane', () => {
  describe('kube-apiserver', () => {
    it(`is ready and reports v${kubernetesRelease().version} (the release KDA_KUBERNETES_VERSION selects)`, async () => {
      const kube = getCluster().admin;
      const ready = await kube.request('GET', '/readyz');
      expect(ready.status).to.equal(200);
      expect(ready.text).to.equal('ok');
      const version = await kube.get<{ gitVersion: string }>('/version');
      expect(version.gitVersion).to.equal(`v${kubernetesRelease().version}`);
      expect(getCluster().kubernetesVersion.gitVersion).to.equal(version.gitVersion);
    });

    it('rejects a client without a certificate as system:anonymous (RBAC, not AlwaysAllow)', async () => {
      const cp = getCluster();
      const anon = new KubeClient({ server: cp.apiServerUrl, caPem: cp.pki.ca.certPem });
      after(() => anon.close());
      const res = await anon.request<{ message: string }>('GET', '/api/v1/namespaces/kube-system/secrets');
      expect(res.status).to.equal(403);
      expect(res.body.message).to.contain('system:anonymous');
    });
  });

  describe('kube-system/extension-apiserver-authentication', () => {
    const cases: readonly { name: string; key: string; expect: (v: string) => void }[] = [
      {
        name: 'client-ca-file is the cluster CA',
        key: 'client-ca-file',
        expect: (v) => expect(v).to.contain(pem(getCluster().pki.ca.certPem)),
      },
      {
        name: 'requestheader-client-ca-file is the front-proxy CA, not the cluster CA',
        key: 'requestheader-client-ca-file',
        expect: (v) => {
          expect(v).to.contain(pem(getCluster().pki.frontProxyCa.certPem));
          expect(v).not.to.contain(pem(getCluster().pki.ca.certPem));
        },
      },
      {
        name: 'requestheader-allowed-names',
        key: 'requestheader-allowed-names',
        expect: (v) => expect(JSON.parse(v)).to.deep.equal(['front-proxy-client']),
      },
      {
        name: 'requestheader-username-headers',
        key: 'requestheader-username-headers',
        expect: (v) => expect(JSON.parse(v)).to.deep.equal(['X-Remote-User']),
      },
      {
        name: 'requestheader-group-headers',
        key: 'requestheader-group-headers',
        expect: (v) => expect(JSON.parse(v)).to.deep.equal(['X-Remote-Group']),
      },
      {
        name: 'requestheader-extra-headers-prefix',
        key: 'requestheader-extra-headers-prefix',
        expect: (v) => expect(JSON.parse(v)).to.deep.equal(['X-Remote-Extra-']),
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const cm = await getCluster().admin.get<{ data: Record<string, string> }>(
          '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
        );
        expect(cm.data).to.have.property(c.key);
        c.expect(cm.data[c.key]!);
      });
    }
  });

  describe('SubjectAccessReview and the audit log', () => {
    const cases: readonly { name: string; groups: readonly string[]; expectAllowed: boolean }[] = [
      { name: 'system:masters member is allowed', groups: ['system:masters'], expectAllowed: true },
      { name: 'user without bindings is denied', groups: ['system:authenticated'], expectAllowed: false },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const cp = getCluster();
        const user = `${c.expectAllowed ? adminUserName : 'nobody'}-${randomUUID().slice(0, 8)}`;
        const mark = auditMark(cp.auditLogPath);
        const res = await cp.admin.create<SarStatus>(
          '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          sar(user, c.groups),
        );
        expect(res.status.allowed).to.equal(c.expectAllowed);

        const mine = await waitForReviews(cp.auditLogPath, 'SubjectAccessReview', {
          after: mark,
          user: adminUserName,
          match: (r) => (r.request.spec as { user?: string }).user === user,
        });
        expect(mine).to.have.length(1);
        expect(mine[0]!.request.spec).to.deep.include({ user, groups: c.groups });
        expect((mine[0]!.response!.status as { allowed: boolean }).allowed).to.equal(c.expectAllowed);
        expect(mine[0]!.code).to.equal(201);
      });
    }

    it('audit mark hides earlier events and shows later ones', async () => {
      const cp = getCluster();
      const before = `before-mark-${randomUUID().slice(0, 8)}`;
      const later = `after-mark-${randomUUID().slice(0, 8)}`;
      const users = (q: Parameters<typeof readAuditEvents>[1]) =>
        readAuditEvents(cp.auditLogPath, { ...q, resources: ['subjectaccessreviews'] }).map(
          (e) => (e.requestObject?.spec as { user?: string } | undefined)?.user,
        );
      await cp.admin.create('/apis/authorization.k8s.io/v1/subjectaccessreviews', sar(before, []));
      const sarFor = (u: string) => (e: AuditEvent) =>
        (e.requestObject?.spec as { user?: string } | undefined)?.user === u;
      await waitForAuditEvents(cp.auditLogPath, sarFor(before), { what: 'the first SAR' });
      const mark = auditMark(cp.auditLogPath);
      await cp.admin.create('/apis/authorization.k8s.io/v1/subjectaccessreviews', sar(later, []));
      await waitForAuditEvents(cp.auditLogPath, sarFor(later), { after: mark, what: 'the second SAR' });
      expect(users({ after: mark })).not.to.include(before);
    });
  });

  describe('tokens', () => {
    it('a service-account token from the TokenRequest API passes a TokenReview (audited)', async () => {
      const cp = getCluster();
      const token = await cp.admin.createServiceAccountToken('kda-harness', 'tester', { audiences: ['kda-test'] });
      const mark = auditMark(cp.auditLogPath);
      const tr = await cp.admin.create<{
        status: { authenticated?: boolean; user?: { username: string }; audiences?: string[] };
      }>('/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences: ['kda-test'] },
      });
      expect(tr.status.authenticated).to.equal(true);
      expect(tr.status.user?.username).to.equal('system:serviceaccount:kda-harness:tester');
      const audited = await waitForReviews(cp.auditLogPath, 'TokenReview', {
        after: mark,
        user: adminUserName,
        match: (r) => (r.request.spec as { token?: string }).token === token,
      });
      expect(audited).to.have.length(1);
    });

    it('a token kubeconfig authenticates as the service account', async () => {
      const cp = getCluster();
      const token = await cp.admin.createServiceAccountToken('kda-harness', 'kubeconfig-user');
      const kc = createIdentityKubeconfig(cp, { userName: 'sa', token, fileName: 'sa-token' });
      const kube = KubeClient.fromKubeconfig(kc.kubeconfigPath);
      after(() => kube.close());
      const res = await kube.request<{ message: string }>('GET', '/api/v1/namespaces/kube-system/secrets');
      expect(res.status).to.equal(403);
      expect(res.body.message).to.contain('system:serviceaccount:kda-harness:kubeconfig-user');
    });

    it('a made-up token fails the TokenReview', async () => {
      const tr = await getCluster().admin.create<{ status: { authenticated?: boolean } }>(
        '/apis/authentication.k8s.io/v1/tokenreviews',
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'not-a-token' } },
      );
      expect(tr.status.authenticated ?? false).to.equal(false);
    });
  });

  describe('kube.ts', () => {
    it('impersonation: the impersonated user is authorized, not the admin', async () => {
      const alice = getCluster().admin.impersonating({ user: 'alice', groups: ['developers'] });
      const err = await alice.get('/api/v1/namespaces/default/secrets').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KubeApiError);
      expect((err as KubeApiError).status).to.equal(403);
      expect((err as KubeApiError).message).to.contain('User \\"alice\\"');
    });

    it('modify() re-reads and retries when another writer wins the race (a real 409 from kube-apiserver)', async () => {
      const kube = getCluster().admin;
      await kube.ensureNamespace('kda-harness');
      const path = '/api/v1/namespaces/kda-harness/configmaps/modify-test';
      await kube.delete(path);
      await kube.create('/api/v1/namespaces/kda-harness/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'modify-test', namespace: 'kda-harness' },
        data: { other: '0' },
      });
      let calls = 0;
      const stored = await kube.modify<ConfigMapObject>(path, async (cm) => {
        calls++;
        // The first time, another writer changes the object after we read it: our PUT carries a stale
        // resourceVersion and kube-apiserver answers 409.
        if (calls === 1) await kube.patch(path, { data: { other: 'theirs' } });
        cm.data.mine = 'ours';
      });
      expect(calls).to.equal(2);
      expect(stored.data).to.deep.equal({ other: 'theirs', mine: 'ours' });
      expect((await kube.get<ConfigMapObject>(path)).data).to.deep.equal({ other: 'theirs', mine: 'ours' });
      await kube.delete(path);
    });

    it('apply creates then updates; delete reports whether the object existed', async () => {
      const kube = getCluster().admin;
      await kube.ensureNamespace('kda-harness');
      const cm = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'apply-test', namespace: 'kda-harness' },
        data: { a: '1' },
      };
      await kube.apply(cm);
      const updated = await kube.apply({ ...cm, data: { a: '2' } });
      expect(updated.data).to.deep.equal({ a: '2' });
      expect(await kube.deleteObject(cm)).to.equal(true);
      expect(await kube.deleteObject(cm)).to.equal(false);
    });

    it('ensureNamespace() and apply() refuse a namespace that is being deleted, naming it (no namespace controller would ever finish it)', async () => {
      const kube = getCluster().admin;
      const name = `kda-terminating-${randomUUID().slice(0, 8)}`;
      await kube.ensureNamespace(name);
      await kube.ensureNamespace(name); // exists and active: nothing to do
      expect(await kube.delete(`/api/v1/namespaces/${name}`)).to.equal(true);
      const ns = await kube.get<{ status?: { phase?: string } }>(`/api/v1/namespaces/${name}`);
      expect(ns.status?.phase, 'without kube-controller-manager the namespace stays').to.equal('Terminating');
      const err = await kube.ensureNamespace(name).catch((e: unknown) => e as Error);
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.equal(
        `namespace ${name} is being deleted (Terminating); a namespace without a namespace controller never goes away: use another name, or do not delete it`,
      );
      // apply() will not update an object whose deletion is pending either (it would still go once finalized).
      const applied = await kube
        .apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { again: 'yes' } } })
        .catch((e: unknown) => e as Error);
      expect(applied).to.be.instanceOf(Error);
      expect((applied as Error).message).to.equal(
        `Namespace /api/v1/namespaces/${name} is being deleted (finalizers ["kubernetes"]); apply() will not update it: use another name`,
      );
    });

    it('apply() of a binding returns only once kube-apiserver authorizes every subject (no RBAC cache race)', async () => {
      const cp = getCluster();
      const stamp = randomUUID().slice(0, 8);
      await cp.admin.ensureNamespace('kda-harness');
      await cp.admin.apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: `rbac-wait-${stamp}`, namespace: 'kda-harness' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['only-this'], verbs: ['get'] }],
      });
      await cp.admin.apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: `rbac-wait-${stamp}`, namespace: 'kda-harness' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `rbac-wait-${stamp}` },
        subjects: [
          { kind: 'User', name: `u-${stamp}`, apiGroup: 'rbac.authorization.k8s.io' },
          { kind: 'Group', name: `g-${stamp}`, apiGroup: 'rbac.authorization.k8s.io' },
          { kind: 'ServiceAccount', name: `sa-${stamp}`, namespace: 'kda-harness' },
        ],
      });
      // Asked once each, right after apply() returned: no retry here, so a lagging cache would fail this.
      const ask = async (user: string, groups: string[], name: string) =>
        (
          await cp.admin.create<SarStatus>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user,
              groups,
              resourceAttributes: { namespace: 'kda-harness', verb: 'get', resource: 'configmaps', name },
            },
          })
        ).status.allowed;
      expect(await ask(`u-${stamp}`, [], 'only-this')).to.equal(true);
      expect(await ask('someone', [`g-${stamp}`], 'only-this')).to.equal(true);
      expect(await ask(`system:serviceaccount:kda-harness:sa-${stamp}`, [], 'only-this')).to.equal(true);
      // And the binding grants no more than the rule: another name, or another user, is still denied.
      expect(await ask(`u-${stamp}`, [], 'another')).to.equal(false);
      expect(await ask(`u2-${stamp}`, [], 'only-this')).to.equal(false);
    });
  });

  describe('Go sample-apiserver behind an APIService', () => {
    before(async function () {
      this.timeout(180_000);
      await getGoSampleApiserver();
    });

    it('kubectl get --raw /apis/wardle.example.com/v1alpha1 goes through kube-apiserver', async () => {
      const stdout = await kubectlOk(getCluster(), ['get', '--raw', '/apis/wardle.example.com/v1alpha1']);
      const list = JSON.parse(stdout) as { groupVersion: string; resources: { name: string }[] };
      expect(list.groupVersion).to.equal('wardle.example.com/v1alpha1');
      expect(list.resources.map((r) => r.name)).to.include.members(['flunders', 'fischers']);
    });

    it('a proxied request as a bound user makes the sample-apiserver send a SubjectAccessReview for that user', async () => {
      const cp = getCluster();
      const sample = await getGoSampleApiserver();
      const user = `wardle-user-${randomUUID().slice(0, 8)}`;
      await cp.admin.apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `kda-harness-${user}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
      });
      const mark = auditMark(cp.auditLogPath);
      const res = await cp.admin.request('GET', '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders', {
        impersonate: { user, groups: ['wardle-testers'] },
      });
      expect(res.status, res.text).to.equal(200);
      // The sample reviews other callers too (the aggregator's discovery and OpenAPI polls): wait for this user's.
      const audited = await waitForReviews(cp.auditLogPath, 'SubjectAccessReview', {
        after: mark,
        user: sample.userName,
        match: (r) => (r.request.spec as { user?: string }).user === user,
      });
      const spec = audited.map(
        (r) => r.request.spec as { user: string; groups: string[]; resourceAttributes?: object },
      );
      const mine = spec.find((s) => s.user === user);
      expect(mine, JSON.stringify(spec)).to.not.equal(undefined);
      expect(mine!.groups).to.include('wardle-testers');
      expect(mine!.resourceAttributes).to.deep.include({
        group: 'wardle.example.com',
        resource: 'flunders',
        verb: 'list',
        namespace: 'default',
      });
    });

    describe('kubectl (v1.37, harness-built) through the aggregator', () => {
      const kubectl = (...args: string[]) => kubectlOk(getCluster(), args);

      it('kubectl api-resources lists the sample group (aggregated discovery on 1.37, legacy discovery on 1.20)', async () => {
        const out = await kubectl('api-resources', '--api-group=wardle.example.com', '-o', 'name');
        expect(out.split('\n').filter(Boolean).sort()).to.deep.equal([
          'fischers.wardle.example.com',
          'flunders.wardle.example.com',
        ]);
      });

      it('kubectl create/get flunders round-trips through kube-apiserver to the sample and its etcd', async () => {
        const name = `f-${randomUUID().slice(0, 8)}`;
        const manifest = JSON.stringify({
          apiVersion: 'wardle.example.com/v1alpha1',
          kind: 'Flunder',
          metadata: { name, namespace: 'default' },
        });
        const file = join(getCluster().dir, `${name}.json`);
        writeFileSync(file, manifest);
        await kubectl('create', '-f', file);
        const got = JSON.parse(
          await kubectl('get', 'flunders.wardle.example.com', name, '-n', 'default', '-o', 'json'),
        );
        expect(got).to.deep.include({ apiVersion: 'wardle.example.com/v1alpha1', kind: 'Flunder' });
        expect(got.metadata.name).to.equal(name);
        const missing = await runKubectl(getCluster(), ['get', 'flunders', 'no-such-flunder', '-n', 'default']);
        expect(missing.code).to.equal(1);
        expect(missing.stderr).to.contain('"no-such-flunder" not found');
      });

      it('kubectl explain flunders reads the schema the aggregator merged from the sample (OpenAPI v3, or v2 on 1.20)', async () => {
        // The aggregator merges the sample's OpenAPI asynchronously (v2: a controller polls it after the APIService is
        // Available): wait until kube-apiserver publishes the Flunder schema that kubectl explain reads.
        const cp = getCluster();
        const v3 = cp.kubernetesVersion.minor >= 27;
        await cp.admin.waitFor<unknown>(
          v3 ? '/openapi/v3/apis/wardle.example.com/v1alpha1' : '/openapi/v2',
          (doc) => JSON.stringify(doc).includes('wardle.v1alpha1.Flunder'),
          { timeoutMs: 60_000, intervalMs: 500, what: 'the Flunder schema in the aggregated OpenAPI document' },
        );
        const out = await kubectl('explain', 'flunders.wardle.example.com');
        expect(out).to.match(/^KIND:\s+Flunder$/m);
        if (v3) {
          // OpenAPI v3 (GA in 1.27): kubectl's v3 template names group and version apart.
          expect(out).to.match(/^GROUP:\s+wardle\.example\.com$/m);
          expect(out).to.match(/^VERSION:\s+v1alpha1$/m);
        } else {
          // No /openapi/v3 on 1.20: kubectl falls back to the OpenAPI v2 document and its template.
          expect(out).to.match(/^VERSION:\s+wardle\.example\.com\/v1alpha1$/m);
        }
        expect(out).to.match(/^FIELDS:$/m);
        expect(out).to.match(/^\s+spec\s/m);
      });

      it('kubectl get -w streams a flunder created after the initial list', async () => {
        const cp = getCluster();
        const flunders = '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders';
        const create = (name: string) =>
          cp.admin.create(flunders, { apiVersion: 'wardle.example.com/v1alpha1', kind: 'Flunder', metadata: { name } });
        const before = `wb-${randomUUID().slice(0, 8)}`;
        const later = `wl-${randomUUID().slice(0, 8)}`;
        await create(before);
        const args = ['get', 'flunders', '-n', 'default', '-w', '-o', 'name'];
        const child = spawnKubectl(cp, args);
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        // Checked on each chunk kubectl writes and when it exits (an exit before the line fails at once).
        const seen = (name: string) =>
          waitFor(
            () => {
              if (line(name).test(out)) return true;
              if (child.exitCode !== null) throw new Error(`kubectl exited with ${child.exitCode}: ${err}`);
              return false;
            },
            {
              what: `kubectl get -w to print flunder ${name}`,
              timeoutMs: 30_000,
              intervalMs: 1_000,
              detail: () => `stdout: ${out}\nstderr: ${err}`,
              wakeOn: (wake) => {
                child.stdout.on('data', wake);
                child.on('exit', wake);
                return () => {
                  child.stdout.off('data', wake);
                  child.off('exit', wake);
                };
              },
            },
          );
        const line = (name: string) => new RegExp(`^flunder\\.wardle\\.example\\.com/${name}$`, 'm');
        try {
          // The initial list shows the earlier flunder; the watch then starts at that list's resourceVersion, so
          // anything created from here on arrives as a watch event.
          await seen(before);
          await create(later);
          await seen(later);
          expect(child.exitCode, 'the watch is still open').to.equal(null);
        } finally {
          child.kill('SIGTERM');
        }
      });
    });
  });

  describe('prepareExtensionServer: a host-run Node server behind an APIService (real aggregator)', () => {
    interface Seen {
      peerCN: string | string[] | undefined;
      remoteUser: string | undefined;
      remoteGroups: string[];
      remoteExtra: Record<string, string[]>;
    }
    const seen: Seen[] = [];
    let server: https.Server | undefined;
    let registration: RegisteredApiService | undefined;

    before(async function () {
      this.timeout(120_000);
      const cp = getCluster();
      const setup = await prepareExtensionServer(cp, { group: 'harness.kda.example.com', version: 'v1' });
      server = https.createServer(
        {
          cert: setup.servingPki.serving.certPem,
          key: setup.servingPki.serving.keyPem,
          ca: cp.pki.frontProxyCa.certPem,
          requestCert: true,
          rejectUnauthorized: true,
        },
        (req, res) => {
          const peer = (req.socket as TLSSocket).getPeerCertificate();
          const distinct = req.headersDistinct;
          const remoteExtra: Record<string, string[]> = {};
          for (const [k, v] of Object.entries(distinct)) {
            if (k.startsWith('x-remote-extra-') && v) remoteExtra[k.slice('x-remote-extra-'.length)] = v;
          }
          if (req.url?.startsWith('/apis/harness.kda.example.com/v1/namespaces')) {
            seen.push({
              peerCN: peer.subject?.CN,
              remoteUser: distinct['x-remote-user']?.[0],
              remoteGroups: distinct['x-remote-group'] ?? [],
              remoteExtra,
            });
          }
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              kind: 'APIResourceList',
              apiVersion: 'v1',
              groupVersion: 'harness.kda.example.com/v1',
              resources: [],
            }),
          );
        },
      );
      await new Promise<void>((resolveP) => server!.listen(0, '127.0.0.1', resolveP));
      registration = await setup.register((server.address() as AddressInfo).port);
    });
    after(async () => {
      await registration?.unregister();
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
    });

    it('receives the impersonated identity as X-Remote-* over mTLS with the front-proxy client certificate', async () => {
      const cp = getCluster();
      await cp.admin.apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'kda-harness-ext-alice' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'User', name: 'ext-alice', apiGroup: 'rbac.authorization.k8s.io' }],
      });
      const res = await cp.admin.request('GET', '/apis/harness.kda.example.com/v1/namespaces/default/things', {
        impersonate: { user: 'ext-alice', groups: ['devs', 'ops'], extra: { scopes: ['a', 'b'] } },
      });
      expect(res.status, res.text).to.equal(200);
      expect(seen).to.have.length(1);
      expect(seen[0]).to.deep.equal({
        peerCN: 'front-proxy-client',
        remoteUser: 'ext-alice',
        remoteGroups: ['devs', 'ops', 'system:authenticated'],
        remoteExtra: { scopes: ['a', 'b'] },
      });
    });
  });

  describe('restartApiServer', () => {
    it('a rotated front-proxy CA is added to requestheader-client-ca-file; restoring keeps it ready', async function () {
      this.timeout(180_000);
      const cp = getCluster();
      const rotated = rotateFrontProxyCa(cp.pki, 'rotation-test');
      await cp.restartApiServer({
        frontProxyCaCert: rotated.frontProxyCaCert,
        proxyClientCert: rotated.frontProxyClientCert,
        proxyClientKey: rotated.frontProxyClientKey,
      });
      expect(cp.apiServerArgs()).to.include(`--requestheader-client-ca-file=${rotated.frontProxyCaCert}`);
      await cp.admin.waitFor<{ data: Record<string, string> }>(
        '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
        (cm) => cm.data['requestheader-client-ca-file']?.includes(pem(rotated.frontProxyCa.certPem)) ?? false,
        { timeoutMs: 30_000 },
      );
      await cp.restartApiServer({
        frontProxyCaCert: cp.pkiPaths.frontProxyCaCert,
        proxyClientCert: cp.pkiPaths.frontProxyClientCert,
        proxyClientKey: cp.pkiPaths.frontProxyClientKey,
      });
      expect((await cp.admin.request('GET', '/readyz')).status).to.equal(200);

      // kube-apiserver merges bundles (old CAs stay until they expire); put the original back for later specs.
      const path = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
      await cp.admin.modify<ConfigMapObject>(path, (cm) => {
        cm.data['requestheader-client-ca-file'] = cp.pki.frontProxyCa.certPem;
      });
      const restored = await cp.admin.get<{ data: Record<string, string> }>(path);
      expect(restored.data['requestheader-client-ca-file']).not.to.contain(pem(rotated.frontProxyCa.certPem));
    });
  });

  describe('startControlPlane', () => {
    it('fails loudly, naming the install script, when binaries are missing', async () => {
      const err = await startControlPlane({ binDir: '/nonexistent-kda-bin' }).catch((e: unknown) => e as Error);
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message)
        .to.contain('etcd, kube-apiserver')
        .and.to.contain('install.sh');
    });
  });
});
