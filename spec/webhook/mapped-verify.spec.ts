import { expect } from 'chai';
import { parseMappingDocument, applyMapping } from '../../lib/mapping/mapping-document.js';
import { withIdentityMapping } from '../../lib/webhook/mapped-verify.js';
import type { VerifyResult, VerifyToken } from '../../lib/webhook/token-review-webhook.js';

const doc = parseMappingDocument(`
mappings:
  - match: { subject: "svc-*", group: "robots" }
    username: "robot:{{subject}}"
    groups: ["robots"]
  - match: { subject: "alice" }
    username: "alice@example.com"
    uid: "{{uid}}"
    groups: ["devs"]
`);
const mapper = { explain: (id: Parameters<typeof applyMapping>[1]) => applyMapping(doc, id) };
const signal = new AbortController().signal;

const upstream: Record<string, VerifyResult> = {
  alice: { authenticated: true, user: { username: 'alice', uid: 'u-1', groups: ['ignored'] }, audiences: ['aud'] },
  'svc-a': { authenticated: true, user: { username: 'svc-a', groups: ['robots'] } },
  'svc-b': { authenticated: true, user: { username: 'svc-b', groups: [] } },
  root: { authenticated: true, user: { username: 'system:admin' } },
  nope: { authenticated: false, error: 'expired' },
};
const verify: VerifyToken = async (token) => upstream[token] ?? { authenticated: false };

const cases: readonly { name: string; token: string; expect: VerifyResult }[] = [
  {
    name: 'mapped user replaces the upstream user, audiences kept',
    token: 'alice',
    expect: {
      authenticated: true,
      user: { username: 'alice@example.com', uid: 'u-1', groups: ['devs'], extra: {} },
      audiences: ['aud'],
    },
  },
  {
    name: 'match on upstream group',
    token: 'svc-a',
    expect: { authenticated: true, user: { username: 'robot:svc-a', groups: ['robots'], extra: {} } },
  },
  {
    name: 'missing upstream group: unmapped',
    token: 'svc-b',
    expect: { authenticated: false, error: 'identity is not mapped to a Kubernetes user' },
  },
  {
    name: 'no rule: unmapped',
    token: 'root',
    expect: { authenticated: false, error: 'identity is not mapped to a Kubernetes user' },
  },
  { name: 'upstream "no" passes through unchanged', token: 'nope', expect: { authenticated: false, error: 'expired' } },
];

describe('webhook/withIdentityMapping', () => {
  const mapped = withIdentityMapping(verify, mapper);
  for (const c of cases) {
    it(c.name, async () => {
      expect(await mapped(c.token, [], signal)).to.deep.equal(c.expect);
    });
  }

  it('custom identity and error text', async () => {
    const m = withIdentityMapping(verify, mapper, {
      toIdentity: (u) => ({ subject: `svc-${u.username}`, groups: ['robots'] }),
      unmappedError: 'x',
    });
    expect(await m('alice', [], signal)).to.deep.include({
      authenticated: true,
      user: { username: 'robot:svc-alice', groups: ['robots'], extra: {} },
    });
    expect(await withIdentityMapping(verify, mapper, { unmappedError: 'custom' })('root', [], signal)).to.deep.equal({
      authenticated: false,
      error: 'custom',
    });
  });
});
