import { expect } from 'chai';
import { Decision, authorizerFunc } from '../../lib/authz/interfaces.js';
import { KdaError } from '../../lib/errors.js';
import {
  TransientError,
  authorizeWith,
  subjectAccessReviewWebhook,
  toRequestAttributes,
  type AuthorizeResult,
  type SubjectAccessReviewSpec,
} from '../../lib/webhook/subject-access-review-webhook.js';
import { post, serveWebhook, type Served } from './helpers.js';

const v1 = 'authorization.k8s.io/v1';
const v1beta1 = 'authorization.k8s.io/v1beta1';

const sar = (apiVersion: string, spec: Record<string, unknown>) => ({ apiVersion, kind: 'SubjectAccessReview', spec });
const pods = { namespace: 'dev', verb: 'list', group: '', version: 'v1', resource: 'pods' };

/** Decides from the user name; records the spec it saw. */
const seen: SubjectAccessReviewSpec[] = [];
async function authorize(spec: SubjectAccessReviewSpec): Promise<AuthorizeResult> {
  seen.push(spec);
  switch (spec.user) {
    case 'alice':
      return { allowed: spec.groups.includes('devs'), reason: 'devs may' };
    case 'mallory':
      return { allowed: false, denied: true, reason: 'banned' };
    case 'bob':
      return { allowed: false, reason: 'no rule', evaluationError: 'rule 3 unreadable' };
    case 'both':
      return { allowed: true, denied: true };
    case 'busy':
      throw new TransientError(5, 'policy store throttled', { statusCode: 429 });
    case 'down':
      throw new TransientError(1);
    case 'bug':
      throw new Error('boom');
    default:
      return { allowed: false };
  }
}

interface Case {
  readonly name: string;
  readonly body: unknown;
  readonly expectStatus: number;
  readonly expectApiVersion?: string;
  readonly expectReviewStatus?: Record<string, unknown>;
  readonly expectSpec?: Partial<SubjectAccessReviewSpec>;
  readonly expectMessage?: RegExp;
  readonly expectRetryAfter?: string;
}

const cases: readonly Case[] = [
  {
    name: 'v1 allowed, groups read from spec.groups',
    body: sar(v1, { user: 'alice', groups: ['devs'], uid: 'u1', extra: { k: ['v'] }, resourceAttributes: pods }),
    expectStatus: 200,
    expectApiVersion: v1,
    expectReviewStatus: { allowed: true, reason: 'devs may' },
    expectSpec: { apiVersion: v1, user: 'alice', uid: 'u1', groups: ['devs'], extra: { k: ['v'] } },
  },
  {
    name: 'v1beta1 allowed, groups read from spec.group',
    body: sar(v1beta1, { user: 'alice', group: ['devs'], resourceAttributes: pods }),
    expectStatus: 200,
    expectApiVersion: v1beta1,
    expectReviewStatus: { allowed: true, reason: 'devs may' },
    expectSpec: { apiVersion: v1beta1, groups: ['devs'] },
  },
  {
    name: 'v1beta1 ignores a v1-style groups field',
    body: sar(v1beta1, { user: 'alice', groups: ['devs'], resourceAttributes: pods }),
    expectStatus: 200,
    expectApiVersion: v1beta1,
    expectReviewStatus: { allowed: false, reason: 'devs may' },
    expectSpec: { groups: [] },
  },
  {
    name: '"no" is 200 allowed:false without denied',
    body: sar(v1, { user: 'carol', nonResourceAttributes: { path: '/healthz', verb: 'get' } }),
    expectStatus: 200,
    expectReviewStatus: { allowed: false },
    expectSpec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } },
  },
  {
    name: 'explicit deny is 200 allowed:false denied:true',
    body: sar(v1, { user: 'mallory', resourceAttributes: pods }),
    expectStatus: 200,
    expectReviewStatus: { allowed: false, denied: true, reason: 'banned' },
  },
  {
    name: 'evaluationError is passed on',
    body: sar(v1beta1, { user: 'bob', resourceAttributes: pods }),
    expectStatus: 200,
    expectApiVersion: v1beta1,
    expectReviewStatus: { allowed: false, reason: 'no rule', evaluationError: 'rule 3 unreadable' },
  },
  {
    name: 'missing resource attribute strings become empty strings',
    body: sar(v1, { user: 'carol', resourceAttributes: { verb: 'get', resource: 'namespaces' } }),
    expectStatus: 200,
    expectReviewStatus: { allowed: false },
    expectSpec: {
      resourceAttributes: {
        namespace: '',
        verb: 'get',
        group: '',
        version: '',
        resource: 'namespaces',
        subresource: '',
        name: '',
      },
    },
  },
  {
    name: 'allowed and denied both true is 500',
    body: sar(v1, { user: 'both', resourceAttributes: pods }),
    expectStatus: 500,
  },
  { name: 'authorize throwing is 500', body: sar(v1, { user: 'bug', resourceAttributes: pods }), expectStatus: 500 },
  {
    name: 'throttled is 429 with Retry-After',
    body: sar(v1, { user: 'busy', resourceAttributes: pods }),
    expectStatus: 429,
    expectRetryAfter: '5',
  },
  {
    name: 'unavailable is 503 with Retry-After',
    body: sar(v1, { user: 'down', resourceAttributes: pods }),
    expectStatus: 503,
    expectRetryAfter: '1',
  },
  {
    name: 'both resource and non-resource attributes is 400',
    body: sar(v1, { user: 'alice', resourceAttributes: pods, nonResourceAttributes: { path: '/', verb: 'get' } }),
    expectStatus: 400,
    expectMessage: /exactly one of/,
  },
  {
    name: 'neither attribute kind is 400',
    body: sar(v1, { user: 'alice' }),
    expectStatus: 400,
    expectMessage: /exactly one of/,
  },
  {
    name: 'no user and no groups is 400',
    body: sar(v1, { resourceAttributes: pods }),
    expectStatus: 400,
    expectMessage: /at least one of spec.user or spec.groups/,
  },
  {
    name: 'v1beta1 group that is not a list is 400',
    body: sar(v1beta1, { user: 'a', group: 'devs', resourceAttributes: pods }),
    expectStatus: 400,
    expectMessage: /spec.group must be/,
  },
  {
    name: 'wrong apiVersion is 400',
    body: sar('authorization.k8s.io/v2', { user: 'a', resourceAttributes: pods }),
    expectStatus: 400,
    expectMessage: /apiVersion/,
  },
  {
    name: 'wrong kind is 400',
    body: { apiVersion: v1, kind: 'TokenReview', spec: { user: 'a', resourceAttributes: pods } },
    expectStatus: 400,
    expectMessage: /kind/,
  },
  {
    name: 'bad extra is 400',
    body: sar(v1, { user: 'a', extra: { k: 'v' }, resourceAttributes: pods }),
    expectStatus: 400,
    expectMessage: /extra/,
  },
];

describe('webhook/subjectAccessReviewWebhook', () => {
  let served: Served;
  before(async () => {
    served = await serveWebhook(subjectAccessReviewWebhook({ authorize, maxBodyBytes: 2048 }));
  });
  after(() => served.close());

  for (const c of cases) {
    it(c.name, async () => {
      seen.length = 0;
      const res = await post(served, c.body);
      expect(res.status, res.text).to.equal(c.expectStatus);
      const body = res.json!;
      if (c.expectStatus === 200) {
        expect(body).to.include({ kind: 'SubjectAccessReview', apiVersion: c.expectApiVersion ?? v1 });
        expect(body.status).to.deep.equal(c.expectReviewStatus);
      } else {
        expect(body).to.include({ kind: 'Status', status: 'Failure', code: c.expectStatus });
        expect(res.text).not.to.include('"allowed"');
        if (c.expectMessage) expect(body.message).to.match(c.expectMessage);
      }
      if (c.expectSpec) expect(seen[0]).to.deep.include(c.expectSpec);
      expect(res.headers['retry-after']).to.equal(c.expectRetryAfter);
    });
  }

  it('a body over maxBodyBytes is 413', async () => {
    const res = await post(
      served,
      sar(v1, { user: 'alice', groups: Array.from({ length: 400 }, (_, i) => `g${i}`), resourceAttributes: pods }),
    );
    expect(res.status).to.equal(413);
  });

  it('PUT is 405', async () => {
    const res = await post(served, sar(v1, { user: 'alice', resourceAttributes: pods }), { method: 'PUT' });
    expect(res.status).to.equal(405);
  });
});

describe('webhook/authorizeWith (library Authorizer adapter)', () => {
  const spec: SubjectAccessReviewSpec = {
    apiVersion: v1,
    user: 'alice',
    uid: '',
    groups: ['devs'],
    extra: {},
    resourceAttributes: {
      namespace: 'dev',
      verb: 'get',
      group: 'apps',
      version: 'v1',
      resource: 'deployments',
      subresource: 'scale',
      name: 'web',
    },
  };
  const signal = new AbortController().signal;

  const table: readonly { name: string; decision: Decision; error?: KdaError; expect: AuthorizeResult | 'throws' }[] = [
    { name: 'Allow → allowed', decision: Decision.Allow, expect: { allowed: true, reason: 'r' } },
    {
      name: 'Allow with error → allowed (error ignored)',
      decision: Decision.Allow,
      error: new KdaError('ERR_KDA_REVIEW_FAILED', 'x'),
      expect: { allowed: true, reason: 'r' },
    },
    { name: 'Deny → denied', decision: Decision.Deny, expect: { allowed: false, denied: true, reason: 'r' } },
    { name: 'NoOpinion → neither', decision: Decision.NoOpinion, expect: { allowed: false, reason: 'r' } },
    {
      name: 'NoOpinion with error → throws (500)',
      decision: Decision.NoOpinion,
      error: new KdaError('ERR_KDA_REVIEW_FAILED', 'x'),
      expect: 'throws',
    },
  ];
  for (const c of table) {
    it(c.name, async () => {
      const a = authorizeWith(
        authorizerFunc(async () => ({ decision: c.decision, reason: 'r', ...(c.error ? { error: c.error } : {}) })),
      );
      if (c.expect === 'throws') {
        let thrown: unknown;
        await a(spec, signal).catch((e: unknown) => (thrown = e));
        expect(thrown).to.equal(c.error);
      } else {
        expect(await a(spec, signal)).to.deep.equal(c.expect);
      }
    });
  }

  it('toRequestAttributes maps resource and non-resource specs', () => {
    expect(toRequestAttributes(spec)).to.deep.include({
      verb: 'get',
      resourceRequest: true,
      apiGroup: 'apps',
      apiVersion: 'v1',
      namespace: 'dev',
      resource: 'deployments',
      subresource: 'scale',
      name: 'web',
    });
    const { resourceAttributes: _resource, ...withoutResource } = spec;
    const nr = toRequestAttributes({
      ...withoutResource,
      nonResourceAttributes: { path: '/metrics', verb: 'get' },
    } as SubjectAccessReviewSpec);
    expect(nr).to.deep.include({ resourceRequest: false, path: '/metrics', verb: 'get' });
    expect(nr.user).to.deep.equal({ name: 'alice', uid: '', groups: ['devs'], extra: {} });
  });
});
