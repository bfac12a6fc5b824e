// What changed in the delegated-auth contract between kube-apiserver 1.20 and 1.37, checked against the real
// kube-apiserver this run uses (KDA_KUBERNETES_VERSION): the front-proxy UID header, authorization selectors in
// SubjectAccessReviews, UIDs in client certificates. Each case asserts the current behaviour on a release that has
// it and the old behaviour on one that does not, so the file passes on both and fails if either side drifts.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { Agent, request } from 'undici';
import { auditMark, waitForReviews } from '../../harness/audit-log.js';
import { kubernetesRelease, type ControlPlane } from '../../harness/control-plane.js';
import type { ExtensionServerSetup } from '../../harness/register-apiservice.js';
import type { KoaDelegatedAuth } from '../../lib/koa/delegated-auth.js';
import { getCluster } from './support/cluster.js';
import { rawTlsRequest } from './support/raw-tls.js';
import { grantResourceAccess, startDelegatedAuthServer, type DelegatedAuthServer } from './support/serve.js';

const group = 'versions.e2e.kube-delegated-auth.io';
const version = 'v1';
const base = `/apis/${group}/${version}`;
const cmPath = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
const uidOid = '1.3.6.1.4.1.57683.2';

interface Echo {
  user: { name: string; uid: string; groups: string[]; extra: Record<string, string[]> };
  headers: Record<string, string | string[] | undefined>;
}

/** A client certificate from the cluster CA whose subject carries a UID attribute (OID 1.3.6.1.4.1.57683.2). */
function clientCertWithUid(cp: ControlPlane, commonName: string, uid: string): { certPem: string; keyPem: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const caCert = forge.pki.certificateFromPem(cp.pki.ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(cp.pki.ca.keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '0a' + Date.now().toString(16);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  cert.setSubject([
    { name: 'commonName', value: commonName },
    { type: uidOid, value: uid, valueTagClass: forge.asn1.Type.UTF8 } as unknown as forge.pki.CertificateField,
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  // Sanity: the attribute is really in the subject (node prints unknown OIDs numerically).
  expect(new X509Certificate(certPem).subject).to.contain(uid);
  return { certPem, keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

describe(`e2e: Kubernetes ${kubernetesRelease().version}-specific delegated auth`, function () {
  this.timeout(120_000);
  let cp: ControlPlane;
  let ours: DelegatedAuthServer;
  let setup: ExtensionServerSetup;
  let auth: KoaDelegatedAuth;
  /** kube-apiserver's minor (37, 20). */
  let minor: number;

  before(async function () {
    cp = getCluster();
    minor = cp.kubernetesVersion.minor;
    ours = await startDelegatedAuthServer(cp, {
      group,
      version,
      serviceName: 'versions-e2e',
      auth: { authorizationSelectors: true },
      respond: (ctx) => ({ user: ctx.state.user, headers: ctx.request.headers }),
    });
    ({ setup, auth } = ours);
    await grantResourceAccess(
      cp.admin,
      'versions-e2e-things-reader',
      { group, resources: ['things'], verbs: ['get', 'list', 'watch'] },
      ['bob'],
    );
  });

  after(async function () {
    await ours?.close();
  });

  it('runs against the kube-apiserver KDA_KUBERNETES_VERSION selects (its /version agrees with --version)', async function () {
    const release = kubernetesRelease();
    expect(cp.kubernetesVersion.gitVersion).to.equal(`v${release.version}`);
    const v = await cp.admin.get<{ gitVersion: string; minor: string }>('/version');
    expect(v.gitVersion).to.equal(`v${release.version}`);
    expect(v.minor.replace(/\+$/, '')).to.equal(String(minor));
  });

  it('front-proxy UID: 1.33+ publishes requestheader-uid-headers and the aggregator X-Remote-Uid reaches ctx.state.user.uid; 1.20 has neither', async function () {
    const cm = await cp.admin.get<{ data: Record<string, string> }>(cmPath);
    const res = await cp.admin.request('GET', `${base}/namespaces/default/things`, {
      impersonate: { user: 'bob', uid: 'bob-uid-7', groups: ['team-b'] },
    });
    if (minor >= 33) {
      expect(JSON.parse(cm.data['requestheader-uid-headers'] ?? 'null')).to.deep.equal(['X-Remote-Uid']);
      expect(auth.trust.requestHeaderConfig.current()?.uidHeaders).to.deep.equal(['X-Remote-Uid']);
      expect(res.status, res.text).to.equal(200);
      const echo = res.body as Echo;
      expect(echo.user).to.deep.include({ name: 'bob', uid: 'bob-uid-7' });
      // The header was consumed, not passed on to the handler.
      expect(echo.headers).to.not.have.property('x-remote-uid');
    } else {
      expect(cm.data).to.not.have.property('requestheader-uid-headers');
      expect(auth.trust.requestHeaderConfig.current()?.uidHeaders ?? []).to.deep.equal([]);
      // 1.20 knows no Impersonate-Uid: whatever it does with it, no UID may come out of our server.
      if (res.status === 200) expect((res.body as Echo).user.uid).to.equal('');
      else expect(res.status, res.text).to.be.oneOf([400, 403]);
    }
  });

  it('front-proxy UID: a UID header is honoured only under the name the ConfigMap lists (X-Remote-Uid), never another', async function () {
    const proxy = ours.agent({ cert: cp.pki.frontProxyClient.certPem, key: cp.pki.frontProxyClient.keyPem });
    const get = async (headers: Record<string, string>) => {
      const r = await request(`${ours.url}${base}/namespaces/default/things`, {
        dispatcher: proxy,
        headers: { 'x-remote-user': 'bob', ...headers },
      });
      return { status: r.statusCode, body: (await r.body.json()) as Echo };
    };
    const spoofed = await get({ 'x-remote-uid2': 'not-a-uid-header' });
    expect(spoofed.status).to.equal(200);
    expect(spoofed.body.user.uid).to.equal('');
    const listed = await get({ 'x-remote-uid': 'direct-uid' });
    expect(listed.status).to.equal(200);
    expect(listed.body.user.uid).to.equal(minor >= 33 ? 'direct-uid' : '');
  });

  it('authorization selectors: the SubjectAccessReview carries the label/field selector; 1.37 keeps them, 1.20 drops them', async function () {
    const mark = auditMark(cp.auditLogPath);
    const q = new URLSearchParams({ labelSelector: 'tier=front,env!=prod', fieldSelector: 'spec.shard=3' });
    const res = await cp.admin.request('GET', `${base}/namespaces/default/things?${q}`, {
      impersonate: { user: 'bob', groups: ['team-b'] },
    });
    expect(res.status, res.text).to.equal(200);
    // Wait for bob's review itself: the server may review other callers (the aggregator's polls) meanwhile.
    const sars = await waitForReviews(cp.auditLogPath, 'SubjectAccessReview', {
      after: mark,
      user: setup.userName,
      match: (r) => (r.request.spec as { user?: string }).user === 'bob',
    });
    const ra = sars
      .map((s) => s.request.spec as { user?: string; resourceAttributes?: Record<string, unknown> })
      .find((s) => s.user === 'bob')?.resourceAttributes;
    expect(ra).to.deep.include({ verb: 'list', group, resource: 'things', namespace: 'default' });
    // The audit log records the review as kube-apiserver decoded it: a 1.20 server has no such fields and drops them.
    if (minor >= 31) {
      expect(ra?.labelSelector).to.deep.equal({
        // Sorted by key, as Go's labels.Parse returns them.
        requirements: [
          { key: 'env', operator: 'NotIn', values: ['prod'] },
          { key: 'tier', operator: 'In', values: ['front'] },
        ],
      });
      expect(ra?.fieldSelector).to.deep.equal({ requirements: [{ key: 'spec.shard', operator: 'In', values: ['3'] }] });
    } else {
      expect(ra).to.not.have.property('labelSelector');
      expect(ra).to.not.have.property('fieldSelector');
    }
  });

  it('authorization selectors: 1.37 validates and parses them (invalid → 422, unparsable → evaluationError); 1.20 ignores them', async function () {
    const sar = (labelSelector: unknown) => ({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: 'bob',
        resourceAttributes: { verb: 'list', group, version, resource: 'things', namespace: 'default', labelSelector },
      },
    });
    type Sar = { status: { allowed: boolean; evaluationError?: string } };
    const post = (labelSelector: unknown) =>
      cp.admin.request<Sar>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { body: sar(labelSelector) });
    const ok = await post({ requirements: [{ key: 'tier', operator: 'In', values: ['front'] }] });
    expect(ok.status, ok.text).to.equal(201);
    expect(ok.body.status.allowed).to.equal(true);
    const invalid = await post({ requirements: [{ key: 'tier', operator: 'In', values: [] }] });
    const unparsable = await post({ requirements: [{ key: 'tier', operator: 'Bogus', values: ['x'] }] });
    if (minor >= 31) {
      expect(invalid.status, invalid.text).to.equal(422);
      expect(invalid.text).to.contain('spec.resourceAttributes.labelSelector.requirements[0].values');
      // RBAC does not decide on selectors, so the decision stands; the parse failure is reported.
      expect(unparsable.status, unparsable.text).to.equal(201);
      expect(unparsable.body.status.evaluationError).to.contain('labelSelector ignored due to parse error');
    } else {
      for (const r of [invalid, unparsable]) {
        expect(r.status, r.text).to.equal(201);
        expect(r.body.status.allowed).to.equal(true);
        expect(r.body.status.evaluationError ?? '').to.equal('');
      }
    }
  });

  it('x509 UID: a client certificate with the UID attribute authenticates with that UID (kube-apiserver 1.33+ agrees)', async function () {
    const { certPem, keyPem } = clientCertWithUid(cp, 'bob', 'bob-x509-uid');
    const r = await request(`${ours.url}${base}/namespaces/default/things`, {
      dispatcher: ours.agent({ cert: certPem, key: keyPem }),
    });
    const echo = (await r.body.json()) as Echo;
    expect(r.statusCode).to.equal(200);
    expect(echo.user).to.deep.include({ name: 'bob', uid: 'bob-x509-uid' });
    if (minor >= 33) {
      // The same certificate against kube-apiserver itself: SelfSubjectReview (1.28+) shows what it authenticated.
      const a = new Agent({ connect: { ca: cp.pki.ca.certPem, cert: certPem, key: keyPem } });
      try {
        const ssr = await request(`${cp.apiServerUrl}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
          method: 'POST',
          dispatcher: a,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
        });
        const body = (await ssr.body.json()) as { status: { userInfo: { username: string; uid?: string } } };
        expect(ssr.statusCode).to.equal(201);
        expect(body.status.userInfo).to.deep.include({ username: 'bob', uid: 'bob-x509-uid' });
      } finally {
        await a.close();
      }
    }
  });
  it('WebSocket bearer subprotocol with `upgrade` only on the second Connection line: 1.29+ and we authenticate it; 1.20 did not', async function () {
    const token = await cp.admin.createServiceAccountToken('default', 'ws-e2e');
    // Go requires another subprotocol beside the token (it is echoed back), as kubectl's v5.channel.k8s.io is.
    const protocol = `base64url.bearer.authorization.k8s.io.${Buffer.from(token).toString('base64url')}, v5.channel.k8s.io`;
    const upgradeLines = (path: string) => [
      `GET ${path} HTTP/1.1`,
      'Connection: keep-alive',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      `Sec-WebSocket-Protocol: ${protocol}`,
    ];
    // kube-apiserver itself: discovery needs an authenticated user (system:discovery). Control: with `upgrade` on
    // the only Connection line every release reads the token.
    const control = await rawTlsRequest(`${cp.apiServerUrl}/apis`, { ca: cp.pki.ca.certPem }, [
      'GET /apis HTTP/1.1',
      'Connection: Upgrade',
      'Upgrade: websocket',
      `Sec-WebSocket-Protocol: ${protocol}`,
    ]);
    expect(control.status, `control: ${control.body}`).to.equal(200);
    const kas = await rawTlsRequest(`${cp.apiServerUrl}/apis`, { ca: cp.pki.ca.certPem }, upgradeLines('/apis'));
    if (minor >= 29) expect(kas.status, kas.body).to.equal(200);
    else expect(kas.status, kas.body).to.be.oneOf([401, 403]);
    // Our server follows current Kubernetes on every release: the token authenticates (RBAC then denies the
    // ServiceAccount, and the 403 names it, not system:anonymous).
    const answer = await rawTlsRequest(
      ours.url,
      { ca: setup.servingPki.ca.certPem },
      upgradeLines(`${base}/namespaces/default/things`),
    );
    expect(answer.status, answer.body).to.equal(403);
    expect(JSON.parse(answer.body).message).to.contain('system:serviceaccount:default:ws-e2e');
  });
});
