import { expect } from 'chai';
import fc from 'fast-check';
import type { UserInfo } from '../../lib/authn/interfaces.js';
import type {
  RequestAttributes,
  SubjectAccessReview,
  SubjectAccessReviewClient,
  SubjectAccessReviewStatus,
} from '../../lib/authz/interfaces.js';
import {
  SubjectAccessReviewAuthorizer,
  decisionFromStatus,
  maxCacheKeySize,
  maxControlledAttrCacheSize,
  subjectAccessReview,
  subjectAccessReviewCacheKey,
  subjectAccessReviewSpec,
  type SubjectAccessReviewAuthorizerOptions,
} from '../../lib/authz/subject-access-review.js';
import { InvalidOptionError, KdaError } from '../../lib/errors.js';
import { webhookError } from '../../lib/util/review-retry.js';
import { alice, pathAttrs, resourceAttrs } from './fixtures.js';

type Answer =
  | SubjectAccessReviewStatus
  | Error
  | ((sar: SubjectAccessReview, signal?: AbortSignal) => Promise<SubjectAccessReviewStatus>);

/** In-process fake client: answers from a queue (last answer repeats), records every request. */
function fakeClient(...answers: Answer[]) {
  const calls: SubjectAccessReview[] = [];
  const client: SubjectAccessReviewClient = {
    async create(sar, signal) {
      calls.push(sar);
      const a = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (typeof a === 'function') return a(sar, signal);
      if (a instanceof Error) throw a;
      return a;
    },
  };
  return { client, calls };
}

function fakeClock(start = 5_000_000) {
  return {
    t: start,
    now() {
      return this.t;
    },
  };
}

function newAuthorizer(client: SubjectAccessReviewClient, extra: Partial<SubjectAccessReviewAuthorizerOptions> = {}) {
  const sleeps: number[] = [];
  const a = new SubjectAccessReviewAuthorizer({
    client,
    retryBackoff: { sleep: async (ms) => void sleeps.push(ms), random: () => 0 },
    ...extra,
  });
  return { a, sleeps };
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

/** The attributes without a `user` property at all (not `user: undefined`). */
function withoutUser(attrs: RequestAttributes): RequestAttributes {
  const { user: _user, ...rest } = attrs;
  return rest as RequestAttributes;
}

describe('authz/subject-access-review SubjectAccessReviewAuthorizer', () => {
  const authorizers: SubjectAccessReviewAuthorizer[] = [];
  afterEach(async () => {
    await Promise.all(authorizers.splice(0).map((a) => a.close()));
  });
  const track = <T extends { a: SubjectAccessReviewAuthorizer }>(x: T): T => {
    authorizers.push(x.a);
    return x;
  };

  describe('SubjectAccessReview body (reference §7.3)', () => {
    it('resource request: user, groups, resourceAttributes in Go field order; uid and extra omitted when empty', () => {
      const sar = subjectAccessReview(resourceAttrs({ subresource: 'status' }));
      expect(JSON.stringify(sar)).to.equal(
        '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":{"namespace":"default","verb":"get","group":"wardle.example.com","version":"v1alpha1","resource":"flunders","subresource":"status","name":"foo"},"user":"alice","groups":["developers","system:authenticated"]}}',
      );
    });
    it('empty attribute strings are omitted (core group, cluster scope, no name)', () => {
      const sar = subjectAccessReview(
        resourceAttrs({ apiGroup: '', namespace: '', name: '', apiVersion: 'v1', resource: 'nodes', verb: 'list' }),
      );
      expect(sar.spec.resourceAttributes).to.deep.equal({ verb: 'list', version: 'v1', resource: 'nodes' });
    });
    it('non-resource request: nonResourceAttributes {path, verb}', () => {
      expect(subjectAccessReview(pathAttrs('/metrics')).spec).to.deep.equal({
        nonResourceAttributes: { path: '/metrics', verb: 'get' },
        user: 'alice',
        groups: ['developers', 'system:authenticated'],
      });
    });
    it('uid and extra are sent when present; extra keys sorted', () => {
      const user: UserInfo = { name: 'bob', uid: 'u-1', groups: [], extra: { 'z-key': ['1'], 'a-key': ['x', 'y'] } };
      expect(JSON.stringify(subjectAccessReview(pathAttrs('/x', { user })).spec)).to.equal(
        '{"nonResourceAttributes":{"path":"/x","verb":"get"},"user":"bob","extra":{"a-key":["x","y"],"z-key":["1"]},"uid":"u-1"}',
      );
    });
    it('selector requirements (1.31+) go into fieldSelector / labelSelector; values omitted when empty', () => {
      const sar = subjectAccessReview(
        resourceAttrs({
          verb: 'list',
          name: '',
          fieldSelectorRequirements: [{ key: 'spec.x', operator: 'In', values: ['1'] }],
          labelSelectorRequirements: [{ key: 'app', operator: 'Exists' }],
        }),
      );
      expect(sar.spec.resourceAttributes?.fieldSelector).to.deep.equal({
        requirements: [{ key: 'spec.x', operator: 'In', values: ['1'] }],
      });
      expect(JSON.stringify(sar.spec.resourceAttributes?.labelSelector)).to.equal(
        '{"requirements":[{"key":"app","operator":"Exists"}]}',
      );
    });
  });

  describe('decision mapping (reference §7.5)', () => {
    const cases = [
      { name: 'allowed', status: { allowed: true, reason: 'r' }, decision: 'Allow', error: undefined },
      { name: 'denied', status: { allowed: false, denied: true, reason: 'r' }, decision: 'Deny', error: undefined },
      {
        name: 'neither → no opinion',
        status: { allowed: false, reason: 'r' },
        decision: 'NoOpinion',
        error: undefined,
      },
      {
        name: 'allowed and denied → Deny with error',
        status: { allowed: true, denied: true, reason: 'r' },
        decision: 'Deny',
        error: 'webhook subject access review returned both allow and deny response',
      },
      {
        name: 'evaluationError ignored',
        status: { allowed: true, evaluationError: 'x' },
        decision: 'Allow',
        error: undefined,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const r = decisionFromStatus(c.status);
        expect(r.decision).to.equal(c.decision);
        expect(r.reason).to.equal(c.status.reason ?? '');
        expect(r.error?.message).to.equal(c.error);
      });
    }
    it('authorize() returns the client answer mapped (in-process fake)', async () => {
      const { client } = fakeClient({ allowed: false, denied: true, reason: 'no way' });
      const { a } = track(newAuthorizer(client));
      expect(await a.authorize(resourceAttrs())).to.deep.equal({ decision: 'Deny', reason: 'no way' });
    });
  });

  describe('cache (reference §7.4, fake clock)', () => {
    it('allowed answers are reused for the authorized TTL, then asked again', async () => {
      const clock = fakeClock();
      const { client, calls } = fakeClient({ allowed: true });
      const { a } = track(newAuthorizer(client, { clock, authorizationWebhookCacheAuthorizedTtl: 5_000 }));
      await a.authorize(resourceAttrs());
      clock.t += 4_999;
      await a.authorize(resourceAttrs());
      expect(calls).to.have.length(1);
      clock.t += 1;
      await a.authorize(resourceAttrs());
      expect(calls).to.have.length(2);
      expect(a.stats()).to.include({ hits: 1, misses: 2, reviews: 2 });
    });
    it('denied / no-opinion answers use the unauthorized TTL', async () => {
      const clock = fakeClock();
      const { client, calls } = fakeClient({ allowed: false });
      const { a } = track(
        newAuthorizer(client, {
          clock,
          authorizationWebhookCacheAuthorizedTtl: 60_000,
          authorizationWebhookCacheUnauthorizedTtl: 1_000,
        }),
      );
      await a.authorize(resourceAttrs());
      clock.t += 999;
      await a.authorize(resourceAttrs());
      clock.t += 1;
      await a.authorize(resourceAttrs());
      expect(calls).to.have.length(2);
    });
    it('the key is the whole spec: another user, group, extra or attribute is a miss', async () => {
      const { client, calls } = fakeClient({ allowed: true });
      const { a } = track(newAuthorizer(client));
      await a.authorize(resourceAttrs());
      await a.authorize(resourceAttrs({ user: { ...alice, name: 'bob' } }));
      await a.authorize(resourceAttrs({ user: { ...alice, groups: ['developers'] } }));
      await a.authorize(resourceAttrs({ user: { ...alice, extra: { k: ['v'] } } }));
      await a.authorize(resourceAttrs({ user: { ...alice, uid: 'u' } }));
      await a.authorize(resourceAttrs({ verb: 'update' }));
      await a.authorize(resourceAttrs());
      expect(calls).to.have.length(6);
    });
    /** `attrs` grown by `grow(n)` until its cache key is exactly `bytes` long (the key is ASCII here). */
    const keyOf = (make: (n: number) => RequestAttributes, bytes: number): RequestAttributes => {
      // Start from the difference, then step down: the field's length prefix gains digits as it grows.
      let n = bytes - subjectAccessReviewCacheKey(make(0)).length;
      while (subjectAccessReviewCacheKey(make(n)).length > bytes) n--;
      const attrs = make(n);
      expect(Buffer.byteLength(subjectAccessReviewCacheKey(attrs))).to.equal(bytes);
      return attrs;
    };
    // kubernetes/kubernetes#141457: Go gates on eight scalar attributes only, so selectors (from the URL) and the user
    // (groups, extra) make keys of any size that are still cached. Here the key itself is measured, whatever grew it.
    const growers: [string, (n: number) => RequestAttributes][] = [
      ['a long name', (n) => resourceAttrs({ name: 'n'.repeat(1 + n) })],
      [
        'a huge label selector on a list',
        (n) =>
          resourceAttrs({
            verb: 'list',
            name: '',
            labelSelectorRequirements: [{ key: 'k', operator: 'In', values: ['v'.repeat(1 + n)] }],
          }),
      ],
      [
        'a huge field selector on a list',
        (n) =>
          resourceAttrs({
            verb: 'list',
            name: '',
            fieldSelectorRequirements: [{ key: 'f'.repeat(1 + n), operator: 'Exists' }],
          }),
      ],
      ['a user with many groups', (n) => resourceAttrs({ user: { ...alice, groups: ['g'.repeat(1 + n)] } })],
      ['a user with a large extra', (n) => resourceAttrs({ user: { ...alice, extra: { k: ['x'.repeat(1 + n)] } } })],
    ];
    for (const [what, grow] of growers) {
      it(`${what}: not cached when the cache key is ${maxCacheKeySize} bytes or more; cached at ${maxCacheKeySize - 1}`, async () => {
        const { client, calls } = fakeClient({ allowed: true });
        const { a } = track(newAuthorizer(client));
        const big = keyOf(grow, maxCacheKeySize);
        await a.authorize(big);
        expect(a.authorizeSync(big), 'no synchronous answer for an uncacheable review').to.equal(undefined);
        await a.authorize(big);
        expect(calls).to.have.length(2);
        const fits = keyOf(grow, maxCacheKeySize - 1);
        await a.authorize(fits);
        expect(a.authorizeSync(fits)?.decision).to.equal('Allow');
        await a.authorize(fits);
        expect(calls).to.have.length(3);
      });
    }
    it('the byte count is of UTF-8: a key of fewer code units but 10000 bytes or more is not cached', async () => {
      const { client, calls } = fakeClient({ allowed: true });
      const { a } = track(newAuthorizer(client));
      const base = subjectAccessReviewCacheKey(resourceAttrs({ name: '' })).length;
      // 'é' is one UTF-16 code unit and two UTF-8 bytes.
      const attrs = resourceAttrs({ name: 'é'.repeat(Math.ceil((maxCacheKeySize - base) / 2) + 1) });
      expect(subjectAccessReviewCacheKey(attrs).length).to.be.below(maxCacheKeySize);
      await a.authorize(attrs);
      await a.authorize(attrs);
      expect(calls).to.have.length(2);
    });
    it('maxControlledAttrCacheSize (deprecated) is the same bound', () => {
      expect(maxControlledAttrCacheSize).to.equal(maxCacheKeySize).and.to.equal(10_000);
    });
    it('errors are never cached', async () => {
      const { client, calls } = fakeClient(webhookError('forbidden', { status: 403, reason: 'Forbidden' }), {
        allowed: true,
      });
      const { a } = track(newAuthorizer(client));
      const first = await a.authorize(resourceAttrs());
      expect(first.error?.message).to.equal('forbidden');
      expect((await a.authorize(resourceAttrs())).decision).to.equal('Allow');
      expect(calls).to.have.length(2);
    });
  });

  describe('single-flight (in-process fake)', () => {
    it('1000 concurrent identical requests → exactly 1 client call', async () => {
      const g = gate();
      const { client, calls } = fakeClient(async () => {
        await g.opened;
        return { allowed: true };
      });
      const { a } = track(newAuthorizer(client));
      const all = Array.from({ length: 1000 }, () => a.authorize(resourceAttrs()));
      await new Promise((r) => setImmediate(r));
      g.open();
      const results = await Promise.all(all);
      expect(calls).to.have.length(1);
      expect(results.every((r) => r.decision === 'Allow')).to.equal(true);
      expect(a.stats()).to.include({ joins: 999, reviews: 1, inFlight: 0 });
    });

    it('1000 concurrent requests over 100 identities → 100 client calls', async () => {
      const g = gate();
      const { client, calls } = fakeClient(async (sar) => {
        await g.opened;
        return { allowed: sar.spec.user !== 'user-13' };
      });
      const { a } = track(newAuthorizer(client));
      const all = Array.from({ length: 1000 }, (_, i) =>
        a.authorize(resourceAttrs({ user: { ...alice, name: `user-${i % 100}` } })),
      );
      await new Promise((r) => setImmediate(r));
      g.open();
      const results = await Promise.all(all);
      expect(calls).to.have.length(100);
      expect(new Set(calls.map((c) => c.spec.user)).size).to.equal(100);
      expect(results.filter((r) => r.decision !== 'Allow')).to.have.length(10);
      expect(a.stats().joins).to.equal(900);
    });

    it('a shared failure reaches every joined caller as a 500-bound error, logged once', async () => {
      const g = gate();
      const logged: string[] = [];
      const logger = { debug() {}, info() {}, warn() {}, error: (_f: object, m: string) => void logged.push(m) };
      const { client, calls } = fakeClient(async () => {
        await g.opened;
        throw webhookError('subjectaccessreviews.authorization.k8s.io is forbidden', {
          status: 403,
          reason: 'Forbidden',
        });
      });
      const { a } = track(newAuthorizer(client, { logger }));
      const all = Array.from({ length: 50 }, () => a.authorize(resourceAttrs()));
      await new Promise((r) => setImmediate(r));
      g.open();
      const results = await Promise.all(all);
      expect(calls).to.have.length(1);
      expect(results.every((r) => r.decision === 'NoOpinion' && r.error?.code === 'ERR_KDA_REVIEW_FAILED')).to.equal(
        true,
      );
      expect(logged).to.deep.equal([
        'Failed to make webhook authorizer request: subjectaccessreviews.authorization.k8s.io is forbidden',
      ]);
    });

    it('a caller that aborts gets an error; the others still get the answer', async () => {
      const g = gate();
      const { client, calls } = fakeClient(async () => {
        await g.opened;
        return { allowed: true };
      });
      const { a } = track(newAuthorizer(client));
      const ac = new AbortController();
      const leaving = a.authorize(resourceAttrs(), ac.signal);
      const staying = a.authorize(resourceAttrs());
      await new Promise((r) => setImmediate(r));
      ac.abort(new Error('client disconnected'));
      expect((await leaving).error?.message).to.equal('client disconnected');
      g.open();
      expect((await staying).decision).to.equal('Allow');
      expect(calls).to.have.length(1);
    });
  });

  describe('retries (reference §7.6, in-process fake, injected sleep)', () => {
    const transient = [
      { name: '500', err: () => webhookError('Internal error', { status: 500, reason: 'InternalError' }) },
      { name: '429', err: () => webhookError('Too many requests', { status: 429, retryAfterSeconds: 1 }) },
      { name: 'ECONNRESET', err: () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) },
    ];
    for (const t of transient) {
      it(`${t.name} then success: retried, answer used and cached`, async () => {
        const { client, calls } = fakeClient(t.err(), t.err(), { allowed: true });
        const { a, sleeps } = track(newAuthorizer(client));
        expect((await a.authorize(resourceAttrs())).decision).to.equal('Allow');
        expect(calls).to.have.length(3);
        expect(sleeps).to.deep.equal([500, 750]);
        await a.authorize(resourceAttrs());
        expect(calls).to.have.length(3);
      });
    }
    it('gives up after 5 calls with the last error (NoOpinion + error → 500)', async () => {
      let n = 0;
      const { client, calls } = fakeClient(async () => {
        throw webhookError(`Internal error ${++n}`, { status: 500 });
      });
      const { a, sleeps } = track(newAuthorizer(client));
      const r = await a.authorize(resourceAttrs());
      expect(calls).to.have.length(5);
      expect(sleeps).to.deep.equal([500, 750, 1125, 1687.5]);
      expect(r).to.include({ decision: 'NoOpinion', reason: '' });
      expect(r.error?.message).to.equal('Internal error 5');
      expect(a.stats()).to.include({ reviews: 5, failures: 1 });
    });
    it('403 (SAR creation forbidden) is not retried', async () => {
      const { client, calls } = fakeClient(
        webhookError(
          'subjectaccessreviews.authorization.k8s.io is forbidden: User "system:serviceaccount:x:y" cannot create',
          {
            status: 403,
            reason: 'Forbidden',
          },
        ),
      );
      const { a, sleeps } = track(newAuthorizer(client));
      const r = await a.authorize(resourceAttrs());
      expect(calls).to.have.length(1);
      expect(sleeps).to.deep.equal([]);
      expect(r.error?.message).to.match(/^subjectaccessreviews\.authorization\.k8s\.io is forbidden/);
    });
    it('a client error that is not a KdaError is wrapped (ERR_KDA_REVIEW_FAILED) and not retried', async () => {
      const { client, calls } = fakeClient(new TypeError('bad body'));
      const { a } = track(newAuthorizer(client));
      const r = await a.authorize(resourceAttrs());
      expect(calls).to.have.length(1);
      expect(r.error).to.be.instanceOf(KdaError);
      expect(r.error?.message).to.equal('bad body');
    });
    it('per-attempt timeout: a hanging call ends with ERR_KDA_REVIEW_TIMEOUT and its signal is aborted', async () => {
      let seen: AbortSignal | undefined;
      const { client, calls } = fakeClient((_sar, signal) => {
        seen = signal;
        return new Promise<never>(() => undefined);
      });
      const { a } = track(newAuthorizer(client, { clientTimeout: 30 }));
      const r = await a.authorize(resourceAttrs());
      expect(calls).to.have.length(1);
      expect(r.error?.code).to.equal('ERR_KDA_REVIEW_TIMEOUT');
      expect(r.error?.message).to.equal('subjectaccessreviews call timed out after 30ms');
      expect(seen?.aborted).to.equal(true);
    });
  });

  describe('stale-if-error (opt-in)', () => {
    it('an expired allowed decision is served when the review fails inside the window', async () => {
      const clock = fakeClock();
      const { client, calls } = fakeClient({ allowed: true, reason: 'rbac' }, webhookError('down', { status: 403 }));
      const { a } = track(newAuthorizer(client, { clock, staleIfErrorTtl: 60_000 }));
      await a.authorize(resourceAttrs());
      clock.t += 10_000 + 30_000;
      expect(await a.authorize(resourceAttrs())).to.deep.equal({ decision: 'Allow', reason: 'rbac' });
      expect(a.stats().staleServed).to.equal(1);
      clock.t += 30_000;
      const r = await a.authorize(resourceAttrs());
      expect(r.error?.message).to.equal('down');
      expect(calls).to.have.length(3);
    });
    it('denied decisions are never served stale', async () => {
      const clock = fakeClock();
      const { client } = fakeClient({ allowed: false }, webhookError('down', { status: 403 }));
      const { a } = track(newAuthorizer(client, { clock, staleIfErrorTtl: 60_000 }));
      await a.authorize(resourceAttrs());
      clock.t += 10_001;
      expect((await a.authorize(resourceAttrs())).error?.message).to.equal('down');
    });
    it('off by default', async () => {
      const clock = fakeClock();
      const { client } = fakeClient({ allowed: true }, webhookError('down', { status: 403 }));
      const { a } = track(newAuthorizer(client, { clock }));
      await a.authorize(resourceAttrs());
      clock.t += 10_001;
      expect((await a.authorize(resourceAttrs())).error?.message).to.equal('down');
    });
  });

  describe('options and lifecycle', () => {
    it('reports every bad option at once', () => {
      expect(
        () =>
          new SubjectAccessReviewAuthorizer({
            client: {} as SubjectAccessReviewClient,
            clientTimeout: 0,
            retryBackoff: { steps: 0 },
          }),
      )
        .to.throw(InvalidOptionError)
        .with.property('problems')
        .that.has.length(3);
    });
    it('close() is idempotent; afterwards authorize() answers ERR_KDA_CLOSED without calling the client', async () => {
      const { client, calls } = fakeClient({ allowed: true });
      const a = new SubjectAccessReviewAuthorizer({ client });
      await a.close();
      await a.close();
      const r = await a.authorize(resourceAttrs());
      expect(r.error?.code).to.equal('ERR_KDA_CLOSED');
      expect(calls).to.have.length(0);
    });
    it('close() aborts a review in flight', async () => {
      let seen: AbortSignal | undefined;
      const { client } = fakeClient((_s, signal) => {
        seen = signal;
        return new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
      });
      const a = new SubjectAccessReviewAuthorizer({ client });
      const p = a.authorize(resourceAttrs());
      await new Promise((r) => setImmediate(r));
      await a.close();
      const r = await p;
      expect(seen?.aborted).to.equal(true);
      expect(r.error?.code).to.equal('ERR_KDA_CLOSED');
    });
  });
});

describe('authz/subject-access-review authorizeSync (fast path)', () => {
  it('answers only from a fresh cache entry, counting hits but never misses (in-process fake)', async () => {
    const clock = fakeClock();
    const { client, calls } = fakeClient({ allowed: true, reason: 'rbac' });
    const { a } = newAuthorizer(client, { clock, authorizationWebhookCacheAuthorizedTtl: 1000 });
    try {
      expect(a.authorizeSync(resourceAttrs())).to.equal(undefined);
      expect(a.stats()).to.include({ hits: 0, misses: 0 });
      expect(await a.authorize(resourceAttrs())).to.deep.equal({ decision: 'Allow', reason: 'rbac' });
      expect(a.authorizeSync(resourceAttrs())).to.deep.equal({ decision: 'Allow', reason: 'rbac' });
      expect(a.authorizeSync(resourceAttrs({ name: 'other' }))).to.equal(undefined);
      expect(a.stats()).to.include({ hits: 1, misses: 1 });
      clock.t += 1000;
      expect(a.authorizeSync(resourceAttrs())).to.equal(undefined);
      expect(a.stats()).to.include({ hits: 1, misses: 1, size: 1 });
      expect(calls).to.have.length(1);
    } finally {
      await a.close();
    }
  });

  it('has no answer for attributes too large to cache, nor once closed (in-process fake)', async () => {
    const { client } = fakeClient({ allowed: true });
    const { a } = newAuthorizer(client);
    const big = resourceAttrs({ name: 'x'.repeat(10_000) });
    await a.authorize(big);
    expect(a.authorizeSync(big)).to.equal(undefined);
    await a.authorize(resourceAttrs());
    expect(a.authorizeSync(resourceAttrs())?.decision).to.equal('Allow');
    await a.close();
    expect(a.authorizeSync(resourceAttrs())).to.equal(undefined);
    expect((await a.authorize(resourceAttrs())).error?.code).to.equal('ERR_KDA_CLOSED');
  });
});

const emptyUser: UserInfo = { name: '', uid: '', groups: [], extra: {} };

describe('authz/subject-access-review subjectAccessReviewCacheKey', () => {
  // The key must partition attributes exactly as Go's key (the JSON of the review spec) does.
  const specKey = (a: RequestAttributes) => JSON.stringify(subjectAccessReviewSpec(a));
  const str = fc.constantFrom('', 'a', 'b', 'a:', '1:a', ':', '0;', ';', '\u00e9', '\ud800', 'ab', '1');
  const requirement = fc.record(
    {
      key: str,
      operator: fc.constantFrom('In' as const, 'NotIn' as const, 'Exists' as const, 'DoesNotExist' as const),
      values: fc.option(fc.array(str, { maxLength: 2 }), { nil: undefined }),
    },
    { requiredKeys: ['key', 'operator'] },
  );
  const user = fc.record({
    name: str,
    uid: str,
    groups: fc.array(str, { maxLength: 3 }),
    extra: fc.dictionary(fc.constantFrom('a', 'b', '1', '10', '9', ''), fc.array(str, { maxLength: 2 }), {
      maxKeys: 3,
    }),
  });
  const attrs = fc
    .record({
      user: fc.option(user, { nil: undefined }),
      verb: str,
      resourceRequest: fc.boolean(),
      path: str,
      apiGroup: str,
      apiVersion: str,
      namespace: str,
      resource: str,
      subresource: str,
      name: str,
      fieldSelectorRequirements: fc.option(fc.array(requirement, { maxLength: 2 }), { nil: undefined }),
      labelSelectorRequirements: fc.option(fc.array(requirement, { maxLength: 2 }), { nil: undefined }),
    })
    .map((a) => a as RequestAttributes);

  it('two attribute sets share a key exactly when their review specs are equal (fast-check)', () => {
    fc.assert(
      fc.property(attrs, attrs, (a, b) => {
        expect(subjectAccessReviewCacheKey(a) === subjectAccessReviewCacheKey(b)).to.equal(specKey(a) === specKey(b));
      }),
      { numRuns: 20_000 },
    );
  });

  const cases: { name: string; a: RequestAttributes; b: RequestAttributes; same: boolean }[] = [
    { name: 'path ignored for resource requests', a: resourceAttrs(), b: resourceAttrs({ path: '/x' }), same: true },
    { name: 'resource fields ignored for paths', a: pathAttrs('/x'), b: pathAttrs('/x', { name: 'n' }), same: true },
    {
      name: 'extra key order ignored',
      a: withExtra({ a: ['1'], b: ['2'] }),
      b: withExtra({ b: ['2'], a: ['1'] }),
      same: true,
    },
    {
      name: 'no user = empty user',
      a: withoutUser(resourceAttrs()),
      b: resourceAttrs({ user: emptyUser }),
      same: true,
    },
    { name: 'group order matters', a: withGroups(['x', 'y']), b: withGroups(['y', 'x']), same: false },
    { name: 'empty extra value list is not absence', a: withExtra({ a: [] }), b: withExtra({}), same: false },
    { name: 'uid', a: resourceAttrs({ user: { ...alice, uid: '1' } }), b: resourceAttrs(), same: false },
    {
      name: 'field split cannot be forged',
      a: resourceAttrs({ namespace: 'a', name: 'b' }),
      b: resourceAttrs({ namespace: 'a1:b', name: '' }),
      same: false,
    },
    {
      name: 'resource vs path request',
      a: pathAttrs('/x', { verb: 'get' }),
      b: resourceAttrs({ path: '/x', verb: 'get' }),
      same: false,
    },
    { name: 'subresource', a: resourceAttrs({ subresource: 'status' }), b: resourceAttrs(), same: false },
    {
      name: 'selector requirement values',
      a: resourceAttrs({ fieldSelectorRequirements: [{ key: 'k', operator: 'In', values: ['a'] }] }),
      b: resourceAttrs({ fieldSelectorRequirements: [{ key: 'k', operator: 'In', values: ['b'] }] }),
      same: false,
    },
    {
      name: 'field vs label selector',
      a: resourceAttrs({ fieldSelectorRequirements: [{ key: 'k', operator: 'Exists' }] }),
      b: resourceAttrs({ labelSelectorRequirements: [{ key: 'k', operator: 'Exists' }] }),
      same: false,
    },
  ];
  for (const c of cases) {
    it(`${c.same ? 'same' : 'different'} key: ${c.name}`, () => {
      expect(specKey(c.a) === specKey(c.b), 'spec JSON').to.equal(c.same);
      expect(subjectAccessReviewCacheKey(c.a) === subjectAccessReviewCacheKey(c.b)).to.equal(c.same);
    });
  }
});

function withExtra(extra: Record<string, string[]>): RequestAttributes {
  return resourceAttrs({ user: { ...alice, extra } });
}

function withGroups(groups: string[]): RequestAttributes {
  return resourceAttrs({ user: { ...alice, groups } });
}
