import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { parseTokenFile, staticTokenVerifier } from '../../lib/webhook/static-tokens.js';

const signal = new AbortController().signal;

// The table of k8s.io/apiserver tokenfile_test.go TestTokenFile, plus quoting and error cases.
const goFile = `token1,user1,uid1
token2,user2,uid2
token3,user3,uid3,"group1,group2"
token4,user4,uid4,"group2"
token5,user5,uid5,group5
token6,user6,uid6,group5,otherdata
token7,user7,uid7,"group1,group2",otherdata
`;

interface Case {
  readonly name: string;
  readonly token: string;
  readonly expectUser?: { username: string; uid: string; groups?: string[] };
}

const cases: readonly Case[] = [
  { name: 'token1', token: 'token1', expectUser: { username: 'user1', uid: 'uid1' } },
  { name: 'token2', token: 'token2', expectUser: { username: 'user2', uid: 'uid2' } },
  {
    name: 'token3 (quoted group list)',
    token: 'token3',
    expectUser: { username: 'user3', uid: 'uid3', groups: ['group1', 'group2'] },
  },
  { name: 'token4', token: 'token4', expectUser: { username: 'user4', uid: 'uid4', groups: ['group2'] } },
  { name: 'token5', token: 'token5', expectUser: { username: 'user5', uid: 'uid5', groups: ['group5'] } },
  {
    name: 'token6 (extra columns ignored)',
    token: 'token6',
    expectUser: { username: 'user6', uid: 'uid6', groups: ['group5'] },
  },
  { name: 'token7', token: 'token7', expectUser: { username: 'user7', uid: 'uid7', groups: ['group1', 'group2'] } },
  { name: 'unknown token', token: 'token8' },
  { name: 'prefix of a token', token: 'token' },
];

describe('webhook/staticTokenVerifier (Go TestTokenFile)', () => {
  const verify = staticTokenVerifier(parseTokenFile(goFile));
  for (const c of cases) {
    it(c.name, async () => {
      const res = await verify(c.token, [], signal);
      if (c.expectUser) expect(res).to.deep.equal({ authenticated: true, user: c.expectUser });
      else expect(res).to.deep.equal({ authenticated: false });
    });
  }
});

describe('webhook/parseTokenFile', () => {
  it('CRLF line ends, blank lines, escaped quotes, empty tokens skipped, last duplicate wins', async () => {
    const t = parseTokenFile('a,u1,1\r\n\r\n,skipped,2\n"b""q",u2,2,"g,""x"""\na,u3,3\n');
    const verify = staticTokenVerifier(t);
    expect(t.size).to.equal(2);
    expect(await verify('a', [], signal)).to.deep.include({ user: { username: 'u3', uid: '3' } });
    expect(await verify('b"q', [], signal)).to.deep.include({
      user: { username: 'u2', uid: '2', groups: ['g', '"x"'] },
    });
    expect(await verify('', [], signal)).to.deep.equal({ authenticated: false });
  });

  const bad: readonly { name: string; text: string; expect: RegExp }[] = [
    {
      name: 'insufficient columns',
      text: 'token1,user1\n',
      expect: /must have at least 3 columns .* found 2 on line 1/,
    },
    { name: 'bare quote', text: 'tok"en,u,1\n', expect: /bare "/ },
    { name: 'unterminated quote', text: '"token,u,1\n', expect: /missing "/ },
    { name: 'text after closing quote', text: '"tok"en,u,1\n', expect: /extraneous/ },
  ];
  for (const c of bad) {
    it(`rejects: ${c.name}`, () => {
      expect(() => parseTokenFile(c.text)).to.throw(InvalidOptionError, c.expect);
    });
  }
});
