// lib/metrics/scrape-mirrors.ts through createMetrics: token cache, SAR authorizer and trust-source mirrors.
import { expect } from 'chai';
import type { TokenAuthenticator } from '../../lib/authn/interfaces.js';
import { cachedTokenAuthenticator } from '../../lib/authn/token-cache.js';
import type { SubjectAccessReviewClient } from '../../lib/authz/interfaces.js';
import { subjectAccessReviewAuthorizer } from '../../lib/authz/subject-access-review.js';
import { KdaError } from '../../lib/errors.js';
import type { TrustStatus } from '../../lib/trust/interfaces.js';
import { staticCABundle } from '../../lib/trust/static.js';
import { webhookError } from '../../lib/util/review-retry.js';
import { pathAttrs } from '../authz/fixtures.js';
import { testPki } from '../support/pki.js';
import { freshMetrics, scrape } from './support.js';

describe('metrics/scrape-mirrors: cache and trust figures read at scrape time', () => {
  const fresh = freshMetrics();

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
      await sar.authorize(pathAttrs('/x', { user: { name, uid: '', groups: [], extra: {} } }));
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
});
