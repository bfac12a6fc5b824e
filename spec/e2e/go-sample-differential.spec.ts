// The Go sample-apiserver (k8s.io/apiserver of the same release as kube-apiserver: v0.37.2 on 1.37, the 1.20.2 tree on
// 1.20) and our stack side by side on one kube-apiserver: the same front-proxy request to each, compared by status,
// Status body and the SubjectAccessReview each sends. The burst case measures README's "Where it differs" row.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import { Agent, request } from 'undici';
import { auditMark, findReviews, waitForReviews } from '../../harness/audit-log.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import type { GoSampleApiserver } from '../../harness/go-sample-apiserver.js';
import { prepareExtensionServer, type ExtensionServerSetup } from '../../harness/register-apiservice.js';
import { delegatedAuth, type KoaDelegatedAuth } from '../../lib/koa/delegated-auth.js';
import { createSecureServer, type SecureServer } from '../../lib/server/secure-server.js';
import { getCluster, getGoSampleApiserver } from './support/cluster.js';

const group = 'wardle.example.com';
const version = 'v1alpha1';

describe('e2e differential: Go sample-apiserver vs our stack on the same kube-apiserver', function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let go: GoSampleApiserver;
  let setup: ExtensionServerSetup;
  let auth: KoaDelegatedAuth;
  let server: SecureServer;
  let goAgent: Agent;
  let ourAgent: Agent;

  before(async function () {
    cp = getCluster();
    go = await getGoSampleApiserver();
    // Our stack serves the same group's paths (not registered: both are called directly, as the aggregator would).
    setup = await prepareExtensionServer(cp, { group: 'differential.kda.example.com', version: 'v1' });
    auth = delegatedAuth({ kubeconfig: setup.kubeconfigPath });
    await auth.start();
    const app = new Koa();
    app.silent = true;
    app.use(auth.middleware);
    app.use((ctx) => {
      ctx.body = { user: ctx.state.user };
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
    const proxyCert = { cert: cp.pki.frontProxyClient.certPem, key: cp.pki.frontProxyClient.keyPem };
    goAgent = new Agent({ connect: { ca: go.servingPki.ca.certPem, ...proxyCert }, connections: 64 });
    ourAgent = new Agent({ connect: { ca: setup.servingPki.ca.certPem, ...proxyCert }, connections: 64 });
  });

  after(async function () {
    await goAgent?.close();
    await ourAgent?.close();
    await server?.close();
    await auth?.close();
  });

  const path = `/apis/${group}/${version}/namespaces/default/flunders/f1`;
  async function call(which: 'go' | 'ours', user: string) {
    const base = which === 'go' ? go.url : `https://127.0.0.1:${server.port}`;
    const res = await request(`${base}${path}`, {
      dispatcher: which === 'go' ? goAgent : ourAgent,
      headers: { 'x-remote-user': user, 'x-remote-group': 'differential' },
    });
    return { status: res.statusCode, text: await res.body.text() };
  }
  const sarsAbout = (identity: string, mark: ReturnType<typeof auditMark>, user: string) =>
    findReviews(cp.auditLogPath, 'SubjectAccessReview', { after: mark, user: identity })
      .map((r) => r.request.spec as { user?: string; groups?: string[]; resourceAttributes?: object })
      .filter((s) => s.user === user);

  it('a front-proxy user without RBAC: same 403 Status body, same SubjectAccessReview spec', async function () {
    const user = `diff-${randomUUID().slice(0, 8)}`;
    const mark = auditMark(cp.auditLogPath);
    const goRes = await call('go', user);
    const ours = await call('ours', user);
    expect(ours.status).to.equal(goRes.status).and.to.equal(403);
    // Go's Status has a trailing newline from its encoder; so does ours.
    expect(JSON.parse(ours.text)).to.deep.equal(JSON.parse(goRes.text));
    await waitForReviews(cp.auditLogPath, 'SubjectAccessReview', { after: mark, user: go.userName });
    await waitForReviews(cp.auditLogPath, 'SubjectAccessReview', { after: mark, user: setup.userName });
    const [goSar] = sarsAbout(go.userName, mark, user);
    const [ourSar] = sarsAbout(setup.userName, mark, user);
    expect(ourSar, 'our SubjectAccessReview').to.deep.equal(goSar);
  });

  it('1000 concurrent requests of one new identity: Go sends more than one SubjectAccessReview, we send exactly 1', async function () {
    const burst = async (which: 'go' | 'ours', identity: string) => {
      const user = `burst-${which}-${randomUUID().slice(0, 8)}`;
      const mark = auditMark(cp.auditLogPath);
      const results = await Promise.all(Array.from({ length: 1000 }, () => call(which, user)));
      expect(results.every((r) => r.status === 403)).to.equal(true);
      // Every burst review was answered before its request was; a probe of another identity sent after the burst
      // is reviewed later still, so once its review is in the audit log, so are all of the burst's.
      const probe = `probe-${randomUUID().slice(0, 8)}`;
      const probeMark = auditMark(cp.auditLogPath);
      await call(which, probe);
      const deadline = Date.now() + 30_000;
      while (sarsAbout(identity, probeMark, probe).length === 0) {
        if (Date.now() > deadline) throw new Error(`no SubjectAccessReview for ${probe} from ${identity}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return sarsAbout(identity, mark, user).length;
    };
    const goCount = await burst('go', go.userName);
    const ourCount = await burst('ours', setup.userName);
    process.stderr.write(
      `[differential] kube-apiserver ${cp.kubernetesVersion.gitVersion}: 1000 concurrent requests of one new identity → Go sample-apiserver ${goCount} SubjectAccessReviews, ours ${ourCount}\n`,
    );
    expect(ourCount).to.equal(1);
    expect(goCount).to.be.greaterThan(1);
  });
});
