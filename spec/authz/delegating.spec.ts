import { expect } from 'chai';
import { newDelegatingAuthorizer } from '../../lib/authz/delegating.js';
import type { SubjectAccessReview, SubjectAccessReviewClient } from '../../lib/authz/interfaces.js';
import { parseStaticPolicy, staticPolicyAuthorizer } from '../../lib/authz/static-policy.js';
import { InvalidOptionError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { alice, pathAttrs, resourceAttrs } from './fixtures.js';

function fakeClient(allowed: boolean) {
  const calls: SubjectAccessReview[] = [];
  const client: SubjectAccessReviewClient = {
    async create(sar) {
      calls.push(sar);
      return { allowed, reason: allowed ? '' : 'not in RBAC' };
    },
  };
  return { client, calls };
}

describe('authz/delegating newDelegatingAuthorizer (Go toAuthorizer)', () => {
  it('defaults: system:masters and /healthz,/readyz,/livez skip the review; the rest is reviewed', async () => {
    const { client, calls } = fakeClient(false);
    const a = newDelegatingAuthorizer({ client });
    try {
      expect((await a.authorize(resourceAttrs({ user: { ...alice, groups: ['system:masters'] } }))).decision).to.equal(
        'Allow',
      );
      expect((await a.authorize(pathAttrs('/livez'))).decision).to.equal('Allow');
      expect(calls).to.have.length(0);
      expect(await a.authorize(resourceAttrs())).to.deep.equal({ decision: 'NoOpinion', reason: 'not in RBAC' });
      expect(calls).to.have.length(1);
      expect(a.stats()).to.include({ reviews: 1 });
    } finally {
      await a.close();
    }
  });

  it('empty lists turn the always-allow authorizers off', async () => {
    const { client, calls } = fakeClient(true);
    const a = newDelegatingAuthorizer({
      client,
      authorizationAlwaysAllowGroups: [],
      authorizationAlwaysAllowPaths: [],
    });
    await a.authorize(pathAttrs('/healthz', { user: { ...alice, groups: ['system:masters'] } }));
    expect(calls).to.have.length(1);
    await a.close();
  });

  it('additional authorizers run before the review (static policy allow needs no review)', async () => {
    const { client, calls } = fakeClient(false);
    const policy = staticPolicyAuthorizer(
      parseStaticPolicy('rules: [{groups: [developers], verbs: [get], apiGroups: ["*"], resources: [flunders]}]'),
    );
    const a = newDelegatingAuthorizer({ client, additionalAuthorizers: [policy] });
    expect((await a.authorize(resourceAttrs())).decision).to.equal('Allow');
    expect((await a.authorize(resourceAttrs({ verb: 'delete' }))).decision).to.equal('NoOpinion');
    expect(calls).to.have.length(1);
    await a.close();
  });

  it('without a client: warns like Go and only always-allow applies', async () => {
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (_f, m) => void warnings.push(m) };
    const a = newDelegatingAuthorizer({ logger });
    expect(warnings).to.deep.equal([
      "No authorization-kubeconfig provided, so SubjectAccessReview of authorization tokens won't work.",
    ]);
    expect((await a.authorize(pathAttrs('/healthz'))).decision).to.equal('Allow');
    expect(await a.authorize(resourceAttrs())).to.deep.equal({ decision: 'NoOpinion', reason: '' });
    expect(a.stats()).to.equal(undefined);
    await a.close();
  });

  it('reports bad paths and bad review options together', () => {
    const { client } = fakeClient(true);
    expect(() => newDelegatingAuthorizer({ client, authorizationAlwaysAllowPaths: ['/a*b'], clientTimeout: -1 }))
      .to.throw(InvalidOptionError)
      .with.property('problems')
      .that.deep.equals([
        '"authorizationAlwaysAllowPaths" (--authorization-always-allow-paths): only trailing * allowed in "a*b"',
        '"clientTimeout" must be a positive number of milliseconds, got -1',
      ]);
  });
});

describe('authz/delegating fast path (authorizeSync)', () => {
  it('answers always-allow rules and a cached review without awaiting; an uncached request defers to authorize()', async () => {
    const { client, calls } = fakeClient(true);
    const a = newDelegatingAuthorizer({ client });
    try {
      expect(a.authorizeSync, 'the delegating authorizer keeps the union fast path').to.be.a('function');
      expect(a.authorizeSync!(pathAttrs('/healthz'))?.decision).to.equal('Allow');
      expect(a.authorizeSync!(resourceAttrs()), 'nothing cached yet: a review must be sent').to.equal(undefined);
      expect(calls).to.have.length(0);
      expect((await a.authorize(resourceAttrs())).decision).to.equal('Allow');
      expect(calls).to.have.length(1);
      expect(a.authorizeSync!(resourceAttrs())?.decision).to.equal('Allow');
      expect(calls, 'the cached answer sends no review').to.have.length(1);
    } finally {
      await a.close();
    }
  });

  it('without a client, everything not always-allowed is NoOpinion synchronously', () => {
    const a = newDelegatingAuthorizer({ authorizationAlwaysAllowPaths: [], authorizationAlwaysAllowGroups: [] });
    expect(a.authorizeSync!(resourceAttrs())).to.deep.equal({ decision: 'NoOpinion', reason: '' });
  });
});
