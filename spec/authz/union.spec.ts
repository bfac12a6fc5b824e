import { expect } from 'chai';
import { KdaError } from '../../lib/errors.js';
import {
  Decision,
  authorizerFunc,
  type AuthorizationResult,
  type Authorizer,
  type RequestAttributes,
} from '../../lib/authz/interfaces.js';
import { unionAuthorizers } from '../../lib/authz/union.js';
import { resourceAttrs } from './fixtures.js';

function fixed(r: AuthorizationResult, calls?: string[], name = ''): Authorizer {
  return authorizerFunc(async () => {
    calls?.push(name);
    return r;
  });
}
const err = (m: string) => new KdaError('ERR_KDA_REVIEW_FAILED', m);

describe('authz/union unionAuthorizers (Go union.New)', () => {
  it('a single member is returned as-is', () => {
    const a = fixed({ decision: Decision.Allow, reason: '' });
    expect(unionAuthorizers(a)).to.equal(a);
  });

  it('rejects a member without authorize()', () => {
    expect(() => unionAuthorizers({} as Authorizer)).to.throw(TypeError, 'authorizer 0 must implement authorize');
  });

  const cases: readonly {
    name: string;
    members: AuthorizationResult[];
    want: { decision: string; reason: string; error?: string };
    calls: number;
  }[] = [
    {
      name: 'first allow wins, later members not asked',
      members: [
        { decision: Decision.Allow, reason: 'ok' },
        { decision: Decision.Deny, reason: 'no' },
      ],
      want: { decision: 'Allow', reason: 'ok' },
      calls: 1,
    },
    {
      name: 'deny stops the chain with its own reason and error only',
      members: [
        { decision: Decision.NoOpinion, reason: 'skip', error: err('first') },
        { decision: Decision.Deny, reason: 'no', error: err('second') },
        { decision: Decision.Allow, reason: '' },
      ],
      want: { decision: 'Deny', reason: 'no', error: 'second' },
      calls: 2,
    },
    {
      name: 'no opinion after a no opinion keeps going to an allow (errors dropped)',
      members: [
        { decision: Decision.NoOpinion, reason: 'a', error: err('first') },
        { decision: Decision.Allow, reason: 'b' },
      ],
      want: { decision: 'Allow', reason: 'b' },
      calls: 2,
    },
    {
      name: 'all no opinion: reasons joined by newline, empty reasons skipped, errors aggregated',
      members: [
        { decision: Decision.NoOpinion, reason: 'first reason', error: err('first') },
        { decision: Decision.NoOpinion, reason: '' },
        { decision: Decision.NoOpinion, reason: 'second reason', error: err('second') },
      ],
      want: { decision: 'NoOpinion', reason: 'first reason\nsecond reason', error: '[first, second]' },
      calls: 3,
    },
    {
      name: 'all no opinion without errors has no error',
      members: [
        { decision: Decision.NoOpinion, reason: '' },
        { decision: Decision.NoOpinion, reason: '' },
      ],
      want: { decision: 'NoOpinion', reason: '' },
      calls: 2,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const calls: string[] = [];
      const u = unionAuthorizers(...c.members.map((m, i) => fixed(m, calls, String(i))));
      const r = await u.authorize(resourceAttrs());
      expect(r.decision).to.equal(c.want.decision);
      expect(r.reason).to.equal(c.want.reason);
      expect(r.error?.message).to.equal(c.want.error);
      expect(calls).to.have.length(c.calls);
    });
  }
});

describe('authz/union unionAuthorizers authorizeSync (fast path)', () => {
  const sync = (r: AuthorizationResult | undefined, calls?: string[], name = ''): Authorizer => ({
    authorize: async () => r ?? { decision: Decision.Allow, reason: 'async' },
    authorizeSync: () => {
      calls?.push(name);
      return r;
    },
  });

  it('is absent when the first member has no fast path', () => {
    const u = unionAuthorizers(
      fixed({ decision: Decision.Allow, reason: '' }),
      sync({ decision: Decision.NoOpinion, reason: '' }),
    );
    expect(u.authorizeSync).to.equal(undefined);
  });

  it('answers from the members before one without a fast path, and defers when it reaches that member', () => {
    const calls: string[] = [];
    const allowGroup = (attrs: RequestAttributes) =>
      attrs.user.groups.includes('system:masters')
        ? { decision: Decision.Allow, reason: '' }
        : { decision: Decision.NoOpinion, reason: '' };
    const u = unionAuthorizers(
      { authorize: async (a) => allowGroup(a), authorizeSync: (a) => (calls.push('groups'), allowGroup(a)) },
      fixed({ decision: Decision.Deny, reason: 'async only' }),
    );
    const masters = { ...resourceAttrs(), user: { name: 'root', uid: '', groups: ['system:masters'], extra: {} } };
    expect(u.authorizeSync!(masters)).to.deep.equal({ decision: Decision.Allow, reason: '' });
    expect(u.authorizeSync!(resourceAttrs()), 'the async member must be asked').to.equal(undefined);
    expect(calls).to.deep.equal(['groups', 'groups']);
  });

  it('is undefined as soon as a member has no immediate answer (later members not asked)', () => {
    const calls: string[] = [];
    const u = unionAuthorizers(
      sync({ decision: Decision.NoOpinion, reason: 'a' }, calls, '0'),
      sync(undefined, calls, '1'),
      sync({ decision: Decision.Allow, reason: '' }, calls, '2'),
    );
    expect(u.authorizeSync!(resourceAttrs())).to.equal(undefined);
    expect(calls).to.deep.equal(['0', '1']);
  });

  const cases: readonly { name: string; members: AuthorizationResult[] }[] = [
    {
      name: 'first allow wins',
      members: [
        { decision: Decision.Allow, reason: 'ok' },
        { decision: Decision.Deny, reason: 'no' },
      ],
    },
    {
      name: 'deny after a no opinion with an error',
      members: [
        { decision: Decision.NoOpinion, reason: 'skip', error: err('first') },
        { decision: Decision.Deny, reason: 'no', error: err('second') },
      ],
    },
    {
      name: 'all no opinion: reasons joined, errors aggregated',
      members: [
        { decision: Decision.NoOpinion, reason: 'first reason', error: err('first') },
        { decision: Decision.NoOpinion, reason: '' },
        { decision: Decision.NoOpinion, reason: 'second reason', error: err('second') },
      ],
    },
    {
      name: 'all no opinion without errors',
      members: [
        { decision: Decision.NoOpinion, reason: '' },
        { decision: Decision.NoOpinion, reason: '' },
      ],
    },
  ];
  for (const c of cases) {
    it(`gives what authorize() gives: ${c.name}`, async () => {
      const viaSync = unionAuthorizers(...c.members.map((m) => sync(m))).authorizeSync!(resourceAttrs())!;
      const viaAsync = await unionAuthorizers(...c.members.map((m) => fixed(m))).authorize(resourceAttrs());
      expect(viaSync.decision).to.equal(viaAsync.decision);
      expect(viaSync.reason).to.equal(viaAsync.reason);
      expect(viaSync.error?.message).to.equal(viaAsync.error?.message);
      expect(Object.keys(viaSync)).to.deep.equal(Object.keys(viaAsync));
    });
  }
});
