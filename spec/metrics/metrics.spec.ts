import { expect } from 'chai';
import Koa from 'koa';
import { register as globalRegister } from 'prom-client';
import { request, type Agent } from 'undici';
import { alwaysAllowGroupsAuthorizer } from '../../lib/authz/always-allow-groups.js';
import { subjectAccessReviewAuthorizer } from '../../lib/authz/subject-access-review.js';
import { unionAuthorizers } from '../../lib/authz/union.js';
import { authenticate } from '../../lib/koa/authenticate.js';
import { authorize } from '../../lib/koa/authorize.js';
import { requestInfo } from '../../lib/koa/request-info.js';
import { metricsEndpoint } from '../../lib/metrics/koa.js';
import { createMetrics, type KdaMetrics } from '../../lib/metrics/metrics.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { testPki, type TestCert } from '../support/pki.js';
import { clientAgent, startTlsServer } from '../support/tls-server.js';
import { freshMetrics, parse } from './support.js';

describe('createMetrics', () => {
  const fresh = freshMetrics();

  it('registers into its own registry, never the prom-client global one, and two instances do not clash', async () => {
    const a = fresh();
    const b = fresh();
    expect(a.registry).not.to.equal(b.registry);
    expect(globalRegister.getSingleMetric('authentication_attempts')).to.equal(undefined);
    expect(a.registry.getSingleMetric('authentication_attempts')).not.to.equal(undefined);
    expect(a.contentType).to.match(/^text\/plain; version=0\.0\.4/);
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
    for (let i = 0; i < 2; i++) {
      const dev = { 'x-remote-user': 'dev', 'x-remote-group': 'developers' };
      expect((await get('/apis/x/v1/namespaces/default/things', pki.proxy, dev)).status).to.equal(200);
    }
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
