import { expect } from 'chai';
import {
  applyJsonPatch,
  dataDepth,
  mergePatch,
  parseApplyConfiguration,
  removeUnapplied,
} from '../../../examples/sample-apiserver/patch.js';

// The patch formats on plain data: RFC 6902 and RFC 7386 examples, and hostile inputs. The same code runs behind
// the real TLS stack in widgets.spec.ts ("update and patch, as kubectl sends them").

describe('sample patch formats', () => {
  describe('JSON patch (RFC 6902)', () => {
    // RFC 6902 appendix A, a selection: each [document, patch, result].
    const rfc: readonly [string, unknown, unknown, unknown][] = [
      [
        'A.1 add an object member',
        { foo: 'bar' },
        [{ op: 'add', path: '/baz', value: 'qux' }],
        { foo: 'bar', baz: 'qux' },
      ],
      [
        'A.2 add an array element',
        { foo: ['bar', 'baz'] },
        [{ op: 'add', path: '/foo/1', value: 'qux' }],
        { foo: ['bar', 'qux', 'baz'] },
      ],
      ['A.3 remove an object member', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
      [
        'A.4 remove an array element',
        { foo: ['bar', 'qux', 'baz'] },
        [{ op: 'remove', path: '/foo/1' }],
        { foo: ['bar', 'baz'] },
      ],
      [
        'A.5 replace a value',
        { baz: 'qux', foo: 'bar' },
        [{ op: 'replace', path: '/baz', value: 'boo' }],
        { baz: 'boo', foo: 'bar' },
      ],
      [
        'A.6 move a value',
        { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
        [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
        { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
      ],
      [
        'A.7 move an array element',
        { foo: ['all', 'grass', 'cows', 'eat'] },
        [{ op: 'move', from: '/foo/1', path: '/foo/3' }],
        { foo: ['all', 'cows', 'eat', 'grass'] },
      ],
      [
        'A.10 add a nested member object',
        { foo: 'bar' },
        [{ op: 'add', path: '/child', value: { grandchild: {} } }],
        { foo: 'bar', child: { grandchild: {} } },
      ],
      ['A.14 ~ escape ordering', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
      [
        'A.16 add to the end of an array',
        { foo: ['bar'] },
        [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }],
        { foo: ['bar', ['abc', 'def']] },
      ],
    ];
    for (const [name, doc, patch, want] of rfc) {
      it(name, () => {
        const r = applyJsonPatch(doc, patch);
        expect(r.ok, JSON.stringify(r)).to.equal(true);
        if (r.ok) expect(r.value).to.deep.equal(want);
      });
    }

    const refused: readonly [string, unknown, unknown, boolean][] = [
      ['A.9 a failing test', { baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }], false],
      ['A.12 add to a nonexistent target', { foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }], false],
      ['an index past the end', { foo: [1] }, [{ op: 'add', path: '/foo/3', value: 2 }], false],
      ['a leading-zero index', { foo: [1, 2] }, [{ op: 'remove', path: '/foo/01' }], false],
      ['A.13 an invalid op', { foo: 'bar' }, [{ op: 'spam', path: '/foo' }], true],
      ['a missing value', { foo: 'bar' }, [{ op: 'add', path: '/x' }], true],
      ['a bad ~ escape', { foo: 'bar' }, [{ op: 'add', path: '/a~2', value: 1 }], true],
      ['a move into its own child', { a: { b: {} } }, [{ op: 'move', from: '/a', path: '/a/b/c' }], false],
    ];
    for (const [name, doc, patch, malformed] of refused) {
      it(`refuses ${name} (${malformed ? 'malformed: 400' : 'does not apply: 422'}) and leaves the document alone`, () => {
        const before = JSON.stringify(doc);
        const r = applyJsonPatch(doc, patch);
        expect(r.ok).to.equal(false);
        expect(Boolean(!r.ok && r.malformed)).to.equal(malformed);
        expect(JSON.stringify(doc)).to.equal(before);
      });
    }

    it('hostile: "__proto__" paths create own data properties, never a prototype', () => {
      const r = applyJsonPatch({ spec: {} }, [
        { op: 'add', path: '/spec/__proto__', value: { polluted: true } },
        { op: 'add', path: '/spec/__proto__/deeper', value: 1 },
      ]);
      expect(r.ok).to.equal(true);
      const spec = (r as { value: { spec: Record<string, unknown> } }).value.spec;
      expect(Object.getPrototypeOf(spec)).to.equal(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(spec, '__proto__')).to.equal(true);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(({} as Record<string, unknown>).deeper).to.equal(undefined);
    });

    it('an inherited name ("toString", "constructor") is not an existing member', () => {
      expect(applyJsonPatch({}, [{ op: 'remove', path: '/toString' }]).ok).to.equal(false);
      expect(applyJsonPatch({}, [{ op: 'test', path: '/constructor', value: null }]).ok).to.equal(false);
    });
  });

  describe('JSON merge patch (RFC 7386)', () => {
    const cases: readonly [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, want] of cases) {
      it(`${JSON.stringify(target)} + ${JSON.stringify(patch)} = ${JSON.stringify(want)}`, () => {
        expect(mergePatch(target, patch)).to.deep.equal(want);
      });
    }
  });

  describe('apply configurations (application/apply-patch+yaml)', () => {
    it('YAML and JSON both parse to the same data', () => {
      const yaml = parseApplyConfiguration('apiVersion: v1\nkind: Widget\nspec:\n  size: 3\n');
      const json = parseApplyConfiguration('{"apiVersion":"v1","kind":"Widget","spec":{"size":3}}');
      expect(yaml).to.deep.equal(json);
      expect(yaml).to.deep.equal({ ok: true, value: { apiVersion: 'v1', kind: 'Widget', spec: { size: 3 } } });
    });

    const refused: readonly [string, string, RegExp][] = [
      ['a scalar', 'just text', /must be an object/],
      ['an empty document', '', /must be an object/],
      ['duplicate keys', 'a: 1\na: 2\n', /error decoding YAML/],
      ['broken syntax', 'a: [1, 2\n', /error decoding YAML/],
      ['many aliases', `a: &a [x]\nb: [${Array(200).fill('*a').join(', ')}]\n`, /error decoding YAML/],
      ['deep nesting', `a: ${'['.repeat(20000)}${']'.repeat(20000)}`, /nests too deeply|error decoding YAML/],
    ];
    for (const [name, text, message] of refused) {
      it(`refuses ${name} with a one-line message`, () => {
        const r = parseApplyConfiguration(text);
        expect(r.ok).to.equal(false);
        if (!r.ok) {
          expect(r.message).to.match(message);
          expect(r.message).to.not.include('\n');
        }
      });
    }
  });

  describe('removeUnapplied (server-side apply removal for one manager)', () => {
    const current = {
      metadata: { name: 'w', uid: 'u', labels: { a: '1', b: '2' } },
      spec: { color: 'red', size: 9, shape: { sides: 4, round: false }, tags: ['x'] },
    };
    const previous = {
      metadata: { name: 'w', labels: { a: '1', b: '2' } },
      spec: { color: 'red', size: 3, shape: { sides: 4, round: false }, tags: ['x'] },
    };

    it('removes fields no longer applied that still hold the applied value; keeps changed ones and identity', () => {
      const next = { metadata: { name: 'w', labels: { a: '1' } }, spec: { shape: { sides: 4 } } };
      expect(removeUnapplied(current, previous, next)).to.deep.equal({
        metadata: { name: 'w', uid: 'u', labels: { a: '1' } },
        spec: { size: 9, shape: { sides: 4 } },
      });
      expect(current.spec.color).to.equal('red');
    });

    it('never removes outside labels, annotations and spec (name, uid stay even if not applied)', () => {
      const out = removeUnapplied(current, { metadata: { name: 'w', uid: 'u' } }, {}) as typeof current;
      expect(out.metadata).to.deep.include({ name: 'w', uid: 'u' });
    });

    it('an unchanged configuration removes nothing', () => {
      expect(removeUnapplied(current, previous, previous)).to.deep.equal(current);
    });
  });

  it('dataDepth counts nesting without recursion', () => {
    expect(dataDepth(1)).to.equal(0);
    expect(dataDepth({ a: [{}] })).to.equal(3);
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(dataDepth(deep)).to.equal(100_001);
  });
});
