import { expect } from 'chai';
import { pathUnescape, unescapeExtraKey } from '../../lib/authn/path-unescape.js';

describe('pathUnescape (Go url.PathUnescape)', () => {
  const cases: readonly { name: string; input: string; expected: string | undefined }[] = [
    { name: 'no escapes', input: 'alpha', expected: 'alpha' },
    { name: 'upper-case hex', input: 'example.com%2Fkey', expected: 'example.com/key' },
    { name: 'lower-case hex', input: 'example.com%2fkey', expected: 'example.com/key' },
    { name: 'plus stays plus', input: 'a+b', expected: 'a+b' },
    { name: 'space', input: 'percent%20encoded', expected: 'percent encoded' },
    { name: 'double encoding decodes once', input: 'a%2520b', expected: 'a%20b' },
    { name: 'utf-8 bytes', input: '%E4%BB%8A%E6%97%A5%E3%81%AF', expected: '今日は' },
    { name: 'invalid utf-8 becomes U+FFFD', input: 'x%ffy', expected: 'x\ufffdy' },
    { name: 'malformed hex', input: 'almost%zzpercent', expected: undefined },
    { name: 'trailing percent', input: 'abc%', expected: undefined },
    { name: 'one hex digit at the end', input: 'abc%4', expected: undefined },
    { name: 'empty', input: '', expected: '' },
  ];
  for (const c of cases) {
    it(c.name, () => expect(pathUnescape(c.input)).to.equal(c.expected));
  }

  it('unescapeExtraKey keeps a malformed key as-is', () => {
    expect(unescapeExtraKey('almost%zzpercent%xxencoded')).to.equal('almost%zzpercent%xxencoded');
    expect(unescapeExtraKey('example.com%2fpercent%2520encoded')).to.equal('example.com/percent%20encoded');
  });
});
