import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { applyMapping, parseMappingDocument, type Identity } from '../../lib/mapping/mapping-document.js';

const doc = `
mappings:
  - match: { subject: "token:alice-*" }
    username: "user:{{subject}}"
    uid: "{{ uid }}"
    groups: ["devs", "team:{{subject}}"]
    extra:
      origin: ["static-token", "{{subject}}"]
  - match: { cn: "node-*", issuer: "kubelet-ca" }
    username: "system:node:{{cn}}"
    groups: ["system:nodes"]
    allowReservedPrefixes: true
  - match: { username: "*" , group: "ops" }
    username: "ops:{{username}}"
  - match: { subject: "*" }
    username: "{{subject}}"
    groups: ["everyone"]
`;

interface Case {
  readonly name: string;
  readonly identity: Identity;
  readonly expectUser?: { name: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  readonly expectRule?: number;
  readonly expectRefusal?: RegExp;
}

const cases: readonly Case[] = [
  {
    name: 'template expansion of subject, uid, groups and extra',
    identity: { subject: 'token:alice-7', uid: 'u-7' },
    expectUser: {
      name: 'user:token:alice-7',
      uid: 'u-7',
      groups: ['devs', 'team:token:alice-7'],
      extra: { origin: ['static-token', 'token:alice-7'] },
    },
    expectRule: 0,
  },
  {
    name: 'first matching rule wins over later catch-all',
    identity: { subject: 'token:alice-', uid: 'x' },
    expectUser: {
      name: 'user:token:alice-',
      uid: 'x',
      groups: ['devs', 'team:token:alice-'],
      extra: { origin: ['static-token', 'token:alice-'] },
    },
    expectRule: 0,
  },
  {
    name: 'glob is anchored: a prefix elsewhere does not match',
    identity: { subject: 'xtoken:alice-1' },
    expectUser: { name: 'xtoken:alice-1', groups: ['everyone'], extra: {} },
    expectRule: 3,
  },
  {
    name: 'a template needing a missing field refuses, without falling through',
    identity: { subject: 'token:alice-2' },
    expectRefusal: /uid template "\{\{ uid \}\}" has no value/,
    expectRule: 0,
  },
  {
    name: 'per-mapping allowReservedPrefixes permits system: names',
    identity: { cn: 'node-1', issuer: 'kubelet-ca' },
    expectUser: { name: 'system:node:node-1', uid: '', groups: ['system:nodes'], extra: {} },
    expectRule: 1,
  },
  {
    name: 'every match field must fit (issuer differs)',
    identity: { cn: 'node-1', issuer: 'other-ca', subject: 's' },
    expectUser: { name: 's', groups: ['everyone'], extra: {} },
    expectRule: 3,
  },
  {
    name: 'group match fits any of the identity groups',
    identity: { username: 'dana', groups: ['x', 'ops'], subject: 'dana' },
    expectUser: { name: 'ops:dana', groups: [], extra: {} },
    expectRule: 2,
  },
  {
    name: 'an expanded username with the reserved prefix is refused',
    identity: { subject: 'system:admin' },
    expectRefusal: /username "system:admin" has the reserved prefix/,
    expectRule: 3,
  },
  { name: 'no rule matches', identity: { cn: 'stranger' }, expectRefusal: /no mapping matches/ },
];

describe('mapping/applyMapping', () => {
  const parsed = parseMappingDocument(doc);
  for (const c of cases) {
    it(c.name, () => {
      const out = applyMapping(parsed, c.identity);
      if (c.expectUser) {
        expect(out.ok, JSON.stringify(out)).to.equal(true);
        if (!out.ok) return;
        expect(out.user).to.deep.equal({ uid: '', groups: [], extra: {}, ...c.expectUser });
      } else {
        expect(out.ok).to.equal(false);
        if (out.ok) return;
        expect(out.reason).to.match(c.expectRefusal!);
      }
      expect(out.rule).to.equal(c.expectRule);
    });
  }

  it('an expanded group with the reserved prefix is refused', () => {
    const d = parseMappingDocument(
      'mappings:\n  - match: { subject: "*" }\n    username: "u-{{subject}}"\n    groups: ["{{subject}}"]\n',
    );
    const out = applyMapping(d, { subject: 'system:masters' });
    expect(out).to.deep.include({ ok: false, rule: 0 });
    expect(!out.ok && out.reason).to.match(/group "system:masters" has the reserved prefix/);
  });

  it('top-level allowReservedPrefixes permits expanded system: names', () => {
    const d = parseMappingDocument(
      'allowReservedPrefixes: true\nmappings:\n  - match: { subject: "*" }\n    username: "{{subject}}"\n',
    );
    expect(applyMapping(d, { subject: 'system:admin' })).to.deep.include({ ok: true });
  });

  it('JSON documents are accepted', () => {
    const d = parseMappingDocument(
      JSON.stringify({ mappings: [{ match: { username: 'bob' }, username: 'b', groups: ['g'] }] }),
    );
    expect(applyMapping(d, { username: 'bob' })).to.deep.include({ ok: true });
  });

  it('the digest follows the text', () => {
    expect(parseMappingDocument(doc).digest).to.equal(parsed.digest);
    expect(parseMappingDocument(doc + '\n# edit').digest).not.to.equal(parsed.digest);
  });
});

interface BadCase {
  readonly name: string;
  readonly text: string;
  readonly expectProblems: readonly RegExp[];
}

const ok = 'mappings:\n  - match: { subject: "*" }\n    username: "u"\n';
const badCases: readonly BadCase[] = [
  { name: 'empty document', text: '  \n', expectProblems: [/empty/] },
  { name: 'not YAML', text: 'mappings: [\n  - {', expectProblems: [/not valid YAML/] },
  { name: 'not an object', text: '- a\n- b\n', expectProblems: [/must be an object/] },
  { name: 'mappings missing', text: 'allowReservedPrefixes: false\n', expectProblems: [/mappings must be a list/] },
  { name: 'empty mappings without allowEmpty', text: 'mappings: []\n', expectProblems: [/mappings is empty/] },
  {
    name: 'unknown top-level field (typo)',
    text: ok + 'allowReservedPrefix: true\n',
    expectProblems: [/unknown field "allowReservedPrefix"/],
  },
  {
    name: 'literal reserved username',
    text: 'mappings:\n  - match: { subject: "*" }\n    username: "system:admin"\n',
    expectProblems: [/mappings\[0\].username: "system:admin" uses the reserved prefix/],
  },
  {
    name: 'literal reserved group',
    text: 'mappings:\n  - match: { subject: "*" }\n    username: "u"\n    groups: ["ok", "system:masters"]\n',
    expectProblems: [/mappings\[0\].groups\[1\]: "system:masters" uses the reserved prefix/],
  },
  {
    name: 'unknown template variable',
    text: 'mappings:\n  - match: { subject: "*" }\n    username: "{{sub}}"\n',
    expectProblems: [/unknown template variable \{\{sub\}\}/],
  },
  {
    name: 'unbalanced braces',
    text: 'mappings:\n  - match: { subject: "*" }\n    username: "{{subject}"\n',
    expectProblems: [/unbalanced/],
  },
  {
    name: 'every problem is reported, not just the first',
    text: 'mappings:\n  - match: {}\n    username: ""\n  - match: { color: "red" }\n    username: "x"\n    groups: "devs"\n',
    expectProblems: [
      /mappings\[0\].match must name at least one field/,
      /mappings\[0\].username must be a non-empty string/,
      /mappings\[1\].match: unknown field "color"/,
      /mappings\[1\].groups must be a list/,
    ],
  },
  { name: 'duplicate keys', text: 'mappings: []\nmappings: []\n', expectProblems: [/not valid YAML/] },
];

describe('mapping/parseMappingDocument validation', () => {
  for (const c of badCases) {
    it(c.name, () => {
      let err: unknown;
      try {
        parseMappingDocument(c.text);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(InvalidOptionError);
      const problems = (err as InvalidOptionError).problems;
      for (const p of c.expectProblems)
        expect(
          problems.some((x) => p.test(x)),
          `${p} in ${JSON.stringify(problems)}`,
        ).to.equal(true);
    });
  }

  it('empty mappings are accepted with allowEmpty: true', () => {
    expect(parseMappingDocument('allowEmpty: true\nmappings: []\n').rules).to.have.length(0);
  });

  it('per-mapping allowReservedPrefixes permits a literal system: group', () => {
    expect(() =>
      parseMappingDocument(
        'mappings:\n  - match: { subject: "*" }\n    username: "u"\n    groups: ["system:masters"]\n    allowReservedPrefixes: true\n',
      ),
    ).not.to.throw();
  });
});
