import { channel } from 'node:diagnostics_channel';
import { expect } from 'chai';
import Koa from 'koa';
import { register as globalRegister } from 'prom-client';
import { request, type Agent } from 'undici';
import type { TokenAuthenticator } from '../../lib/authn/interfaces.js';
import { cachedTokenAuthenticator } from '../../lib/authn/token-cache.js';
import { alwaysAllowGroupsAuthorizer } from '../../lib/authz/always-allow-groups.js';
import type { SubjectAccessReviewClient } from '../../lib/authz/interfaces.js';
import { subjectAccessReviewAuthorizer } from '../../lib/authz/subject-access-review.js';
import { unionAuthorizers } from '../../lib/authz/union.js';
import { KdaError } from '../../lib/errors.js';
import { authenticate } from '../../lib/koa/authenticate.js';
import { authorize } from '../../lib/koa/authorize.js';
import { requestInfo } from '../../lib/koa/request-info.js';
import { metricsEndpoint } from '../../lib/metrics/koa.js';
import { channelNames, compressUsername, createMetrics, type KdaMetrics } from '../../lib/metrics/metrics.js';
import type { TrustStatus } from '../../lib/trust/interfaces.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { webhookError } from '../../lib/util/review-retry.js';
import { testPki, type TestCert } from '../support/pki.js';
import { clientAgent, startTlsServer } from '../support/tls-server.js';

/** `name{labels}` → value, from the exposition text. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const publish = (name: string, message: unknown): void => channel(name).publish(message);

async function scrape(m: KdaMetrics): Promise<Map<string, number>> {
  return parse(await m.metrics());
}

describe('createMetrics', () => {
  const open: KdaMetrics[] = [];
  const fresh = (opts?: Parameters<typeof createMetrics>[0]) => {
    const m = createMetrics(opts);
    open.push(m);
    return m;
  };
  afterEach(async () => {
    for (const m of open.splice(0)) await m.close();
  });

  it('registers into its own registry, never the prom-client global one, and two instances do not clash', async () => {
    const a = fresh();
    const b = fresh();
    expect(a.registry).not.to.equal(b.registry);
    expect(globalRegister.getSingleMetric('authentication_attempts')).to.equal(undefined);
    expect(a.registry.getSingleMetric('authentication_attempts')).not.to.equal(undefined);
    expect(a.contentType).to.match(/^text\/plain; version=0\.0\.4/);
  });

  it('authentication events: attempts and duration by result, authenticated_user_requests by compressed name', async () => {
    const m = fresh();
    const user = { name: 'admin', uid: '', groups: [], extra: {} };
    publish(channelNames.authn, { result: 'success', user, authenticator: 'x509', durationSeconds: 0.003 });
    publish(channelNames.authn, { result: 'success', user: { ...user, name: 'a@b.c' }, durationSeconds: 0.001 });
    publish(channelNames.authn, { result: 'error', durationSeconds: 0.5 });
    publish(channelNames.authn, { result: 'failure', durationSeconds: 0.0001 });
    const s = await scrape(m);
    expect(s.get('authentication_attempts{result="success"}')).to.equal(2);
    expect(s.get('authentication_attempts{result="error"}')).to.equal(1);
    expect(s.get('authentication_attempts{result="failure"}')).to.equal(1);
    expect(s.get('authentication_duration_seconds_count{result="success"}')).to.equal(2);
    expect(s.get('authentication_duration_seconds_bucket{le="0.004",result="success"}')).to.equal(2);
    expect(s.get('authentication_duration_seconds_bucket{le="0.256",result="error"}')).to.equal(0);
    expect(s.get('authenticated_user_requests{username="admin"}')).to.equal(1);
    expect(s.get('authenticated_user_requests{username="email_id"}')).to.equal(1);
  });

  it('authorization events: attempts and duration by result', async () => {
    const m = fresh();
    for (const result of ['allowed', 'allowed', 'denied', 'no-opinion', 'error']) {
      publish(channelNames.authz, { result, durationSeconds: 0.002 });
    }
    const s = await scrape(m);
    expect(s.get('authorization_attempts_total{result="allowed"}')).to.equal(2);
    expect(s.get('authorization_attempts_total{result="denied"}')).to.equal(1);
    expect(s.get('authorization_attempts_total{result="no-opinion"}')).to.equal(1);
    expect(s.get('authorization_attempts_total{result="error"}')).to.equal(1);
    expect(s.get('authorization_duration_seconds_count{result="allowed"}')).to.equal(2);
  });

  it('close() stops counting (channels unsubscribed) and is idempotent', async () => {
    const m = createMetrics();
    await m.close();
    await m.close();
    publish(channelNames.authz, { result: 'allowed', durationSeconds: 0.001 });
    expect((await scrape(m)).get('authorization_attempts_total{result="allowed"}')).to.equal(undefined);
  });

  describe('review clients (in-process fake)', () => {
    const cases: readonly { name: string; outcome: () => Promise<never> | Promise<object>; code: string }[] = [
      { name: 'created review: 201', outcome: async () => ({ allowed: true }), code: '201' },
      {
        name: 'HTTP 500 from kube-apiserver: "500"',
        outcome: async () => {
          throw webhookError('boom', { status: 500 });
        },
        code: '500',
      },
      {
        name: 'HTTP 429: "429"',
        outcome: async () => {
          throw webhookError('slow down', { status: 429, retryAfterSeconds: 1 });
        },
        code: '429',
      },
      {
        name: 'connection refused: "<error>"',
        outcome: async () => {
          throw webhookError('connect ECONNREFUSED', { networkCode: 'ECONNREFUSED' });
        },
        code: '<error>',
      },
      {
        name: 'not a webhook error: "<error>"',
        outcome: async () => {
          throw new TypeError('bug');
        },
        code: '<error>',
      },
    ];
    for (const c of cases) {
      it(`SubjectAccessReview ${c.name}`, async () => {
        const m = fresh();
        const client = m.instrumentSubjectAccessReviewClient({
          create: c.outcome as SubjectAccessReviewClient['create'],
        });
        await client.create({ spec: { user: 'u' } } as never).catch(() => undefined);
        const s = await scrape(m);
        expect(s.get(`apiserver_delegated_authz_request_total{code="${c.code}"}`)).to.equal(1);
        expect(s.get(`apiserver_delegated_authz_request_duration_seconds_count{code="${c.code}"}`)).to.equal(1);
        expect(s.get('apiserver_delegated_authn_request_total{code="201"}')).to.equal(undefined);
      });
      it(`TokenReview ${c.name}`, async () => {
        const m = fresh();
        const client = m.instrumentTokenReviewClient({ create: c.outcome });
        await client.create({ token: 't' }).catch(() => undefined);
        const s = await scrape(m);
        expect(s.get(`apiserver_delegated_authn_request_total{code="${c.code}"}`)).to.equal(1);
        expect(s.get(`apiserver_delegated_authn_request_duration_seconds_bucket{le="0.25",code="${c.code}"}`)).to.equal(
          1,
        );
      });
    }

    it('rejections pass through unchanged', async () => {
      const m = fresh();
      const err = webhookError('boom', { status: 503 });
      const client = m.instrumentTokenReviewClient({ create: () => Promise.reject(err) });
      const got = await client.create({}).catch((e: unknown) => e);
      expect(got).to.equal(err);
    });

    it('onTokenReviewRequest / onSubjectAccessReviewRequest hooks record the same series (durations in ms)', async () => {
      const m = fresh();
      m.onTokenReviewRequest('201', 300);
      m.onSubjectAccessReviewRequest('<error>', 20);
      const s = await scrape(m);
      expect(s.get('apiserver_delegated_authn_request_duration_seconds_bucket{le="0.25",code="201"}')).to.equal(0);
      expect(s.get('apiserver_delegated_authn_request_duration_seconds_bucket{le="0.5",code="201"}')).to.equal(1);
      expect(s.get('apiserver_delegated_authz_request_total{code="<error>"}')).to.equal(1);
    });
  });

  it('token cache stats are read at scrape time (hits, misses, fetches; in-process fake TokenReview)', async () => {
    const m = fresh();
    const inner: TokenAuthenticator = {
      async authenticateToken(token) {
        if (token === 'broken') {
          return { ok: false, error: new KdaError('ERR_KDA_REVIEW_FAILED', 'down') };
        }
        return token === 'good'
          ? { ok: true, user: { name: 'u', uid: '', groups: [], extra: {} }, authenticator: 'tokenreview' }
          : { ok: false };
      },
    };
    const cache = cachedTokenAuthenticator(inner);
    const uninstrument = m.instrument({ tokenCache: cache });
    await cache.authenticateToken('good');
    await cache.authenticateToken('good');
    await cache.authenticateToken('good');
    await cache.authenticateToken('bad');
    await cache.authenticateToken('broken');
    let s = await scrape(m);
    expect(s.get('authentication_token_cache_request_total{status="hit"}')).to.equal(2);
    expect(s.get('authentication_token_cache_request_total{status="miss"}')).to.equal(3);
    expect(s.get('authentication_token_cache_fetch_total{status="ok"}')).to.equal(2);
    expect(s.get('authentication_token_cache_fetch_total{status="error"}')).to.equal(1);
    expect(s.get('authentication_token_cache_active_fetch_count{status="in_flight"}')).to.equal(0);
    expect(s.get('kube_delegated_auth_token_cache_entries')).to.equal(2);
    // A second scrape does not double-count.
    s = await scrape(m);
    expect(s.get('authentication_token_cache_request_total{status="hit"}')).to.equal(2);
    uninstrument();
    s = await scrape(m);
    expect(s.get('authentication_token_cache_request_total{status="hit"}')).to.equal(0);
  });

  it('SAR authorizer stats: cache hits/misses, single-flight joins, stale-if-error served (in-process fake SAR)', async () => {
    const m = fresh();
    let now = 1_000_000;
    let failing = false;
    let release: (() => void) | undefined;
    const client: SubjectAccessReviewClient = {
      async create() {
        if (failing) throw webhookError('down', { status: 403 });
        await new Promise<void>((r) => {
          release = r;
          setImmediate(r);
        });
        return { allowed: true };
      },
    };
    const sar = subjectAccessReviewAuthorizer({
      client: m.instrumentSubjectAccessReviewClient(client),
      staleIfErrorTtl: 60_000,
      clock: { now: () => now },
      retryBackoff: { steps: 1, sleep: async () => {} },
    });
    after(() => sar.close());
    m.instrument({ authorizer: sar });
    const attrs = {
      user: { name: 'alice', uid: '', groups: [], extra: {} },
      verb: 'list',
      resourceRequest: true,
      path: '/apis/x/v1/things',
      apiGroup: 'x',
      apiVersion: 'v1',
      namespace: 'default',
      resource: 'things',
      subresource: '',
      name: '',
    };
    // Two identical cold lookups: one review, one join.
    await Promise.all([sar.authorize(attrs), sar.authorize(attrs)]);
    release?.();
    await sar.authorize(attrs); // cached
    now += 11_000; // expired, inside the stale window
    failing = true; // 403 is not retried
    const stale = await sar.authorize(attrs);
    expect(stale.decision).to.equal('Allow');
    const s = await scrape(m);
    expect(s.get('kube_delegated_auth_authz_singleflight_joins_total')).to.equal(1);
    expect(s.get('kube_delegated_auth_authz_cache_hits_total')).to.equal(1);
    expect(s.get('kube_delegated_auth_authz_cache_misses_total')).to.equal(3);
    expect(s.get('kube_delegated_auth_authz_stale_if_error_served_total')).to.equal(1);
    expect(s.get('kube_delegated_auth_authz_cache_evictions_total')).to.equal(0);
    expect(s.get('kube_delegated_auth_authz_cache_entries')).to.equal(1);
    expect(s.get('apiserver_delegated_authz_request_total{code="201"}')).to.equal(1);
    expect(s.get('apiserver_delegated_authz_request_total{code="403"}')).to.equal(1);
  });

  it('SAR cache evictions are counted when the LRU bound pushes entries out (in-process fake SAR)', async () => {
    const m = fresh();
    const sar = subjectAccessReviewAuthorizer({ client: { create: async () => ({ allowed: false }) }, maxEntries: 2 });
    after(() => sar.close());
    m.instrument({ authorizer: sar });
    for (const name of ['a', 'b', 'c', 'd']) {
      await sar.authorize({
        user: { name, uid: '', groups: [], extra: {} },
        verb: 'get',
        resourceRequest: false,
        path: '/x',
        apiGroup: '',
        apiVersion: '',
        namespace: '',
        resource: '',
        subresource: '',
        name: '',
      });
    }
    const s = await scrape(m);
    expect(s.get('kube_delegated_auth_authz_cache_evictions_total')).to.equal(2);
    expect(s.get('kube_delegated_auth_authz_cache_entries')).to.equal(2);
  });

  it('trust source status: loaded, age from lastLoadedAt, last error while serving last-known-good', async () => {
    let now = 100_000;
    const m = fresh({ clock: { now: () => now } });
    const statuses: TrustStatus[] = [
      { name: 'client-ca::cm', loaded: true, lastLoadedAt: 40_000 },
      { name: 'requestheader::cm', loaded: true, lastLoadedAt: 90_000, lastError: 'invalid PEM', lastErrorAt: 95_000 },
      { name: 'never', loaded: false, lastError: 'configmap not found', lastErrorAt: 99_000 },
    ];
    m.instrument({ trustSource: { status: () => statuses } });
    let s = await scrape(m);
    expect(s.get('kube_delegated_auth_trust_loaded{name="client-ca::cm"}')).to.equal(1);
    expect(s.get('kube_delegated_auth_trust_loaded{name="never"}')).to.equal(0);
    expect(s.get('kube_delegated_auth_trust_source_age_seconds{name="client-ca::cm"}')).to.equal(60);
    expect(s.get('kube_delegated_auth_trust_source_age_seconds{name="requestheader::cm"}')).to.equal(10);
    expect(s.has('kube_delegated_auth_trust_source_age_seconds{name="never"}')).to.equal(false);
    expect(s.get('kube_delegated_auth_trust_source_last_error{name="client-ca::cm"}')).to.equal(0);
    expect(s.get('kube_delegated_auth_trust_source_last_error{name="requestheader::cm"}')).to.equal(1);
    expect(s.get('kube_delegated_auth_trust_source_last_error{name="never"}')).to.equal(1);
    now += 5_000;
    s = await scrape(m);
    expect(s.get('kube_delegated_auth_trust_source_age_seconds{name="client-ca::cm"}')).to.equal(65);
  });

  it('plain CA providers report loaded by name', async () => {
    const m = fresh();
    const pki = testPki();
    m.instrument({
      caProviders: [
        staticCABundle(pki.clientCA.certPem, 'client-ca-file'),
        { name: 'empty', current: () => undefined, addListener: () => () => {} },
      ],
    });
    const s = await scrape(m);
    expect(s.get('kube_delegated_auth_trust_loaded{name="client-ca-file"}')).to.equal(1);
    expect(s.get('kube_delegated_auth_trust_loaded{name="empty"}')).to.equal(0);
  });

  describe('compressUsername (Go TestCompressUsername cases)', () => {
    const cases: readonly [string, string][] = [
      ['admin', 'admin'],
      ['kubelet', 'kubelet'],
      ['kube_proxy', 'kube_proxy'],
      ['client', 'client'],
      ['system:serviceaccount:kube-system:default', 'system:serviceaccount:kube-system:default'],
      ['system:serviceaccount:kube-system:other', 'other'],
      ['foo@example.com', 'email_id'],
      ['alice', 'other'],
      ['', 'other'],
    ];
    for (const [input, want] of cases)
      it(`${JSON.stringify(input)} -> ${want}`, () => {
        expect(compressUsername(input)).to.equal(want);
      });
  });
});

describe('/metrics over real TLS through requestInfo → authenticate → authorize', () => {
  const pki = testPki();
  const closers: (() => Promise<unknown>)[] = [];
  let metrics: KdaMetrics;
  let url: string;
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  before(async () => {
    metrics = createMetrics();
    closers.push(() => metrics.close());
    const sar = subjectAccessReviewAuthorizer({
      // in-process fake SAR: developers may list things; nobody else.
      client: metrics.instrumentSubjectAccessReviewClient({
        async create(review) {
          return {
            allowed:
              review.spec.groups?.includes('developers') === true && review.spec.resourceAttributes !== undefined,
          };
        },
      }),
    });
    closers.push(() => sar.close());
    metrics.instrument({
      authorizer: sar,
      caProviders: [staticCABundle(pki.clientCA.certPem, 'client-ca'), staticCABundle(pki.frontProxyCA.certPem, 'rh')],
    });
    const app = new Koa();
    app.use(requestInfo());
    app.use(
      authenticate({
        requestHeader: {
          caProvider: staticCABundle(pki.frontProxyCA.certPem, 'rh'),
          configProvider: staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] }),
        },
        clientCA: staticCABundle(pki.clientCA.certPem, 'client-ca'),
      }),
    );
    app.use(authorize({ authorizer: unionAuthorizers(alwaysAllowGroupsAuthorizer(), sar) }));
    app.use(metricsEndpoint(metrics));
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const srv = await startTlsServer(app.callback());
    closers.push(() => srv.close());
    url = srv.url;
  });

  const agents = new Map<TestCert | undefined, Agent>();
  const as = (cert?: TestCert): Agent => {
    let a = agents.get(cert);
    if (!a) {
      a = clientAgent(cert);
      agents.set(cert, a);
      closers.push(() => a!.close());
    }
    return a;
  };
  const get = async (path: string, cert?: TestCert, headers: Record<string, string> = {}) => {
    const r = await request(url + path, { dispatcher: as(cert), headers });
    return { status: r.statusCode, text: await r.body.text(), type: r.headers['content-type'] };
  };

  it('anonymous scrape is 403 (a non-resource path authorized like any other)', async () => {
    const r = await get('/metrics');
    expect(r.status).to.equal(403);
    expect(r.text).to.contain('cannot get path \\"/metrics\\"');
  });

  it('after mixed traffic, a system:masters scrape shows the counts of that traffic', async () => {
    const before = parse((await get('/metrics', pki.alice)).text);
    const n = (s: Map<string, number>, k: string) => s.get(k) ?? 0;
    expect(
      (
        await get('/apis/x/v1/namespaces/default/things', pki.proxy, {
          'x-remote-user': 'dev',
          'x-remote-group': 'developers',
        })
      ).status,
    ).to.equal(200);
    expect(
      (
        await get('/apis/x/v1/namespaces/default/things', pki.proxy, {
          'x-remote-user': 'dev',
          'x-remote-group': 'developers',
        })
      ).status,
    ).to.equal(200);
    expect((await get('/apis/x/v1/namespaces/default/things', pki.proxy, { 'x-remote-user': 'eve' })).status).to.equal(
      403,
    );
    expect((await get('/apis/x/v1/things', pki.proxyOtherCN, { 'x-remote-user': 'mallory' })).status).to.equal(401);
    const r = await get('/metrics', pki.alice);
    expect(r.status).to.equal(200);
    expect(r.type).to.match(/^text\/plain; version=0\.0\.4/);
    const after = parse(r.text);
    const delta = (k: string) => n(after, k) - n(before, k);
    // The first scrape counts too: alice (client cert, system:masters) was authenticated and allowed.
    expect(delta('authentication_attempts{result="success"}')).to.equal(4);
    expect(delta('authentication_attempts{result="error"}')).to.equal(1);
    expect(delta('authorization_attempts_total{result="allowed"}')).to.equal(3);
    expect(delta('authorization_attempts_total{result="no-opinion"}')).to.equal(1);
    expect(delta('apiserver_delegated_authz_request_total{code="201"}')).to.equal(2);
    expect(delta('kube_delegated_auth_authz_cache_hits_total')).to.equal(1);
    // alice's client certificate (the front proxy's is not observed once it authenticated, as in Go).
    expect(delta('apiserver_client_certificate_expiration_seconds_count')).to.equal(2);
    expect(after.get('kube_delegated_auth_trust_loaded{name="client-ca"}')).to.equal(1);
    expect(after.get('kube_delegated_auth_trust_loaded{name="rh"}')).to.equal(1);
  });
});
