// The Go sample-apiserver (k8s.io/apiserver of the same release as kube-apiserver: v0.37.2 on 1.37, the 1.20.2 tree on
// 1.20) and our stack side by side on one kube-apiserver: the same front-proxy request to each, compared by status,
// Status body and the SubjectAccessReview each sends. The burst case measures README's "Where it differs" row.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { auditMark } from '../../harness/audit-log.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import type { GoSampleApiserver } from '../../harness/go-sample-apiserver.js';
import { waitFor } from '../support/wait-for.js';
import { getCluster, getGoSampleApiserver } from './support/cluster.js';
import { reviewedSpecs, reviewsSettled } from './support/reviews.js';
import { startDelegatedAuthServer, type DelegatedAuthServer } from './support/serve.js';

const group = 'wardle.example.com';
const version = 'v1alpha1';

describe('e2e differential: Go sample-apiserver vs our stack on the same kube-apiserver', function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let go: GoSampleApiserver;
  let ours: DelegatedAuthServer;
  let goAgent: Agent;
  let ourAgent: Agent;

  before(async function () {
    cp = getCluster();
    go = await getGoSampleApiserver();
    // Our stack serves the same group's paths (not registered: both are called directly, as the aggregator would).
    ours = await startDelegatedAuthServer(cp, {
      group: 'differential.kda.example.com',
      version: 'v1',
      register: false,
      respond: (ctx) => ({ user: ctx.state.user }),
    });
    const proxyCert = { cert: cp.pki.frontProxyClient.certPem, key: cp.pki.frontProxyClient.keyPem };
    goAgent = new Agent({ connect: { ca: go.servingPki.ca.certPem, ...proxyCert }, connections: 64 });
    ourAgent = ours.agent(proxyCert);
  });

  after(async function () {
    await goAgent?.close();
    await ours?.close();
  });

  const path = `/apis/${group}/${version}/namespaces/default/flunders/f1`;
  async function call(which: 'go' | 'ours', user: string) {
    const base = which === 'go' ? go.url : ours.url;
    const res = await request(`${base}${path}`, {
      dispatcher: which === 'go' ? goAgent : ourAgent,
      headers: { 'x-remote-user': user, 'x-remote-group': 'differential' },
    });
    return { status: res.statusCode, text: await res.body.text() };
  }
  const sarsAbout = (identity: string, mark: ReturnType<typeof auditMark>, user: string) =>
    reviewedSpecs(cp, identity, mark, (u) => u === user);

  it('a front-proxy user without RBAC: same 403 Status body, same SubjectAccessReview spec', async function () {
    const user = `diff-${randomUUID().slice(0, 8)}`;
    const mark = auditMark(cp.auditLogPath);
    const goRes = await call('go', user);
    const ourRes = await call('ours', user);
    expect(ourRes.status).to.equal(goRes.status).and.to.equal(403);
    // Go's Status has a trailing newline from its encoder; so does ours.
    expect(JSON.parse(ourRes.text)).to.deep.equal(JSON.parse(goRes.text));
    // The log backend writes a review's event after its response is sent: wait for each (polled: a file has no event).
    const review = (identity: string) =>
      waitFor(() => sarsAbout(identity, mark, user)[0], {
        what: `the SubjectAccessReview about ${user} from ${identity} in the audit log`,
      });
    const goSar = await review(go.userName);
    const ourSar = await review(ours.setup.userName);
    expect(ourSar, 'our SubjectAccessReview').to.deep.equal(goSar);
  });

  it('1000 concurrent requests of one new identity: Go sends more than one SubjectAccessReview, we send exactly 1', async function () {
    const burst = async (which: 'go' | 'ours', identity: string) => {
      const user = `burst-${which}-${randomUUID().slice(0, 8)}`;
      const mark = auditMark(cp.auditLogPath);
      const results = await Promise.all(Array.from({ length: 1000 }, () => call(which, user)));
      expect(results.every((r) => r.status === 403)).to.equal(true);
      await reviewsSettled(cp, identity, (probe) => call(which, probe));
      return sarsAbout(identity, mark, user).length;
    };
    const goCount = await burst('go', go.userName);
    const ourCount = await burst('ours', ours.setup.userName);
    process.stderr.write(
      `[differential] kube-apiserver ${cp.kubernetesVersion.gitVersion}: 1000 concurrent requests of one new identity → Go sample-apiserver ${goCount} SubjectAccessReviews, ours ${ourCount}\n`,
    );
    expect(ourCount).to.equal(1);
    expect(goCount).to.be.greaterThan(1);
  });
});
