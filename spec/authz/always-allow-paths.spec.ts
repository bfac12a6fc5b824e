import { expect } from 'chai';
import { alwaysAllowPathsAuthorizer } from '../../lib/authz/always-allow-paths.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { pathAttrs, resourceAttrs } from './fixtures.js';

// Go pkg/authorization/path/path_test.go TestNewAuthorizer, same names and tables.
const cases: readonly {
  name: string;
  paths: string[] | undefined;
  allowed: string[];
  noOpinion: string[];
  wantErr?: string;
}[] = [
  {
    name: 'inner star',
    paths: ['/foo*bar'],
    allowed: [],
    noOpinion: [],
    wantErr: 'only trailing * allowed in "foo*bar"',
  },
  { name: 'double star', paths: ['/foo**'], allowed: [], noOpinion: [], wantErr: 'only trailing * allowed in "foo**"' },
  { name: 'empty', paths: [], allowed: [], noOpinion: ['/'] },
  { name: 'slash', paths: ['/'], allowed: ['/'], noOpinion: ['/foo', '//'] },
  { name: 'foo', paths: ['/foo'], allowed: ['/foo', 'foo'], noOpinion: ['/', '', '/bar', '/foo/', '/fooooo', '//foo'] },
  { name: 'foo slash', paths: ['/foo/'], allowed: ['/foo/'], noOpinion: ['/', '', '/bar', '/foo', '/fooooo'] },
  {
    name: 'foo slash star',
    paths: ['/foo/*'],
    allowed: ['/foo/', '/foo/bar/bla'],
    noOpinion: ['/', '', '/foo', '/bar', '/fooooo'],
  },
  {
    name: 'foo bar',
    paths: ['/foo', '/bar'],
    allowed: ['/foo', '/bar'],
    noOpinion: ['/', '', '/foo/', '/bar/', '/fooooo'],
  },
  { name: 'foo star', paths: ['/foo*'], allowed: ['/foo', '/foooo'], noOpinion: ['/', '', '/fo', '/bar'] },
  { name: 'star', paths: ['/*'], allowed: ['/', '', '/foo', '/foooo'], noOpinion: [] },
  {
    name: 'defaults /healthz /readyz /livez',
    paths: undefined,
    allowed: ['/healthz', '/readyz', '/livez'],
    noOpinion: ['/healthz/', '/healthz/etcd', '/readyz/ping', '/metrics', '/'],
  },
  {
    name: 'healthz star matches sub-checks',
    paths: ['/healthz*'],
    allowed: ['/healthz', '/healthzfoo', '/healthz/etcd'],
    noOpinion: ['/health'],
  },
];

describe('authz/always-allow-paths (Go pkg/authorization/path)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      if (c.wantErr) {
        expect(() => alwaysAllowPathsAuthorizer(c.paths))
          .to.throw(InvalidOptionError)
          .with.property('message', c.wantErr);
        return;
      }
      const a = alwaysAllowPathsAuthorizer(c.paths);
      for (const p of c.allowed) expect((await a.authorize(pathAttrs(p))).decision, p).to.equal('Allow');
      for (const p of c.noOpinion) expect((await a.authorize(pathAttrs(p))).decision, p).to.equal('NoOpinion');
    });
  }
  it('every bad path is reported at once', () => {
    expect(() => alwaysAllowPathsAuthorizer(['/a*b', '/ok', '*/x']))
      .to.throw(InvalidOptionError)
      .with.property('message', 'only trailing * allowed in "a*b"; only trailing * allowed in "*/x"');
  });
  it('resource requests are never allowed by path', async () => {
    const a = alwaysAllowPathsAuthorizer(['/*']);
    expect((await a.authorize(resourceAttrs())).decision).to.equal('NoOpinion');
  });
});
