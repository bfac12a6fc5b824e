// Fault injection on a REAL etcd + kube-apiserver of our own (started here, so stopping it disturbs no other spec):
// kube-apiserver stopped mid-load (uncached authorization fails closed with 500, cached decisions live out their TTL,
// everything recovers without restarting our server), the ConfigMap watch cut by a restart, and the trust ConfigMap
// deleted / emptied / given invalid JSON or PEM (last-known-good kept and reported, or dropped when failing closed).
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import Koa from 'koa';
import { Agent, request } from 'undici';
import type { UserInfo } from '../../../lib/authn/interfaces.js';
import { SubjectAccessReviewAuthorizer } from '../../../lib/authz/subject-access-review.js';
import { ExtensionApiserverAuthentication } from '../../../lib/cluster/extension-apiserver-authentication.js';
import { loadConnectionConfig } from '../../../lib/cluster/kubeconfig.js';
import { RestClient } from '../../../lib/cluster/rest-client.js';
import { delegatedTokenAuthenticator } from '../../../lib/cluster/index.js';
import { subjectAccessReviewClient, tokenReviewClient } from '../../../lib/cluster/review-clients.js';
import { internalError, unauthorizedBody } from '../../../lib/http/status.js';
import { authenticate } from '../../../lib/koa/authenticate.js';
import { authorize } from '../../../lib/koa/authorize.js';
import { requestInfo } from '../../../lib/koa/request-info.js';
import { startControlPlane, type ControlPlane } from '../../../harness/control-plane.js';
import { testPki } from '../../support/pki.js';
import { waitFor } from '../../support/wait-for.js';
import { startTlsServer, type TestTlsServer } from '../../support/tls-server.js';

const cmNamespace = 'kube-system';
const cmName = 'kda-faults-auth';
const cmPath = `/api/v1/namespaces/${cmNamespace}/configmaps/${cmName}`;
const uri = '/apis/wardle.example.com/v1alpha1/namespaces/ns/flunders';
const ttl = 10_000;

/**
 * Waits for `cond`. A poll (25 ms) with a deadline: the conditions are a port refusing connections and the trust
 * source's providers and status(), which share no event to wake on.
 */
async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(cond, { what, timeoutMs, intervalMs: 25 });
}

/** true when nothing accepts connections on the port (kube-apiserver is down). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

function expectRefused(a: { status: number; body: string }): void {
  expect(a.status).to.equal(401);
  expect(a.body).to.equal(unauthorizedBody);
}

function expectAnonymousDenied(a: { status: number; body: string }): void {
  expect(a.status).to.equal(403);
  expect((JSON.parse(a.body) as { message: string }).message).to.equal(
    'flunders.wardle.example.com is forbidden: User "system:anonymous" cannot list resource "flunders" in API group "wardle.example.com" in the namespace "ns"',
  );
}

interface Stack {
  readonly trust: ExtensionApiserverAuthentication;
  readonly authorizer: SubjectAccessReviewAuthorizer;
  readonly server: TestTlsServer;
  readonly seen: UserInfo[];
  /** error-level log lines of the trust source. */
  readonly errors: { msg: string; fields: Record<string, unknown> }[];
  close(): Promise<void>;
}

describe('e2e faults: a real control plane of our own (stopped, restarted, ConfigMap broken)', function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let rest: RestClient;
  let validData: Record<string, string>;
  let now = Date.now();
  const clock = { now: () => now };
  let stack: Stack;
  let failClosed: Stack;
  let proxy: Agent;
  let plain: Agent;

  async function startStack(failClosedOnTrustError: boolean): Promise<Stack> {
    const errors: Stack['errors'] = [];
    const trust = new ExtensionApiserverAuthentication({
      logger: {
        debug: () => {},
        info: () => {},
        warn: () => {},
        error: (fields, msg) => errors.push({ msg, fields: fields as Record<string, unknown> }),
      },
      client: rest,
      namespace: cmNamespace,
      name: cmName,
      failClosedOnTrustError,
      // Only the watch may deliver changes within a test: the safety re-read is far away.
      pollInterval: 600_000,
      retryDelay: 200,
      maxRetryDelay: 1_000,
    });
    await trust.runOnce();
    trust.start();
    const authorizer = new SubjectAccessReviewAuthorizer({
      client: subjectAccessReviewClient(rest),
      authorizationWebhookCacheAuthorizedTtl: ttl,
      authorizationWebhookCacheUnauthorizedTtl: ttl,
      clock,
      clientTimeout: 5_000,
      retryBackoff: { initialDelay: 20, factor: 1.5, jitter: 0, steps: 5 },
    });
    const seen: UserInfo[] = [];
    const app = new Koa();
    app.use(requestInfo());
    app.use(
      authenticate({
        requestHeader: { caProvider: trust.requestHeaderCA, configProvider: trust.requestHeaderConfig },
        clientCA: trust.clientCA,
        tokenAuthenticator: delegatedTokenAuthenticator(tokenReviewClient(rest), {
          authenticationTokenWebhookCacheTtl: ttl,
          clock,
          retryBackoff: { initialDelay: 20, factor: 1.5, jitter: 0, steps: 5 },
        }),
      }),
    );
    app.use(authorize({ authorizer }));
    app.use((ctx) => {
      seen.push((ctx.state as { user: UserInfo }).user);
      ctx.body = 'ok';
    });
    const server = await startTlsServer(app.callback());
    return {
      trust,
      authorizer,
      server,
      seen,
      errors,
      async close() {
        await server.close();
        await authorizer.close();
        await trust.close();
      },
    };
  }

  /** A request through the front proxy (the cluster's real front-proxy-client certificate) as `user`. */
  async function asUser(s: Stack, user: string, groups: readonly string[] = ['system:masters']) {
    const res = await request(`${s.server.url}${uri}`, {
      dispatcher: proxy,
      headers: ['X-Remote-User', user, ...groups.flatMap((g) => ['X-Remote-Group', g])],
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** A request with a bearer token and no client certificate. */
  async function withToken(s: Stack, token: string) {
    const res = await request(`${s.server.url}${uri}`, {
      dispatcher: plain,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** A 403 naming `user` proves the request was authenticated as `user` (and RBAC then denied it). */
  function expectDeniedAs(a: { status: number; body: string }, user: string): void {
    expect(a.status, a.body).to.equal(403);
    expect((JSON.parse(a.body) as { message: string }).message).to.contain(`User "${user}" cannot list`);
  }

  async function putConfigMap(data: Record<string, string> | undefined): Promise<void> {
    await cp.admin.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: cmName, namespace: cmNamespace },
      ...(data && { data }),
    });
  }

  const healthy = (s: Stack) => s.trust.status().every((x) => x.loaded && x.lastError === undefined);

  before(async function () {
    this.timeout(240_000);
    cp = await startControlPlane({ log: (m) => process.stderr.write(`[e2e faults] ${m}\n`) });
    rest = new RestClient({
      connection: loadConnectionConfig({ kubeconfig: cp.adminKubeconfigPath, env: {} }),
      timeout: 5_000,
      qps: 0,
    });
    const real = await cp.admin.get<{ data: Record<string, string> }>(
      '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
    );
    validData = real.data;
    await putConfigMap(validData);
    const pki = testPki();
    proxy = new Agent({
      connect: {
        ca: pki.servingCA.certPem,
        cert: cp.pki.frontProxyClient.certPem,
        key: cp.pki.frontProxyClient.keyPem,
      },
    });
    plain = new Agent({ connect: { ca: pki.servingCA.certPem } });
    stack = await startStack(false);
    failClosed = await startStack(true);
  });
  beforeEach(async () => {
    await putConfigMap(validData);
    await until(() => healthy(stack) && healthy(failClosed), 'both trust sources healthy again');
  });
  after(async function () {
    this.timeout(60_000);
    await proxy?.close();
    await plain?.close();
    await stack?.close();
    await failClosed?.close();
    await rest?.close();
    await cp?.stop();
  });

  it('baseline: the real front-proxy certificate + X-Remote-* → 200; RBAC denial → 403 from a real SAR', async () => {
    expect((await asUser(stack, 'baseline-admin')).status).to.equal(200);
    expect(stack.seen.at(-1)!.name).to.equal('baseline-admin');
    const denied = await asUser(stack, 'nobody', []);
    expect(denied.status).to.equal(403);
    expect(JSON.parse(denied.body).message).to.equal(
      'flunders.wardle.example.com is forbidden: User "nobody" cannot list resource "flunders" in API group "wardle.example.com" in the namespace "ns"',
    );
  });

  it('kube-apiserver stopped mid-load: uncached SAR → 500, uncached token → 401, cached decisions and tokens live out their TTL only; recovers by itself', async () => {
    expect((await asUser(stack, 'cached-admin')).status).to.equal(200);
    const sa = 'system:serviceaccount:kda-faults:reviewed';
    const cachedToken = await cp.admin.createServiceAccountToken('kda-faults', 'reviewed');
    // Another account: two TokenRequests for one account in the same second are the same JWT in 1.20 (no jti).
    const freshToken = await cp.admin.createServiceAccountToken('kda-faults', 'unreviewed');
    expectDeniedAs(await withToken(stack, cachedToken), sa);
    const reviewsBefore = stack.authorizer.stats().reviews;

    // Background load for the whole outage: only 200 and 500 are acceptable, and never a hang.
    const load: { status: number; seq: number }[] = [];
    const answered = new EventEmitter();
    let loading = true;
    let seq = 0;
    const loop = (async () => {
      while (loading) {
        const n = seq++;
        const r = await asUser(stack, n % 2 === 0 ? 'cached-admin' : `load-${n}`);
        load.push({ status: r.status, seq: n });
        answered.emit('answer');
        // Pacing, not waiting for anything: about 50 requests a second, so that the load does not flood the
        // restarting kube-apiserver with SubjectAccessReviews on a shared machine.
        await new Promise((res) => setTimeout(res, 20));
      }
    })();

    // The outage is held open by the harness for exactly as long as the checks take (`whileDown` runs after
    // kube-apiserver exited and before it starts again): no check races the restart, however slow the machine.
    // Load requests sent from here on may meet the outage; the one in flight now may too.
    const firstSeqOfOutage = Math.max(0, seq - 1);
    const outage = async () => {
      expect(await refused(cp.apiServerPort), 'kube-apiserver has exited').to.equal(true);

      const uncached = await asUser(stack, 'never-seen-admin');
      expect(uncached.status).to.equal(500);
      const m = /^Internal Server Error: "([^"]*)": (.+)\n$/.exec(uncached.body);
      expect(m, uncached.body).to.not.equal(null);
      expect(uncached.body).to.equal(internalError(uri, m![2]!).body);
      expect(m![2]).to.match(/ECONNREFUSED|connect|refused/i);

      const cached = await asUser(stack, 'cached-admin');
      expect(cached.status, 'a cached allow keeps working during the outage').to.equal(200);
      expectDeniedAs(await withToken(stack, cachedToken), sa); // cached TokenReview + cached denial
      const unreviewed = await withToken(stack, freshToken);
      expect(unreviewed.status, 'an unreviewable token is refused, never anonymous').to.equal(401);
      expect(unreviewed.body).to.equal(unauthorizedBody);

      now += ttl + 1;
      const expired = await asUser(stack, 'cached-admin');
      expect(expired.status, 'an expired allow is not served stale (staleIfErrorTtl off)').to.equal(500);
      expect((await withToken(stack, cachedToken)).status, 'an expired token review is not served stale').to.equal(401);
    };
    try {
      await cp.restartApiServer({ whileDown: outage });
    } catch (err) {
      // Never leave the next test with the load running, whatever failed above (kube-apiserver is up again).
      loading = false;
      await loop;
      throw err;
    }
    const recovered = await asUser(stack, 'never-seen-admin');
    expect(recovered.status, 'the same server recovers without a restart').to.equal(200);
    expect((await asUser(stack, 'cached-admin')).status).to.equal(200);
    expect((await asUser(stack, 'nobody', [])).status).to.equal(403);
    expectDeniedAs(await withToken(stack, cachedToken), sa);
    expectDeniedAs(await withToken(stack, freshToken), 'system:serviceaccount:kda-faults:unreviewed');
    expect(stack.authorizer.stats().reviews).to.be.greaterThan(reviewsBefore);

    // The load itself recovers: wait for answers to requests it sends from now on (not for a while).
    const recoveredFrom = seq;
    await waitFor(() => load.filter((l) => l.seq >= recoveredFrom).length >= 2, {
      what: 'two load requests sent after the recovery to be answered',
      timeoutMs: 20_000,
      wakeOn: (wake) => {
        answered.on('answer', wake);
        return () => answered.off('answer', wake);
      },
    });
    loading = false;
    await loop;
    expect(load.length).to.be.greaterThan(0);
    expect([...new Set(load.map((l) => l.status))].every((s) => s === 200 || s === 500)).to.equal(true);
    // A 500 only for load requests that could meet the outage: sent (or in flight) once the restart began, and
    // before the recovery was seen. Ordered by the requests' sequence numbers, not by clock readings.
    const outside = load.filter((l) => l.status === 500 && (l.seq < firstSeqOfOutage || l.seq >= recoveredFrom));
    expect(outside, 'load requests answered 500 outside the outage').to.deep.equal([]);
    const afterRecovery = load.filter((l) => l.seq >= recoveredFrom).map((l) => l.status);
    expect(afterRecovery, 'every load request sent after the recovery').to.deep.equal(afterRecovery.map(() => 200));
  });

  it('the ConfigMap watch cut by a kube-apiserver restart resumes, and a later edit is seen', async () => {
    await cp.restartApiServer();
    const names = ['front-proxy-client', 'kda-after-restart'];
    await putConfigMap({ ...validData, 'requestheader-allowed-names': JSON.stringify(names) });
    await until(
      () => JSON.stringify(stack.trust.requestHeaderConfig.current()?.allowedNames) === JSON.stringify(names),
      'the edit made after the restart to arrive through the resumed watch',
      20_000,
    );
    expect((await asUser(stack, 'after-restart-admin')).status).to.equal(200);
  });

  it('ConfigMap deleted → last-known-good kept (still authenticates), loud log, error in status(); fail-closed → system:anonymous, denied by RBAC', async () => {
    await cp.admin.delete(cmPath);
    await until(
      () => stack.trust.status().every((s) => s.lastError?.includes('was deleted') === true),
      'the deletion to be reported',
    );
    expect(stack.trust.status().every((s) => s.loaded)).to.equal(true);
    expect(
      stack.errors.filter((e) => e.msg === 'trust source error: keeping the last-known-good value').length,
      'one loud line per provider',
    ).to.be.at.least(3);
    expect((await asUser(stack, 'lkg-admin')).status).to.equal(200);
    expect(stack.seen.at(-1)!.name).to.equal('lkg-admin');
    // Wait for this deletion itself (the providers may already be down from an earlier edit seen by this stack).
    await until(
      () => failClosed.trust.status().every((s) => !s.loaded && s.lastError?.includes('was deleted') === true),
      'fail-closed providers dropped because of the deletion',
    );
    expect(
      failClosed.errors.some((e) => e.msg === 'trust source error: provider disabled (failClosedOnTrustError)'),
    ).to.equal(true);
    // Every provider dropped: no authenticator has an opinion, so the caller is system:anonymous (never the proxied
    // user), and the real RBAC denies it.
    expectAnonymousDenied(await asUser(failClosed, 'lkg-admin'));
  });

  it('ConfigMap emptied (no data) → last-known-good kept, every provider reports the missing content; fail-closed → system:anonymous', async () => {
    await putConfigMap(undefined);
    await until(
      () => stack.trust.status().every((s) => s.lastError !== undefined),
      'the emptied ConfigMap to be reported',
    );
    const [clientCA, proxyCA, config] = stack.trust.status();
    expect(clientCA!.lastError).to.match(/missing content for CA bundle/);
    expect(proxyCA!.lastError).to.match(/missing content for CA bundle/);
    expect(config!.lastError).to.match(/no longer has requestheader-\* keys/);
    expect((await asUser(stack, 'lkg-admin')).status).to.equal(200);
    await until(
      () =>
        failClosed.trust
          .status()
          .every((s) => !s.loaded && /missing content|no longer has requestheader/.test(s.lastError ?? '')),
      'fail-closed providers dropped because of the emptied ConfigMap',
    );
    expectAnonymousDenied(await asUser(failClosed, 'lkg-admin'));
  });

  it('invalid JSON in requestheader-allowed-names → header config last-known-good, error names the key; fail-closed → 401', async () => {
    await putConfigMap({ ...validData, 'requestheader-allowed-names': '["front-proxy-client"' });
    await until(() => stack.trust.status()[2]!.lastError !== undefined, 'the invalid JSON to be reported');
    expect(stack.trust.status()[2]!.lastError).to.match(/requestheader-allowed-names/);
    expect(stack.trust.requestHeaderConfig.current()?.allowedNames).to.deep.equal(['front-proxy-client']);
    expect(stack.trust.status()[0]!.lastError).to.equal(undefined);
    expect((await asUser(stack, 'lkg-admin')).status).to.equal(200);
    await until(() => failClosed.trust.requestHeaderConfig.current() === undefined, 'fail-closed config dropped');
    // The front proxy is no longer recognised and its certificate is not a client-CA one: x509 errors → 401.
    expectRefused(await asUser(failClosed, 'lkg-admin'));
  });

  it('invalid PEM in requestheader-client-ca-file → CA last-known-good, error in status(); fail-closed → 401', async () => {
    const before = stack.trust.requestHeaderCA.current()!.version;
    await putConfigMap({
      ...validData,
      'requestheader-client-ca-file': '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n',
    });
    await until(() => stack.trust.status()[1]!.lastError !== undefined, 'the invalid PEM to be reported');
    expect(stack.trust.status()[1]!.lastError).to.match(/error loading CA bundle/);
    expect(stack.trust.requestHeaderCA.current()!.version).to.equal(before);
    expect((await asUser(stack, 'lkg-admin')).status).to.equal(200);
    await until(() => failClosed.trust.requestHeaderCA.current() === undefined, 'fail-closed CA dropped');
    expectRefused(await asUser(failClosed, 'lkg-admin'));
    await putConfigMap(validData);
    await until(() => healthy(failClosed), 'fail-closed source healthy after the fix');
    expect((await asUser(failClosed, 'fixed-admin')).status, 'recovers once the ConfigMap is fixed').to.equal(200);
  });
});
