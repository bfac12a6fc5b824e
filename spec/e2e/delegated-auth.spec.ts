// delegatedAuth() (the whole Koa stack built from options) against the real kube-apiserver + etcd: trust from the
// extension-apiserver-authentication ConfigMap, requests through the aggregator, real SubjectAccessReviews and
// TokenReviews, single-flight measured in kube-apiserver's audit log, and a CA added to the ConfigMap followed live.
import { expect } from 'chai';
import { request, type Agent } from 'undici';
import { auditMark } from '../../harness/audit-log.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import type { ConfigMapObject } from '../../harness/kube.js';
import type { ExtensionServerSetup } from '../../harness/register-apiservice.js';
import type { KoaDelegatedAuth } from '../../lib/koa/delegated-auth.js';
import { createCertificate } from '../../lib/dev-pki/certificates.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import { waitFor } from '../support/wait-for.js';
import { getCluster } from './support/cluster.js';
import { reviewAbout, reviewedSpecs, reviewsSettled } from './support/reviews.js';
import { grantResourceAccess, startDelegatedAuthServer, type DelegatedAuthServer } from './support/serve.js';

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
  let ours: DelegatedAuthServer;
  let setup: ExtensionServerSetup;
  let auth: KoaDelegatedAuth;
  let proxyAgent: Agent;

  async function direct(
    a: Agent,
    path: string,
    headers: Record<string, string | string[]> = {},
    method: 'GET' | 'POST' = 'GET',
  ): Promise<{ status: number; text: string; json?: Echo | undefined }> {
    const res = await request(`${ours.url}${path}`, { dispatcher: a, headers, method });
    const text = await res.body.text();
    let json: Echo | undefined;
    try {
      json = JSON.parse(text) as Echo;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, text, json };
  }

  /** Once the audit log holds every review sent so far: the reviews since `mark` about users `about` accepts. */
  async function settledReviews(mark: ReturnType<typeof auditMark>, about: (user: string) => boolean) {
    await reviewsSettled(cp, setup.userName, (probe) =>
      direct(proxyAgent, `${base}/namespaces/default/things`, { 'x-remote-user': probe }),
    );
    return reviewedSpecs(cp, setup.userName, mark, about);
  }

  before(async function () {
    cp = getCluster();
    ours = await startDelegatedAuthServer(cp, {
      group,
      version,
      serviceName: 'delegated-e2e',
      // The burst cases count reviews: a denial cached for the default 10 s could expire inside a 1000-request burst
      // on a loaded machine and be reviewed again. Cached for longer than any burst, "exactly 1" (and "100") is a
      // claim about single-flight and the cache, not about how fast the machine is.
      auth: { authorizationWebhookCacheUnauthorizedTtl: 600_000 },
      respond: (ctx) => ({ user: ctx.state.user, attributes: ctx.state.attributes, headers: ctx.request.headers }),
    });
    ({ setup, auth } = ours);
    proxyAgent = ours.agent({ cert: cp.pki.frontProxyClient.certPem, key: cp.pki.frontProxyClient.keyPem });
    // RBAC in kube-apiserver: alice may list things (kube-apiserver checks first, our server checks again).
    await grantResourceAccess(
      cp.admin,
      'delegated-e2e-things-reader',
      { group, resources: ['things'], verbs: ['get', 'list'] },
      ['alice'],
    );
  });

  after(async function () {
    await ours?.close();
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
    const spec = await reviewAbout(cp, setup.userName, mark, 'alice');
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
    // Only reviews about this identity: the aggregator's own /openapi/v2 calls are reviewed too, as system:aggregator.
    const sars = await settledReviews(mark, (u) => u === who);
    expect(sars.length, JSON.stringify(sars)).to.equal(1);
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
    expect((await settledReviews(mark, (u) => u.startsWith(`many-${stamp}-`))).length).to.equal(100);
  });

  it('a real service-account token is authenticated through TokenReview on a direct call', async function () {
    const token = await cp.admin.createServiceAccountToken('default', 'delegated-e2e-sa');
    const a = ours.agent();
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
    const res = await direct(ours.agent(), `${base}/namespaces/default/things`, {
      'x-remote-user': 'alice',
      'x-remote-group': 'system:masters',
    });
    expect(res.status).to.equal(403);
    expect(res.text).to.contain('User \\"system:anonymous\\"');
  });

  it('the requestheader CA rotated by editing the ConfigMap: the next request on the same connection follows', async function () {
    const original = await cp.admin.get<ConfigMapObject>(cmPath);
    const newCa = createCertificate({ commonName: 'rotated-front-proxy-ca', isCA: true });
    const newProxy = createCertificate({ commonName: 'front-proxy-client', issuer: newCa });
    const rotatedAgent = ours.agent({ cert: newProxy.certPem, key: newProxy.keyPem });
    const before = await direct(rotatedAgent, `${base}/namespaces/default/things`, { 'x-remote-user': 'alice' });
    expect(before.status, 'a proxy cert from an unknown CA is refused').to.equal(401);
    const version = auth.trust.requestHeaderCA.current()!.version;
    try {
      await cp.admin.modify<ConfigMapObject>(cmPath, (cm) => {
        cm.data['requestheader-client-ca-file'] =
          original.data['requestheader-client-ca-file']!.trim() + '\n' + newCa.certPem;
      });
      // The ConfigMap watch replaces the bundle; the provider's listeners are told (the interval is a safety net).
      await waitFor(() => auth.trust.requestHeaderCA.current()!.version !== version, {
        what: 'the edited ConfigMap to reach delegatedAuth() as a new requestheader CA bundle',
        timeoutMs: 20_000,
        intervalMs: 1_000,
        wakeOn: (wake) => auth.trust.requestHeaderCA.addListener(wake),
      });
      const after = await direct(rotatedAgent, `${base}/namespaces/default/things`, { 'x-remote-user': 'alice' });
      expect(after.status, after.text).to.equal(200);
      expect(after.json?.user.name).to.equal('alice');
    } finally {
      await cp.admin.modify<ConfigMapObject>(cmPath, (cm) => {
        cm.data = original.data;
      });
    }
  });
});
