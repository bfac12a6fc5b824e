// delegatedAuth() (the whole Koa stack built from options) against the real kube-apiserver + etcd: trust from the
// extension-apiserver-authentication ConfigMap, requests through the aggregator, real SubjectAccessReviews and
// TokenReviews, single-flight measured in kube-apiserver's audit log, and a CA added to the ConfigMap followed live.
import { expect } from 'chai';
import Koa from 'koa';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { auditMark, findReviews, waitForReviews } from '../../harness/audit-log.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import {
  prepareExtensionServer,
  type ExtensionServerSetup,
  type RegisteredApiService,
} from '../../harness/register-apiservice.js';
import { delegatedAuth, type KoaDelegatedAuth } from '../../lib/koa/delegated-auth.js';
import { createCertificate } from '../../lib/dev-pki/certificates.js';
import { createSecureServer, type SecureServer } from '../../lib/server/secure-server.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import { getCluster } from './support/cluster.js';

const group = 'delegated.e2e.kube-delegated-auth.io';
const version = 'v1';
const base = `/apis/${group}/${version}`;
const cmPath = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';

interface Echo {
  user: { name: string; uid: string; groups: string[]; extra: Record<string, string[]> };
  attributes?: { verb: string; resource: string; namespace: string; name: string };
  headers: Record<string, string | string[] | undefined>;
}

describe('e2e: delegatedAuth() on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane;
  let setup: ExtensionServerSetup;
  let auth: KoaDelegatedAuth;
  let server: SecureServer;
  // Unregistered after the file: a leftover APIService whose server is gone breaks legacy discovery (kubectl on 1.20).
  let registration: RegisteredApiService | undefined;
  let proxyAgent: Agent;
  const agents: Agent[] = [];

  function agent(opts: { cert?: string; key?: string }): Agent {
    const a = new Agent({
      connect: { ca: readFileSync(setup.servingCaPath, 'utf8'), servername: 'localhost', ...opts },
      connections: 64,
    });
    agents.push(a);
    return a;
  }

  async function direct(
    a: Agent,
    path: string,
    headers: Record<string, string | string[]> = {},
    method: 'GET' | 'POST' = 'GET',
  ): Promise<{ status: number; text: string; json?: Echo }> {
    const res = await request(`https://localhost:${server.port}${path}`, { dispatcher: a, headers, method });
    const text = await res.body.text();
    let json: Echo | undefined;
    try {
      json = JSON.parse(text) as Echo;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, text, json };
  }

  function reviewsFor(mark: ReturnType<typeof auditMark>, user: (name: string) => boolean) {
    return findReviews(cp.auditLogPath, 'SubjectAccessReview', { after: mark, user: setup.userName }).filter((r) =>
      user(String((r.request.spec as { user?: string }).user)),
    );
  }

  before(async function () {
    cp = getCluster();
    setup = await prepareExtensionServer(cp, { group, version, serviceName: 'delegated-e2e' });
    auth = delegatedAuth({ kubeconfig: setup.kubeconfigPath });
    await auth.start();
    const app = new Koa();
    app.silent = true;
    app.use(auth.middleware);
    app.use((ctx) => {
      ctx.body = { user: ctx.state.user, attributes: ctx.state.attributes, headers: ctx.request.headers };
    });
    server = createSecureServer({
      handler: app.callback(),
      tlsCertFile: setup.servingCertPath,
      tlsPrivateKeyFile: setup.servingKeyPath,
      clientCA: auth.trust.clientCA,
      requestHeaderCA: auth.trust.requestHeaderCA,
      bindAddress: '127.0.0.1',
      securePort: 0,
    });
    await server.listen();
    registration = await setup.register(server.port);
    proxyAgent = agent({ cert: cp.pki.frontProxyClient.certPem, key: cp.pki.frontProxyClient.keyPem });
    // RBAC in kube-apiserver: alice may list things (kube-apiserver checks first, our server checks again).
    await cp.admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'delegated-e2e-things-reader' },
      rules: [{ apiGroups: [group], resources: ['things'], verbs: ['get', 'list'] }],
    });
    await cp.admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'delegated-e2e-things-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'delegated-e2e-things-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
    });
  });

  after(async function () {
    await registration?.unregister().catch(() => undefined);
    await Promise.all(agents.map((a) => a.close()));
    await server?.close();
    await auth?.close();
  });

  it('loads the front-proxy CA, allowed names and header names from the ConfigMap', function () {
    expect(auth.trust.requestHeaderCA.current()?.certificates.length).to.be.greaterThan(0);
    expect(auth.trust.clientCA.current()?.certificates.length).to.be.greaterThan(0);
    expect(auth.trust.requestHeaderConfig.current()).to.deep.include({ allowedNames: ['front-proxy-client'] });
    expect(auth.status().every((s) => s.loaded)).to.equal(true);
  });

  it('a request through the aggregator reaches the handler as the real caller, authorized by a real SAR', async function () {
    const mark = auditMark(cp.auditLogPath);
    const res = await cp.admin.request('GET', `${base}/namespaces/default/things`, {
      impersonate: { user: 'alice', groups: ['team-a', 'with,comma'] },
    });
    expect(res.status, res.text).to.equal(200);
    const echo = res.body as Echo;
    expect(echo.user.name).to.equal('alice');
    expect(echo.user.groups).to.deep.equal(['team-a', 'with,comma', 'system:authenticated']);
    expect(echo.attributes).to.deep.include({ verb: 'list', resource: 'things', namespace: 'default' });
    for (const h of Object.keys(echo.headers)) expect(h).to.not.match(/^(x-remote-|authorization$|impersonate-)/);
    const sars = await waitForReviews(cp.auditLogPath, 'SubjectAccessReview', { after: mark, user: setup.userName });
    const spec = sars.map((s) => s.request.spec as Record<string, unknown>).find((s) => s.user === 'alice');
    expect(spec).to.deep.include({ user: 'alice', groups: ['team-a', 'with,comma', 'system:authenticated'] });
    expect(spec?.resourceAttributes).to.deep.equal({
      namespace: 'default',
      verb: 'list',
      group,
      version,
      resource: 'things',
    });
  });

  it('RBAC deny decided by a real SAR: front-proxy identity without RBAC gets the exact 403 Status', async function () {
    const res = await direct(proxyAgent, `${base}/namespaces/default/things/t1`, { 'x-remote-user': 'carol' });
    expect(res.status).to.equal(403);
    expect(res.text).to.equal(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `things.${group} "t1" is forbidden: User "carol" cannot get resource "things" in API group "${group}" in the namespace "default"`,
        reason: 'Forbidden',
        details: { name: 't1', group, kind: 'things' },
        code: 403,
      }) + '\n',
    );
  });

  it('1000 concurrent requests of one new identity send exactly 1 SubjectAccessReview to kube-apiserver', async function () {
    const mark = auditMark(cp.auditLogPath);
    const who = `burst-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 1000 }, () =>
        direct(proxyAgent, `${base}/namespaces/default/things`, { 'x-remote-user': who }),
      ),
    );
    expect(results.every((r) => r.status === 403)).to.equal(true);
    await waitForReviews(cp.auditLogPath, 'SubjectAccessReview', { after: mark, user: setup.userName });
    // Give the audit backend a moment to flush anything else, then count exactly.
    await new Promise((r) => setTimeout(r, 1500));
    // Only reviews about this identity: the aggregator's own /openapi/v2 calls are reviewed too, as system:aggregator.
    const sars = reviewsFor(mark, (u) => u === who);
    expect(sars.length, JSON.stringify(sars.map((s) => s.request.spec))).to.equal(1);
  });

  it('1000 requests over 100 identities send at most 100 SubjectAccessReviews', async function () {
    const mark = auditMark(cp.auditLogPath);
    const stamp = Date.now();
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        direct(proxyAgent, `${base}/namespaces/default/things`, { 'x-remote-user': `many-${stamp}-${i % 100}` }),
      ),
    );
    expect(results.every((r) => r.status === 403)).to.equal(true);
    await waitForReviews(cp.auditLogPath, 'SubjectAccessReview', { after: mark, user: setup.userName, min: 100 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(reviewsFor(mark, (u) => u.startsWith(`many-${stamp}-`)).length).to.equal(100);
  });

  it('a real service-account token is authenticated through TokenReview on a direct call', async function () {
    const token = await cp.admin.createServiceAccountToken('default', 'delegated-e2e-sa');
    const a = agent({});
    const res = await direct(a, '/healthz', { authorization: `Bearer ${token}` });
    expect(res.status).to.equal(200);
    const who = await direct(a, `${base}/namespaces/default/things`, { authorization: `Bearer ${token}` });
    // No RBAC for the service account: 403 naming it proves TokenReview authenticated it.
    expect(who.status).to.equal(403);
    expect(who.text).to.contain('User \\"system:serviceaccount:default:delegated-e2e-sa\\" cannot list resource');
    const bad = await direct(a, `${base}/namespaces/default/things`, { authorization: 'Bearer not-a-real-token' });
    expect(bad.status).to.equal(401);
    expect(bad.text).to.equal(unauthorizedBody);
  });

  it('a spoofed X-Remote-User without a client certificate is anonymous, never that identity', async function () {
    const res = await direct(agent({}), `${base}/namespaces/default/things`, {
      'x-remote-user': 'alice',
      'x-remote-group': 'system:masters',
    });
    expect(res.status).to.equal(403);
    expect(res.text).to.contain('User \\"system:anonymous\\"');
  });

  it('the requestheader CA rotated by editing the ConfigMap: the next request on the same connection follows', async function () {
    const original = await cp.admin.get<{ data: Record<string, string> }>(cmPath);
    const newCa = createCertificate({ commonName: 'rotated-front-proxy-ca', isCA: true });
    const newProxy = createCertificate({ commonName: 'front-proxy-client', issuer: newCa });
    const rotatedAgent = agent({ cert: newProxy.certPem, key: newProxy.keyPem });
    const before = await direct(rotatedAgent, `${base}/namespaces/default/things`, { 'x-remote-user': 'alice' });
    expect(before.status, 'a proxy cert from an unknown CA is refused').to.equal(401);
    const version = auth.trust.requestHeaderCA.current()!.version;
    try {
      await cp.admin.update(cmPath, {
        ...original,
        data: {
          ...original.data,
          'requestheader-client-ca-file': original.data['requestheader-client-ca-file']!.trim() + '\n' + newCa.certPem,
        },
      });
      const deadline = Date.now() + 20_000;
      while (auth.trust.requestHeaderCA.current()!.version === version && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const after = await direct(rotatedAgent, `${base}/namespaces/default/things`, { 'x-remote-user': 'alice' });
      expect(after.status, after.text).to.equal(200);
      expect(after.json?.user.name).to.equal('alice');
    } finally {
      const current = await cp.admin.get<Record<string, unknown>>(cmPath);
      await cp.admin.update(cmPath, { ...current, data: original.data });
    }
  });
});
