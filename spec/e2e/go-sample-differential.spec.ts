// The Go sample-apiserver (k8s.io/apiserver of the same release as kube-apiserver: v0.37.2 on 1.37, the 1.20.2 tree on
// 1.20) and our stack side by side on one kube-apiserver: the same front-proxy request to each, compared by status,
// Status body and the SubjectAccessReview each sends. The last cases measure the rows of docs/differences-from-go.md
// "Where it differs from k8s.io/apiserver": the SAR burst, the refusal log, anonymous requests, underscore headers,
// and paths Node routers read differently.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { auditMark } from '../../harness/audit-log.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import type { GoSampleApiserver } from '../../harness/go-sample-apiserver.js';
import type { Logger } from '../../lib/log.js';
import { waitFor } from '../support/wait-for.js';
import { getCluster, getGoSampleApiserver } from './support/cluster.js';
import { rawTlsRequest } from './support/raw-tls.js';
import { reviewAbout, reviewedSpecs, reviewsSettled } from './support/reviews.js';
import { startDelegatedAuthServer, type DelegatedAuthServer } from './support/serve.js';

const group = 'wardle.example.com';
const version = 'v1alpha1';

describe('e2e differential: Go sample-apiserver vs our stack on the same kube-apiserver', function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let go: GoSampleApiserver;
  let ours: DelegatedAuthServer;
  /** Ours with `anonymous: false`: what Go's delegating options cannot be told to do. */
  let oursNoAnonymous: DelegatedAuthServer;
  let goAgent: Agent;
  let ourAgent: Agent;
  /** Warn and error lines our server logged. */
  const ourLog: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const recording: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (fields, msg) => ourLog.push({ level: 'warn', fields: fields as Record<string, unknown>, msg }),
    error: (fields, msg) => ourLog.push({ level: 'error', fields: fields as Record<string, unknown>, msg }),
  };

  before(async function () {
    cp = getCluster();
    go = await getGoSampleApiserver();
    // Our stack serves the same group's paths (not registered: both are called directly, as the aggregator would).
    ours = await startDelegatedAuthServer(cp, {
      group: 'differential.kda.example.com',
      version: 'v1',
      register: false,
      // Our burst must send exactly 1 review whatever the machine's speed: its denial stays cached longer than any
      // burst (the default 10 s could run out inside one on a loaded machine). Go's is left at its default.
      auth: { logger: recording, authorizationWebhookCacheUnauthorizedTtl: 600_000 },
      respond: (ctx) => ({ user: ctx.state.user }),
    });
    oursNoAnonymous = await startDelegatedAuthServer(cp, {
      group: 'differential-no-anonymous.kda.example.com',
      version: 'v1',
      register: false,
      auth: { anonymous: false },
      respond: (ctx) => ({ user: ctx.state.user }),
    });
    const proxyCert = { cert: cp.pki.frontProxyClient.certPem, key: cp.pki.frontProxyClient.keyPem };
    goAgent = new Agent({ connect: { ca: go.servingPki.ca.certPem, ...proxyCert }, connections: 64 });
    ourAgent = ours.agent(proxyCert);
  });

  after(async function () {
    await goAgent?.close();
    await ours?.close();
    await oursNoAnonymous?.close();
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

  it('a front-proxy user without RBAC: same 403 Status body, same SubjectAccessReview spec', async function () {
    const user = `diff-${randomUUID().slice(0, 8)}`;
    const mark = auditMark(cp.auditLogPath);
    const goRes = await call('go', user);
    const ourRes = await call('ours', user);
    expect(ourRes.status).to.equal(goRes.status).and.to.equal(403);
    // Go's Status has a trailing newline from its encoder; so does ours.
    expect(JSON.parse(ourRes.text)).to.deep.equal(JSON.parse(goRes.text));
    const goSar = await reviewAbout(cp, go.userName, mark, user);
    const ourSar = await reviewAbout(cp, ours.setup.userName, mark, user);
    expect(ourSar, 'our SubjectAccessReview').to.deep.equal(goSar);
  });

  it('1000 concurrent requests of one new identity: Go sends more than one SubjectAccessReview, we send exactly 1', async function () {
    const burst = async (which: 'go' | 'ours', identity: string) => {
      // Open the agent's connections first (a warm-up user's requests): a burst on cold connections is paced by TLS
      // handshakes, and Go's first review can return before the second request arrives (seen once on 1.20: Go sent 1).
      const warm = `warm-${which}-${randomUUID().slice(0, 8)}`;
      await Promise.all(Array.from({ length: 64 }, () => call(which, warm)));
      const user = `burst-${which}-${randomUUID().slice(0, 8)}`;
      const mark = auditMark(cp.auditLogPath);
      const results = await Promise.all(Array.from({ length: 1000 }, () => call(which, user)));
      expect(results.every((r) => r.status === 403)).to.equal(true);
      await reviewsSettled(cp, identity, (probe) => call(which, probe));
      return reviewedSpecs(cp, identity, mark, (u) => u === user).length;
    };
    // Go has no single-flight: it sends one review per request that arrives while the first is in flight, which is a
    // matter of scheduling. Up to three bursts (each a new identity) give it the chance; ours must send 1 every time.
    const goCounts: number[] = [];
    const ourCounts: number[] = [];
    for (let i = 0; i < 3 && !goCounts.some((n) => n > 1); i++) {
      goCounts.push(await burst('go', go.userName));
      ourCounts.push(await burst('ours', ours.setup.userName));
    }
    process.stderr.write(
      `[differential] kube-apiserver ${cp.kubernetesVersion.gitVersion}: 1000 concurrent requests of one new identity → Go sample-apiserver ${goCounts.join(', ')} SubjectAccessReviews, ours ${ourCounts.join(', ')}\n`,
    );
    expect(
      ourCounts.every((n) => n === 1),
      `ours: ${ourCounts.join(', ')}`,
    ).to.equal(true);
    expect(Math.max(...goCounts), `Go: ${goCounts.join(', ')}`).to.be.greaterThan(1);
  });

  /** One request written byte for byte (undici would rewrite the targets below), with the front-proxy certificate. */
  const raw = (which: 'go' | 'ours', target: string, headers: readonly string[], proxy = true) =>
    rawTlsRequest(
      which === 'go' ? go.url : ours.url,
      {
        ca: which === 'go' ? go.servingPki.ca.certPem : ours.setup.servingPki.ca.certPem,
        ...(proxy && { cert: cp.pki.frontProxyClient.certPem, key: cp.pki.frontProxyClient.keyPem }),
      },
      [`GET ${target} HTTP/1.1`, ...headers],
    );

  it('front-proxy certificate without a username header: the same 401; Go logs the client-CA fallback "unknown authority", we log the missing header', async function () {
    const goLogStart = readFileSync(go.logPath).length;
    ourLog.length = 0;
    const goRes = await raw('go', path, ['X-Remote-Group: differential']);
    const ourRes = await raw('ours', path, ['X-Remote-Group: differential']);
    expect(ourRes.status).to.equal(goRes.status).and.to.equal(401);
    expect(JSON.parse(ourRes.body)).to.deep.equal(JSON.parse(goRes.body));
    // k8s.io/apiserver pkg/endpoints/filters/authentication.go: klog.ErrorS(err, "Unable to authenticate the request")
    // with the union's error, which is the x509 (client CA) authenticator's: the front-proxy one declined silently.
    // The log is a file another process writes: polled.
    const goLine = await waitFor(
      () =>
        readFileSync(go.logPath)
          .subarray(goLogStart)
          .toString()
          .split('\n')
          .find((l) => l.includes('Unable to authenticate the request')),
      { what: `"Unable to authenticate the request" in ${go.logPath}` },
    );
    expect(goLine).to.contain('certificate signed by unknown authority');
    expect(goLine).to.not.match(/x-remote-user/i);
    const ourLine = ourLog.find((l) => l.level === 'warn');
    expect(ourLine?.fields, JSON.stringify(ourLog)).to.deep.include({
      authenticator: 'requestheader',
      check: 'username-header',
      subjectCN: 'front-proxy-client',
      header: 'X-Remote-User',
    });
  });

  it('no credentials: Go and we (by default) review system:anonymous alike; Go has no switch to refuse it, `anonymous: false` answers 401', async function () {
    const goRes = await raw('go', path, [], false);
    const ourRes = await raw('ours', path, [], false);
    expect(ourRes.status).to.equal(goRes.status).and.to.equal(403);
    expect(JSON.parse(ourRes.body)).to.deep.equal(JSON.parse(goRes.body));
    expect(JSON.parse(goRes.body).message).to.contain('User "system:anonymous"');
    const refused = await rawTlsRequest(oursNoAnonymous.url, { ca: oursNoAnonymous.setup.servingPki.ca.certPem }, [
      `GET ${path} HTTP/1.1`,
    ]);
    expect(refused.status, refused.body).to.equal(401);
    expect(JSON.parse(refused.body)).to.deep.include({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });

  it('underscore spellings (X_Remote_User, X_Remote_Group): neither reads them as identity', async function () {
    const user = `diff-us-${randomUUID().slice(0, 8)}`;
    const mark = auditMark(cp.auditLogPath);
    const spoof = ['X_Remote_User: system:admin', 'X_Remote_Group: system:masters'];
    const goRes = await raw('go', path, [`X-Remote-User: ${user}`, ...spoof]);
    const ourRes = await raw('ours', path, [`X-Remote-User: ${user}`, ...spoof]);
    expect(ourRes.status).to.equal(goRes.status).and.to.equal(403);
    expect(JSON.parse(ourRes.body)).to.deep.equal(JSON.parse(goRes.body));
    const goSar = await reviewAbout(cp, go.userName, mark, user);
    expect(goSar.groups).to.deep.equal(['system:authenticated']);
    expect(await reviewAbout(cp, ours.setup.userName, mark, user)).to.deep.equal(goSar);
    // Underscores only: no username header, so both refuse the request.
    const goOnly = await raw('go', path, spoof);
    const ourOnly = await raw('ours', path, spoof);
    expect([goOnly.status, ourOnly.status]).to.deep.equal([401, 401]);
  });

  it('targets Node routers read differently (\\, #, .., %2F): Go authorizes them as its one router reads them, we answer 400 before authentication', async function () {
    const ns = `/apis/${group}/${version}/namespaces`;
    const targets = [
      `${ns}/default/flunders/a\\b`,
      `${ns}/default/flunders/f1#x`,
      `${ns}/default/../kube-system/flunders/f1`,
      `${ns}/default%2Fx/flunders/f1`,
    ];
    const user = `diff-path-${randomUUID().slice(0, 8)}`;
    const seen: string[] = [];
    for (const target of targets) {
      const goRes = await raw('go', target, [`X-Remote-User: ${user}`]);
      const ourRes = await raw('ours', target, [`X-Remote-User: ${user}`]);
      const goMessage = String((JSON.parse(goRes.body) as { message?: string }).message);
      seen.push(`${target} → Go ${goRes.status} ${goMessage}`);
      // Go reads the target, authorizes it for the user (who has no RBAC), and answers as its router read it.
      expect(goRes.status, `Go on ${target}: ${goRes.body}`).to.equal(403);
      expect(goMessage).to.contain(`User "${user}"`).and.to.contain('in the namespace "default"');
      expect(ourRes.status, `ours on ${target}: ${ourRes.body}`).to.equal(400);
      expect(JSON.parse(ourRes.body)).to.deep.include({ kind: 'Status', reason: 'BadRequest', code: 400 });
    }
    process.stderr.write(`[differential] ${seen.join('\n[differential] ')}\n`);
  });
});
