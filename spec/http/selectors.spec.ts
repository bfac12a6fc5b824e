import { expect } from 'chai';
import {
  fieldSelectorRequirements,
  labelSelectorRequirements,
  parseFieldSelector,
  parseLabelSelector,
} from '../../lib/http/selectors.js';

describe('http/selectors', () => {
  describe('parseFieldSelector (Go fields.ParseSelector)', () => {
    const ok: readonly [string, unknown][] = [
      ['', []],
      ['a=b', [{ field: 'a', operator: '=', value: 'b' }]],
      ['a==b', [{ field: 'a', operator: '=', value: 'b' }]],
      ['a!=b', [{ field: 'a', operator: '!=', value: 'b' }]],
      ['a=', [{ field: 'a', operator: '=', value: '' }]],
      // terms are sorted
      [
        'z=1,a=2',
        [
          { field: 'a', operator: '=', value: '2' },
          { field: 'z', operator: '=', value: '1' },
        ],
      ],
      ['a=x\\,y', [{ field: 'a', operator: '=', value: 'x,y' }]],
      ['a=x\\=y\\\\', [{ field: 'a', operator: '=', value: 'x=y\\' }]],
      ['a=b,', [{ field: 'a', operator: '=', value: 'b' }]],
    ];
    for (const [s, want] of ok) {
      it(`parses ${JSON.stringify(s)}`, () => {
        const r = parseFieldSelector(s);
        expect(r.ok && r.value).to.deep.equal(want);
      });
    }
    for (const s of ['a', 'a=b=c', 'a=\\x', 'a=b\\', 'a<b']) {
      it(`rejects ${JSON.stringify(s)}`, () => expect(parseFieldSelector(s).ok).to.equal(false));
    }
  });

  describe('parseLabelSelector (Go labels.Parse)', () => {
    const ok: readonly [string, unknown][] = [
      ['', []],
      ['x=a', [{ key: 'x', operator: '=', values: ['a'] }]],
      ['x==a', [{ key: 'x', operator: '==', values: ['a'] }]],
      ['x!=a', [{ key: 'x', operator: '!=', values: ['a'] }]],
      ['x', [{ key: 'x', operator: 'exists', values: [] }]],
      ['!x', [{ key: 'x', operator: '!', values: [] }]],
      ['x in (b,a,b)', [{ key: 'x', operator: 'in', values: ['a', 'b'] }]],
      ['x notin (a)', [{ key: 'x', operator: 'notin', values: ['a'] }]],
      ['x in ()', [{ key: 'x', operator: 'in', values: [''] }]],
      ['x>1', [{ key: 'x', operator: 'gt', values: ['1'] }]],
      ['x<5', [{ key: 'x', operator: 'lt', values: ['5'] }]],
      ['x=', [{ key: 'x', operator: '=', values: [''] }]],
      [
        'b=1, a=2',
        [
          { key: 'a', operator: '=', values: ['2'] },
          { key: 'b', operator: '=', values: ['1'] },
        ],
      ],
      ['example.com/app=web', [{ key: 'example.com/app', operator: '=', values: ['web'] }]],
      ['in=notin', [{ key: 'in', operator: '=', values: ['notin'] }]],
    ];
    for (const [s, want] of ok) {
      it(`parses ${JSON.stringify(s)}`, () => {
        const r = parseLabelSelector(s);
        expect(r.ok ? r.value : r.error).to.deep.equal(want);
      });
    }
    for (const s of [
      'x in',
      'x in (a',
      'x>a',
      'x=a b',
      '=a',
      'x,',
      'Bad_Prefix/x=a',
      'x=a/b',
      'x y',
      '!x=a',
      'x==a=b',
    ]) {
      it(`rejects ${JSON.stringify(s)}`, () => expect(parseLabelSelector(s).ok).to.equal(false));
    }
  });

  describe('SAR requirement mapping (webhook fieldSelectorToAuthorizationAPI / labelSelectorToAuthorizationAPI)', () => {
    it('field = and == → In, != → NotIn', () => {
      expect(fieldSelectorRequirements('spec.a=1,spec.b==2,spec.c!=3')).to.deep.equal([
        { key: 'spec.a', operator: 'In', values: ['1'] },
        { key: 'spec.b', operator: 'In', values: ['2'] },
        { key: 'spec.c', operator: 'NotIn', values: ['3'] },
      ]);
    });
    it('label operators; gt/lt dropped', () => {
      expect(labelSelectorRequirements('a=1,b!=2,c in (x,y),d notin (z),e,!f,g>3')).to.deep.equal([
        { key: 'a', operator: 'In', values: ['1'] },
        { key: 'b', operator: 'NotIn', values: ['2'] },
        { key: 'c', operator: 'In', values: ['x', 'y'] },
        { key: 'd', operator: 'NotIn', values: ['z'] },
        { key: 'e', operator: 'Exists' },
        { key: 'f', operator: 'DoesNotExist' },
      ]);
    });
    it('a selector with only dropped requirements maps to []', () => {
      expect(labelSelectorRequirements('g>3')).to.deep.equal([]);
    });
    it('unparsable or empty → undefined', () => {
      expect(fieldSelectorRequirements('bad')).to.equal(undefined);
      expect(labelSelectorRequirements('x in')).to.equal(undefined);
      expect(fieldSelectorRequirements('')).to.equal(undefined);
      expect(labelSelectorRequirements(undefined)).to.equal(undefined);
    });
  });
});
