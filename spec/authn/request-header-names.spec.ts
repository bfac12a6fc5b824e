import { expect } from 'chai';
import { requestHeaderNames } from '../../lib/authn/request-header-names.js';
import type { RequestHeaderConfig } from '../../lib/trust/interfaces.js';

const config = (over: Partial<RequestHeaderConfig> = {}): RequestHeaderConfig => ({
  usernameHeaders: ['X-Remote-User'],
  uidHeaders: ['X-Remote-Uid'],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
  allowedNames: [],
  ...over,
});

describe('authn/requestHeaderNames', () => {
  const cases: { name: string; config: RequestHeaderConfig; named: string[]; prefixes: string[] }[] = [
    {
      name: 'lower-cases every list',
      config: config(),
      named: ['x-remote-user', 'x-remote-uid', 'x-remote-group'],
      prefixes: ['x-remote-extra-'],
    },
    {
      name: 'skips empty names and prefixes',
      config: config({ usernameHeaders: ['', 'X-User'], uidHeaders: [''], extraHeaderPrefixes: ['', 'X-E-'] }),
      named: ['x-user', 'x-remote-group'],
      prefixes: ['x-e-'],
    },
    {
      name: 'keeps the first occurrence of a name listed twice (any case)',
      config: config({ usernameHeaders: ['X-A', 'x-a'], uidHeaders: ['X-A'], groupHeaders: ['X-G'] }),
      named: ['x-a', 'x-g'],
      prefixes: ['x-remote-extra-'],
    },
    {
      name: 'empty lists',
      config: config({ usernameHeaders: [], uidHeaders: [], groupHeaders: [], extraHeaderPrefixes: [] }),
      named: [],
      prefixes: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const n = requestHeaderNames(c.config);
      expect(n.named).to.deep.equal(c.named);
      expect([...n.namedSet]).to.deep.equal(c.named);
      expect(n.prefixes).to.deep.equal(c.prefixes);
    });
  }

  it('computes once per configuration object', () => {
    const c = config();
    expect(requestHeaderNames(c)).to.equal(requestHeaderNames(c));
    expect(requestHeaderNames(config())).to.not.equal(requestHeaderNames(c));
  });

  it('recomputes when a list of the same object was replaced or grew', () => {
    const c = { ...config() } as { -readonly [K in keyof RequestHeaderConfig]: RequestHeaderConfig[K] };
    const first = requestHeaderNames(c);
    c.groupHeaders = ['X-Other-Group'];
    expect(requestHeaderNames(c)).to.not.equal(first);
    expect(requestHeaderNames(c).named).to.include('x-other-group');
    const users = ['X-U'];
    c.usernameHeaders = users;
    requestHeaderNames(c);
    users.push('X-U2');
    expect(requestHeaderNames(c).named).to.include('x-u2');
  });

  it('returns frozen lists', () => {
    const n = requestHeaderNames(config());
    expect(Object.isFrozen(n.named)).to.equal(true);
    expect(Object.isFrozen(n.prefixes)).to.equal(true);
  });
});
