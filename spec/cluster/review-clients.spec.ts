import { expect } from 'chai';
import { KubeApiError, RestClient } from '../../lib/cluster/rest-client.js';
import {
  subjectAccessReviewClient,
  subjectAccessReviewPath,
  tokenReviewClient,
} from '../../lib/cluster/review-clients.js';
import type { SubjectAccessReview, SubjectAccessReviewSpec } from '../../lib/authz/interfaces.js';
import type { KdaError } from '../../lib/errors.js';
import { defaultShouldRetry } from '../../lib/util/review-retry.js';
import { sendJson, startFakeApiserver, status, type FakeApiserver } from './fake-apiserver.js';

const review = (spec: SubjectAccessReviewSpec): SubjectAccessReview => ({
  apiVersion: 'authorization.k8s.io/v1',
  kind: 'SubjectAccessReview',
  spec,
});

describe('cluster/review-clients', () => {
  let fake: FakeApiserver;
  let client: RestClient;
  before(async () => {
    fake = await startFakeApiserver();
    client = new RestClient({ connection: fake.connection() });
  });
  after(async () => {
    await client.destroy();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
  });

  it('SAR: posts a v1 SubjectAccessReview and normalises the status', async () => {
    fake.handle((_q, res) => sendJson(res, 201, { status: { allowed: false, denied: true, reason: 'no' } }));
    const sar = subjectAccessReviewClient(client);
    const spec = { user: 'bob', groups: ['g'], nonResourceAttributes: { path: '/metrics', verb: 'get' } };
    expect(await sar.create(review(spec))).to.deep.equal({ allowed: false, denied: true, reason: 'no' });
    await sar.create(review(spec));
    expect(fake.requests.map((r) => [r.method, r.path])).to.deep.equal([
      ['POST', subjectAccessReviewPath],
      ['POST', subjectAccessReviewPath],
    ]);
    for (const r of fake.requests) {
      expect(r.body).to.deep.equal({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec });
    }
  });

  it('SAR: a status without allowed is allowed:false', async () => {
    fake.handle((_q, res) => sendJson(res, 201, { status: {} }));
    expect(await subjectAccessReviewClient(client).create(review({ user: 'x' }))).to.deep.equal({ allowed: false });
  });

  const errorCases: readonly {
    name: string;
    code: number;
    reason: string;
    headers?: Record<string, string>;
    retry: boolean;
  }[] = [
    {
      name: '500 InternalError (in-process fake): a retryable KubeApiError',
      code: 500,
      reason: 'InternalError',
      retry: true,
    },
    { name: '403 Forbidden: not retryable', code: 403, reason: 'Forbidden', retry: false },
    {
      name: '429 with Retry-After (in-process fake): retryable',
      code: 429,
      reason: 'TooManyRequests',
      headers: { 'retry-after': '2' },
      retry: true,
    },
  ];
  for (const c of errorCases) {
    it(c.name, async () => {
      fake.handle((_q, res) => sendJson(res, c.code, status(c.code, c.reason, 'msg'), c.headers));
      for (const call of [
        () => subjectAccessReviewClient(client).create(review({ user: 'x' })),
        () => tokenReviewClient(client).create({ token: 't' }),
      ]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).to.be.instanceOf(KubeApiError);
        expect((err as KdaError).code).to.equal('ERR_KDA_KUBE_API');
        expect((err as KdaError).details).to.include({ status: c.code, reason: c.reason });
        expect(defaultShouldRetry(err)).to.equal(c.retry);
      }
    });
  }

  it('a hanging apiserver (in-process fake): a timed-out KubeApiError, not retryable', async () => {
    fake.handle(() => {});
    const short = new RestClient({ connection: fake.connection(), timeout: 100 });
    const err = await subjectAccessReviewClient(short)
      .create(review({ user: 'x' }))
      .catch((e: unknown) => e)
      .finally(() => short.destroy());
    expect(err).to.be.instanceOf(KubeApiError);
    expect((err as KubeApiError).timedOut).to.equal(true);
    expect(defaultShouldRetry(err)).to.equal(false);
  });
});
