// pflag's value syntax, the one implementation behind the CLI's flag parser and kube-delegated-auth/apiserver's
// delegatedAuthOptionsFromFlags (spec/cli/flags.spec.ts and spec/apiserver/flags.spec.ts run it through both).
import { expect } from 'chai';
import * as root from '../../lib/index.js';
import { formatFlagUsages, parseGoBool, parseStringSliceValue } from '../../lib/util/pflag-values.js';

describe('util/pflag-values parseStringSliceValue (one pflag StringSlice value, as Go encoding/csv reads it)', () => {
  const cases: readonly { name: string; input: string; expect?: readonly string[]; error?: RegExp }[] = [
    { name: 'empty (--x=) is the empty list', input: '', expect: [] },
    { name: 'single', input: 'a', expect: ['a'] },
    { name: 'several', input: 'a,b,c', expect: ['a', 'b', 'c'] },
    { name: 'empty field kept', input: 'a,,b', expect: ['a', '', 'b'] },
    { name: 'trailing comma keeps an empty field', input: 'a,', expect: ['a', ''] },
    { name: 'quoted comma', input: '"a,b",c', expect: ['a,b', 'c'] },
    { name: 'escaped quote', input: '"say ""hi"""', expect: ['say "hi"'] },
    { name: 'a quote inside a field is literal', input: 'a"b', expect: ['a"b'] },
    { name: 'unterminated quote', input: '"a', error: /extraneous or missing " in quoted-field/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error) expect(() => parseStringSliceValue(c.input)).to.throw(c.error);
      else expect(parseStringSliceValue(c.input)).to.deep.equal(c.expect);
    });
  }
});

describe('util/pflag-values parseGoBool (Go strconv.ParseBool)', () => {
  for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True'])
    it(`${t} is true`, () => expect(parseGoBool(t)).to.equal(true));
  for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False'])
    it(`${f} is false`, () => expect(parseGoBool(f)).to.equal(false));
  for (const bad of ['', 'yes', 'tRUE', ' true', 'constructor', 'toString', '__proto__'])
    it(`${JSON.stringify(bad)} is Go's invalid syntax`, () =>
      expect(() => parseGoBool(bad)).to.throw(`strconv.ParseBool: parsing ${JSON.stringify(bad)}: invalid syntax`));
});

describe('util/pflag-values formatFlagUsages (pflag FlagUsages layout)', () => {
  it('lines up usage three spaces past the longest left part; shorthand, bool (no type), default, empty default', () => {
    const text = formatFlagUsages([
      { name: 'help', shorthand: 'h', typeName: '', usage: 'help for serve' },
      { name: 'secure-port', typeName: 'int', usage: 'The port.', defaultText: '8443' },
      { name: 'cert-dir', typeName: 'string', usage: 'The directory.', defaultText: '' },
    ]);
    expect(text).to.equal(
      [
        '  -h, --help              help for serve',
        '      --secure-port int   The port. (default 8443)',
        '      --cert-dir string   The directory.',
      ].join('\n'),
    );
  });
});

describe('util/pflag-values exports', () => {
  it('the package root exports the parsers and the help layout the CLI imports', () => {
    expect(root.parseGoBool).to.equal(parseGoBool);
    expect(root.parseStringSliceValue).to.equal(parseStringSliceValue);
    expect(root.formatFlagUsages).to.equal(formatFlagUsages);
  });
});
