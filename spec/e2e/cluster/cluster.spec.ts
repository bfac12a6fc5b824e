// lib/cluster against the REAL kube-apiserver of the e2e run: ConfigMap trust, watch, TokenReview, SAR, RBAC messages.
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { expect } from 'chai';
import { cachedTokenAuthenticator } from '../../../lib/authn/token-cache.js';
import { TokenReviewAuthenticator } from '../../../lib/authn/token-review.js';
import { ExtensionApiserverAuthentication } from '../../../lib/cluster/extension-apiserver-authentication.js';
import { loadConnectionConfig } from '../../../lib/cluster/kubeconfig.js';
import { RestClient } from '../../../lib/cluster/rest-client.js';
import { subjectAccessReviewClient, tokenReviewClient } from '../../../lib/cluster/review-clients.js';
import type { SubjectAccessReviewSpec } from '../../../lib/authz/interfaces.js';
import { KdaError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import { createCertificate } from '../../../lib/dev-pki/index.js';
import { createIdentityKubeconfig, grantDelegatedAuth } from '../../../harness/register-apiservice.js';
import { waitFor } from '../../support/wait-for.js';
import { getCluster } from '../support/cluster.js';

const ns = 'kda-cluster-e2e';
const cmName = 'extension-apiserver-authentication';

/**
 * Waits for `cond`. A poll (25 ms) with a deadline: the conditions are the loop's providers, its status() and log
 * lines, which share no event to wake on.
 */
async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(cond, { what, timeoutMs, intervalMs: 25 });
}

/** What became of one `stream()` (watch) request: kube-apiserver's status code, or the error it failed with. */
type StreamOutcome = { readonly statusCode: number } | { readonly error: string };

/** A RestClient that records every watch request's outcome and emits `stream`: the signal that a watch is up. */
class WatchObservingClient extends RestClient {
  readonly streams: StreamOutcome[] = [];
  readonly events = new EventEmitter();

  override async stream(...args: Parameters<RestClient['stream']>): ReturnType<RestClient['stream']> {
    try {
      const res = await super.stream(...args);
      this.streams.push({ statusCode: res.statusCode });
      return res;
    } catch (err) {
      this.streams.push({ error: String(err) });
      throw err;
    } finally {
      this.events.emit('stream');
    }
  }

  /** The outcome of the first watch request, once there is one. */
  firstWatch(): Promise<StreamOutcome> {
    return waitFor(() => this.streams[0], {
      what: 'the first watch request to be answered',
      timeoutMs: 20_000,
      wakeOn: (wake) => {
        this.events.on('stream', wake);
        return () => this.events.off('stream', wake);
      },
    });
  }
}

function subjectCN(pem: string): string {
  return /CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1] ?? '';
}

describe('e2e: lib/cluster against the real kube-apiserver', () => {
  const closers: (() => Promise<void>)[] = [];
  const clientFor = (kubeconfig: string): RestClient => {
    const c = new RestClient({ connection: loadConnectionConfig({ kubeconfig, env: {} }) });
    closers.push(() => c.close());
    return c;
  };
  const source = (opts: ConstructorParameters<typeof ExtensionApiserverAuthentication>[0]) => {
    const s = new ExtensionApiserverAuthentication(opts);
    closers.push(() => s.close());
    return s;
  };
  let sa: { token: string; client: RestClient; kubeconfigPath: string };

  before(async () => {
    const cp = getCluster();
    await cp.admin.ensureNamespace(ns);
    // The extension server's own least-privilege identity: a ServiceAccount with the two documented bindings.
    const token = await cp.admin.createServiceAccountToken(ns, 'kda-ext');
    await grantDelegatedAuth(cp.admin, 'kda-cluster-e2e-ext', {
      kind: 'ServiceAccount',
      name: 'kda-ext',
      namespace: ns,
    });
    const kc = createIdentityKubeconfig(cp, {
      userName: 'system:serviceaccount:kda-cluster-e2e:kda-ext',
      token,
      fileName: 'kda-ext-sa',
    });
    sa = { token, client: clientFor(kc.kubeconfigPath), kubeconfigPath: kc.kubeconfigPath };
  });
  after(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    // The namespace stays: the control plane is discarded after the run, and without kube-controller-manager a
    // deleted namespace would stay Terminating for good (a later ensureNamespace of the same name fails on it).
  });

  describe('kube-system/extension-apiserver-authentication', () => {
    it('runOnce loads the CAs and header lists kube-apiserver wrote (service-account identity with the reader RoleBinding)', async () => {
      const cp = getCluster();
      const s = source({ client: sa.client });
      await s.runOnce();
      const clientCAs = s.clientCA.current()!.certificates.map((c) => c.fingerprint256);
      expect(clientCAs).to.include(new X509Certificate(cp.pki.ca.certPem).fingerprint256);
      const rh = s.requestHeaderCA.current()!.certificates.map((c) => c.fingerprint256);
      expect(rh).to.include(new X509Certificate(cp.pki.frontProxyCa.certPem).fingerprint256);
      expect(rh).not.to.include(new X509Certificate(cp.pki.ca.certPem).fingerprint256);
      expect(s.requestHeaderConfig.current()).to.deep.include({
        usernameHeaders: ['X-Remote-User'],
        groupHeaders: ['X-Remote-Group'],
        extraHeaderPrefixes: ['X-Remote-Extra-'],
        allowedNames: ['front-proxy-client'],
      });
      expect(s.status().every((x) => x.loaded && x.lastError === undefined)).to.equal(true);
    });

    it('the watch starts against the real apiserver (field selector on the resource name is allowed by the reader Role)', async () => {
      const lines: string[] = [];
      const logger: Logger = {
        debug: () => {},
        info: () => {},
        warn: (_f, m) => lines.push(m),
        error: (_f, m) => lines.push(m),
      };
      const client = new WatchObservingClient({
        connection: loadConnectionConfig({ kubeconfig: sa.kubeconfigPath, env: {} }),
      });
      closers.push(() => client.close());
      const s = source({ client, logger });
      await s.runOnce();
      s.start();
      // The watch request's own answer, not a quiet moment: 200 means the watch is up (a refusal is an error here).
      expect(await client.firstWatch()).to.deep.equal({ statusCode: 200 });
      expect(lines.filter((l) => l.includes('watch'))).to.deep.equal([]);
    });

    it('Forbidden at startup (service account without the RoleBinding): the message names the exact kubectl fix', async () => {
      const cp = getCluster();
      const token = await cp.admin.createServiceAccountToken(ns, 'kda-noperm');
      const kc = createIdentityKubeconfig(cp, { userName: 'kda-noperm', token, fileName: 'kda-noperm-sa' });
      const err = await source({ client: clientFor(kc.kubeconfigPath) })
        .runOnce()
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KdaError);
      const msg = (err as Error).message;
      expect(msg).to.match(
        /^unable to load configmap based request-header-client-ca-file: configmaps "extension-apiserver-authentication" is forbidden: User "system:serviceaccount:kda-cluster-e2e:kda-noperm" cannot list resource "configmaps"/,
      );
      expect(msg).to.contain(
        `kubectl create rolebinding -n kube-system kda-noperm-auth-reader --role=extension-apiserver-authentication-reader --serviceaccount=${ns}:kda-noperm`,
      );
    });

    it('Forbidden at startup (client-certificate user): the fix uses --user=<CN>', async () => {
      const kc = createIdentityKubeconfig(getCluster(), { userName: 'kda-cert-noperm' });
      const err = await source({ client: clientFor(kc.kubeconfigPath) })
        .runOnce()
        .catch((e: unknown) => e);
      expect((err as Error).message).to.contain(
        'kubectl create rolebinding -n kube-system kda-cert-noperm-auth-reader --role=extension-apiserver-authentication-reader --user=kda-cert-noperm',
      );
    });

    it('Forbidden with authenticationTolerateLookupFailure: startup continues, status() carries the error', async () => {
      const kc = createIdentityKubeconfig(getCluster(), { userName: 'kda-cert-noperm-2' });
      const s = source({ client: clientFor(kc.kubeconfigPath), authenticationTolerateLookupFailure: true });
      await s.runOnce();
      expect(s.requestHeaderCA.current()).to.equal(undefined);
      expect(s.status()[0]!.lastError).to.contain('--user=kda-cert-noperm-2');
    });
  });

  describe('watching a ConfigMap edited live (a copy in a test namespace, so the cluster trust is untouched)', () => {
    it('replacing the requestheader CA bumps the provider version with the new content; deletion keeps last-known-good', async () => {
      const cp = getCluster();
      const real = await cp.admin.get<{ data: Record<string, string> }>(
        `/api/v1/namespaces/kube-system/configmaps/${cmName}`,
      );
      const path = `/api/v1/namespaces/${ns}/configmaps`;
      await cp.admin.create(path, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: cmName, namespace: ns },
        data: real.data,
      });
      const admin = clientFor(cp.adminKubeconfigPath);
      const s = source({ client: admin, namespace: ns });
      await s.runOnce();
      s.start();
      const v1 = s.requestHeaderCA.current()!;
      expect(v1.version).to.equal(1);
      let notified = 0;
      s.requestHeaderCA.addListener(() => notified++);

      const newCa = createCertificate({ commonName: 'kda-e2e-rotated-front-proxy-ca', isCA: true });
      await cp.admin.patch(`${path}/${cmName}`, { data: { 'requestheader-client-ca-file': newCa.certPem } });
      await until(() => s.requestHeaderCA.current()?.version === 2, 'the watch to deliver the edit');
      const v2 = s.requestHeaderCA.current()!;
      expect(v2.certificates.map((c) => subjectCN(c.toString()))).to.deep.equal(['kda-e2e-rotated-front-proxy-ca']);
      expect(notified).to.equal(1);
      expect(s.clientCA.current()!.version).to.equal(1);

      await cp.admin.patch(`${path}/${cmName}`, { data: { 'requestheader-allowed-names': '["proxy-2"]' } });
      await until(() => s.requestHeaderConfig.current()?.allowedNames[0] === 'proxy-2', 'the header edit');
      expect(s.requestHeaderCA.current()!.version).to.equal(2);

      await cp.admin.delete(`${path}/${cmName}`);
      await until(() => s.status()[1]!.lastError !== undefined, 'the deletion');
      expect(s.requestHeaderCA.current()).to.equal(v2);
      expect(s.status()[1]!.lastError).to.equal(`configmap ${ns}/${cmName} was deleted`);
    });
  });

  describe('watch restart after a real connection cut', () => {
    it('the watch resumes after its TCP connections to kube-apiserver are cut, and sees the next edit', async () => {
      const cp = getCluster();
      // A plain TCP relay: TLS stays end to end with the real apiserver; the relay only lets us cut the sockets.
      const sockets = new Set<Socket>();
      const relay = createServer((down) => {
        const up = connect(cp.apiServerPort, '127.0.0.1');
        sockets.add(down).add(up);
        down.pipe(up).pipe(down);
        const done = () => {
          down.destroy();
          up.destroy();
          sockets.delete(down);
          sockets.delete(up);
        };
        down.on('error', done).on('close', done);
        up.on('error', done).on('close', done);
      });
      await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
      closers.push(
        () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            relay.close(() => r());
          }),
      );
      const port = (relay.address() as AddressInfo).port;
      const base = loadConnectionConfig({ kubeconfig: cp.adminKubeconfigPath, env: {} });
      const viaRelay = new WatchObservingClient({ connection: { ...base, server: `https://127.0.0.1:${port}` } });
      closers.push(() => viaRelay.close());

      const path = `/api/v1/namespaces/${ns}/configmaps`;
      const name = 'kda-cut-test';
      const real = await cp.admin.get<{ data: Record<string, string> }>(
        `/api/v1/namespaces/kube-system/configmaps/${cmName}`,
      );
      await cp.admin.create(path, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: ns },
        data: real.data,
      });
      const warnings: string[] = [];
      const s = source({
        client: viaRelay,
        namespace: ns,
        name,
        retryDelay: 100,
        logger: { debug: () => {}, info: () => {}, warn: (_f, m) => warnings.push(m), error: () => {} },
      });
      await s.runOnce();
      s.start();
      // Cut once the watch is up (its response headers came back), so it is the watch that is cut.
      expect(await viaRelay.firstWatch()).to.deep.equal({ statusCode: 200 });
      expect(sockets.size).to.be.greaterThan(0);
      for (const sock of sockets) sock.destroy();
      await until(() => warnings.some((w) => w.includes('watch failed')), 'the cut to be noticed');

      await cp.admin.patch(`${path}/${name}`, { data: { 'requestheader-allowed-names': '["after-cut"]' } });
      await until(() => s.requestHeaderConfig.current()?.allowedNames[0] === 'after-cut', 'the edit after the cut');
    });
  });

  describe('TokenReview', () => {
    it('a real service-account token (TokenRequest API) is accepted; a garbage token is rejected', async () => {
      const cp = getCluster();
      const token = await cp.admin.createServiceAccountToken(ns, 'kda-client');
      const authn = cachedTokenAuthenticator(new TokenReviewAuthenticator({ client: tokenReviewClient(sa.client) }));
      const ok = await authn.authenticateToken(token);
      expect(ok.ok).to.equal(true);
      if (!ok.ok) return;
      expect(ok.user.name).to.equal(`system:serviceaccount:${ns}:kda-client`);
      expect(ok.user.uid).to.match(/^[0-9a-f-]{36}$/);
      expect(ok.user.groups).to.include.members([
        'system:serviceaccounts',
        `system:serviceaccounts:${ns}`,
        'system:authenticated',
      ]);
      const bad = await authn.authenticateToken('garbage.token.value');
      expect(bad.ok).to.equal(false);
      expect(!bad.ok && bad.error?.code).to.equal('ERR_KDA_TOKEN_REJECTED');
      // Errors are never cached; the success is.
      await authn.authenticateToken(token);
      expect(authn.stats()).to.include({ hits: 1, fetchOk: 1, fetchError: 1 });
    });

    it('audiences: a token bound to an audience passes only when that audience is requested', async () => {
      const cp = getCluster();
      const token = await cp.admin.createServiceAccountToken(ns, 'kda-client', { audiences: ['kda-e2e-aud'] });
      const authn = new TokenReviewAuthenticator({ client: tokenReviewClient(sa.client) });
      const ok = await authn.authenticateToken(token, { audiences: ['kda-e2e-aud'] });
      expect(ok.ok).to.equal(true);
      expect(ok.ok && ok.audiences).to.deep.equal(['kda-e2e-aud']);
      const other = await authn.authenticateToken(token, { audiences: ['something-else'] });
      expect(other.ok).to.equal(false);
    });

    it('an identity without system:auth-delegator gets a 403 that is not retried', async () => {
      const kc = createIdentityKubeconfig(getCluster(), { userName: 'kda-no-delegator' });
      const authn = new TokenReviewAuthenticator({ client: tokenReviewClient(clientFor(kc.kubeconfigPath)) });
      const r = await authn.authenticateToken('whatever');
      expect(r.ok).to.equal(false);
      expect(!r.ok && r.error?.code).to.equal('ERR_KDA_REVIEW_FAILED');
      expect(!r.ok && r.error?.message).to.contain('tokenreviews.authentication.k8s.io is forbidden');
      expect(!r.ok && r.error?.details).to.include({ status: 403, reason: 'Forbidden' });
    });
  });

  describe('SubjectAccessReview', () => {
    const cases: readonly { name: string; spec: SubjectAccessReviewSpec; allowed: boolean }[] = [
      {
        name: 'system:masters member is allowed',
        spec: {
          user: 'some-admin',
          groups: ['system:masters'],
          resourceAttributes: { namespace: 'default', verb: 'list', resource: 'pods' },
        },
        allowed: true,
      },
      {
        name: 'user without RBAC is not allowed',
        spec: {
          user: 'kda-nobody',
          groups: ['system:authenticated'],
          resourceAttributes: { namespace: 'default', verb: 'list', resource: 'pods' },
        },
        allowed: false,
      },
      {
        name: 'non-resource /healthz for an authenticated user is allowed (system:public-info-viewer)',
        spec: {
          user: 'kda-nobody',
          groups: ['system:authenticated'],
          nonResourceAttributes: { path: '/healthz', verb: 'get' },
        },
        allowed: true,
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const status = await subjectAccessReviewClient(sa.client).create({
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: c.spec,
        });
        expect(status.allowed).to.equal(c.allowed);
      });
    }
  });
});
