import { expect } from 'chai';
import { alwaysAllowGroupsAuthorizer } from '../../lib/authz/always-allow-groups.js';
import type { RequestAttributes } from '../../lib/authz/interfaces.js';
import { alice, resourceAttrs } from './fixtures.js';

describe('authz/always-allow-groups (Go authorizerfactory.NewPrivilegedGroups)', () => {
  const cases = [
    { name: 'default: system:masters allowed', groups: undefined, userGroups: ['system:masters'], want: 'Allow' },
    { name: 'default: other groups no opinion', groups: undefined, userGroups: ['developers'], want: 'NoOpinion' },
    {
      name: 'configured group matches any of the user groups',
      groups: ['ops', 'admins'],
      userGroups: ['x', 'admins'],
      want: 'Allow',
    },
    { name: 'match is case-sensitive', groups: ['admins'], userGroups: ['Admins'], want: 'NoOpinion' },
    { name: 'no groups configured', groups: [], userGroups: ['system:masters'], want: 'NoOpinion' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await alwaysAllowGroupsAuthorizer(c.groups).authorize(
        resourceAttrs({ user: { ...alice, groups: c.userGroups } }),
      );
      expect(r).to.deep.equal({ decision: c.want, reason: '' });
    });
  }
  it('no user on request: NoOpinion, reason "Error", error "no user on request."', async () => {
    const attrs = { ...resourceAttrs(), user: undefined } as unknown as RequestAttributes;
    const r = await alwaysAllowGroupsAuthorizer().authorize(attrs);
    expect(r.decision).to.equal('NoOpinion');
    expect(r.reason).to.equal('Error');
    expect(r.error?.message).to.equal('no user on request.');
    expect(r.error?.code).to.equal('ERR_KDA_NO_USER');
  });
});
