// lib/metrics/review-metrics.ts through createMetrics: the review-client wrappers and hooks.
import { expect } from 'chai';
import type { SubjectAccessReviewClient } from '../../lib/authz/interfaces.js';
import { webhookError } from '../../lib/util/review-retry.js';
import { freshMetrics, scrape } from './support.js';

describe('metrics/review-metrics: TokenReview and SubjectAccessReview call metrics', () => {
  const fresh = freshMetrics();

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
});
