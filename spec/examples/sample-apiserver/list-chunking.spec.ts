import { expect } from 'chai';
import {
  chunkList,
  cleanRootedPath,
  decodeContinue,
  decodeRawUrlBase64,
  encodeContinue,
} from '../../../examples/sample-apiserver/list-chunking.js';
import { WidgetStore } from '../../../examples/sample-apiserver/widget-store.js';

// Pure functions: Go's continue-token encoding (storage.EncodeContinue/DecodeContinue), Go's base64 and path.Clean
// semantics, the chunking of a sorted list, and the store's past-revision reads. The same code runs behind real TLS
// in list-chunking-http.spec.ts.

/** A token built by hand from its JSON, as Go's EncodeContinue writes it (unpadded base64url). */
const token = (json: string) => Buffer.from(json, 'utf8').toString('base64url');

describe('sample list chunking: continue tokens as Go encodes and decodes them', () => {
  it('encodes {"v":"meta.k8s.io/v1","rv":N,"start":"/<key>\\u0000"} as unpadded base64url, and decodes it back', () => {
    const t = encodeContinue('shop/b\u0000', 42);
    expect(t).to.equal(token('{"v":"meta.k8s.io/v1","rv":42,"start":"/shop/b\\u0000"}'));
    // What kube-apiserver 1.37 answered for `?limit=2` on a namespaced list ending at `pb` (recorded from the Go
    // sample-apiserver): the same bytes.
    expect(encodeContinue('pb\u0000', 211)).to.equal(
      'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjExLCJzdGFydCI6Ii9wYlx1MDAwMCJ9',
    );
    // And 1.20's form (no leading slash) decodes to the same point.
    expect(decodeContinue('eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTkzLCJzdGFydCI6InBiXHUwMDAwIn0')).to.deep.equal({
      ok: true,
      point: { startKey: 'pb\u0000', resourceVersion: 193 },
    });
    expect(t).to.not.match(/[=+/]/);
    expect(decodeContinue(t)).to.deep.equal({ ok: true, point: { startKey: 'shop/b\u0000', resourceVersion: 42 } });
  });

  it('decodes what Go accepts: case-insensitive keys, unknown keys ignored, a leading "/" on the key, rv -1', () => {
    expect(decodeContinue(token('{"V":"meta.k8s.io/v1","RV":7,"Start":"a\\u0000","x":[1]}'))).to.deep.equal({
      ok: true,
      point: { startKey: 'a\u0000', resourceVersion: 7 },
    });
    expect(decodeContinue(token('{"v":"meta.k8s.io/v1","rv":-1,"start":"/a"}'))).to.deep.equal({
      ok: true,
      point: { startKey: 'a', resourceVersion: -1 },
    });
    // A newline inside the base64 is skipped by Go's decoder.
    const t = encodeContinue('a', 3);
    expect(decodeContinue(`${t.slice(0, 5)}\n${t.slice(5)}`)).to.deep.equal(decodeContinue(t));
  });

  const refused: readonly { name: string; token: string; error: string }[] = [
    { name: 'not base64', token: 'a!b', error: 'illegal base64 data at input byte 1' },
    { name: 'one trailing base64 character', token: 'abcde', error: 'illegal base64 data at input byte 4' },
    { name: 'padding (Go uses the raw encoding)', token: 'YWI=', error: 'illegal base64 data at input byte 3' },
    { name: 'the standard alphabet', token: 'ab+c', error: 'illegal base64 data at input byte 2' },
    { name: 'empty JSON', token: token('  '), error: 'unexpected end of JSON input' },
    { name: 'not JSON', token: token('hello'), error: "invalid character 'h' looking for beginning of value" },
    { name: 'truncated JSON', token: token('{"v":"meta.k8s.io/v1"'), error: 'unexpected end of JSON input' },
    {
      name: 'a JSON array',
      token: token('[1]'),
      error: 'json: cannot unmarshal array into Go value of type storage.continueToken',
    },
    {
      name: 'rv as a string',
      token: token('{"v":"meta.k8s.io/v1","rv":"5","start":"a"}'),
      error: 'json: cannot unmarshal string into Go struct field continueToken.rv of type int64',
    },
    {
      name: 'a fractional rv',
      token: token('{"v":"meta.k8s.io/v1","rv":1.5,"start":"a"}'),
      error: 'json: cannot unmarshal number 1.5 into Go struct field continueToken.rv of type int64',
    },
    {
      name: 'start as a number',
      token: token('{"v":"meta.k8s.io/v1","rv":5,"start":1}'),
      error: 'json: cannot unmarshal number 1 into Go struct field continueToken.start of type string',
    },
    {
      name: 'another version',
      token: token('{"v":"meta.k8s.io/v2","rv":5,"start":"a"}'),
      error: 'server does not recognize this encoded version meta.k8s.io/v2',
    },
    { name: 'JSON null', token: token('null'), error: 'server does not recognize this encoded version ' },
    {
      name: 'rv 0',
      token: token('{"v":"meta.k8s.io/v1","rv":0,"start":"a"}'),
      error: 'incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
    },
    {
      name: 'no start key',
      token: token('{"v":"meta.k8s.io/v1","rv":5}'),
      error: 'encoded start key empty (version meta.k8s.io/v1)',
    },
    { name: 'path traversal', token: token('{"v":"meta.k8s.io/v1","rv":5,"start":"../x"}'), error: '../x' },
    { name: 'a doubled slash', token: token('{"v":"meta.k8s.io/v1","rv":5,"start":"a//b"}'), error: 'a//b' },
    { name: 'a trailing slash', token: token('{"v":"meta.k8s.io/v1","rv":5,"start":"a/"}'), error: 'a/' },
    { name: 'a dot segment', token: token('{"v":"meta.k8s.io/v1","rv":5,"start":"a/./b"}'), error: 'a/./b' },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}: "continue key is not valid: ${c.error}"`, () => {
      expect(decodeContinue(c.token)).to.deep.equal({ ok: false, error: `continue key is not valid: ${c.error}` });
    });
  }

  it('base64 decodes as Go: 2 and 3 character tails, newlines skipped', () => {
    const text = (s: string) => {
      const r = decodeRawUrlBase64(s);
      if (!r.ok) throw new Error(r.error);
      return Buffer.from(r.bytes).toString('latin1');
    };
    expect(text('YQ')).to.equal('a');
    expect(text('YWI')).to.equal('ab');
    expect(text('YWJj')).to.equal('abc');
    expect(text('YW\r\nJj')).to.equal('abc');
    expect(text('')).to.equal('');
  });

  it("path.Clean for rooted paths (Go's): dots, empty segments, never above the root", () => {
    expect(cleanRootedPath('/a/b')).to.equal('/a/b');
    expect(cleanRootedPath('/a/../../b')).to.equal('/b');
    expect(cleanRootedPath('/a//b/./')).to.equal('/a/b');
    expect(cleanRootedPath('/')).to.equal('/');
  });
});

describe('sample list chunking: chunks of a sorted list', () => {
  const keys = ['a', 'b', 'c', 'd', 'e'];
  const id = (k: string) => k;

  it('limit 2: two items, a token after the last one at the revision, and what remains', () => {
    const c = chunkList(keys, id, { limit: 2, resourceVersion: 9, countRemaining: true });
    expect(c.items).to.deep.equal(['a', 'b']);
    expect(c.remainingItemCount).to.equal(3);
    expect(decodeContinue(c.continue!)).to.deep.equal({ ok: true, point: { startKey: 'b\u0000', resourceVersion: 9 } });
  });

  it('following the tokens lists every item exactly once; the last chunk has no token', () => {
    const seen: string[] = [];
    let startKey: string | undefined;
    for (let i = 0; i < 10; i++) {
      const c = chunkList(keys, id, {
        ...(startKey ? { startKey } : {}),
        limit: 2,
        resourceVersion: 1,
        countRemaining: true,
      });
      seen.push(...c.items);
      if (!c.continue) {
        expect(c.remainingItemCount).to.equal(undefined);
        break;
      }
      const d = decodeContinue(c.continue);
      if (!d.ok) throw new Error(d.error);
      startKey = d.point.startKey;
    }
    expect(seen).to.deep.equal(keys);
  });

  it('limit <= 0, absent, equal to or larger than the list (even 2^63-1): everything, no token', () => {
    for (const limit of [undefined, 0, -1, 5, 6, Number('9223372036854775807')]) {
      const c = chunkList(keys, id, {
        ...(limit !== undefined ? { limit } : {}),
        resourceVersion: 1,
        countRemaining: true,
      });
      expect(c.items, String(limit)).to.deep.equal(keys);
      expect(c.continue, String(limit)).to.equal(undefined);
      expect(c.remainingItemCount, String(limit)).to.equal(undefined);
    }
  });

  it('remainingItemCount is left out when selectors filtered the list', () => {
    const c = chunkList(keys, id, { limit: 1, resourceVersion: 1, countRemaining: false });
    expect(c.items).to.deep.equal(['a']);
    expect(c.continue).to.be.a('string');
    expect(c.remainingItemCount).to.equal(undefined);
  });

  it('a start key between items, before all and after all (the range start is inclusive, as etcd)', () => {
    expect(chunkList(keys, id, { startKey: 'b', resourceVersion: 1, countRemaining: true }).items).to.deep.equal([
      'b',
      'c',
      'd',
      'e',
    ]);
    expect(chunkList(keys, id, { startKey: 'bb', resourceVersion: 1, countRemaining: true }).items).to.deep.equal([
      'c',
      'd',
      'e',
    ]);
    expect(chunkList(keys, id, { startKey: '', resourceVersion: 1, countRemaining: true }).items).to.have.length(5);
    expect(chunkList(keys, id, { startKey: '\u00e9', resourceVersion: 1, countRemaining: true }).items).to.deep.equal(
      [],
    );
  });
});

describe('sample widget store: reading a past revision (listAt)', () => {
  const names = (ws: readonly { metadata: { namespace: string; name: string } }[] | undefined) =>
    ws?.map((w) => `${w.metadata.namespace}/${w.metadata.name}`);

  it('undoes later creates, updates and deletes; objects carry the resourceVersion they had then', () => {
    const store = new WidgetStore();
    store.create('ns', { metadata: { name: 'a' }, spec: { color: 'red' } });
    store.create('ns', { metadata: { name: 'b' } });
    store.create('other', { metadata: { name: 'c' } });
    const at = store.revision;
    store.update('ns', 'a', { metadata: { name: 'a' }, spec: { color: 'blue' } });
    store.delete('ns', 'b');
    store.create('ns', { metadata: { name: 'aa' } });
    expect(names(store.listAt('', at))).to.deep.equal(['ns/a', 'ns/b', 'other/c']);
    expect(names(store.listAt('ns', at))).to.deep.equal(['ns/a', 'ns/b']);
    const a = store.listAt('ns', at)![0]!;
    expect(a.spec).to.deep.equal({ color: 'red' });
    expect(a.metadata.resourceVersion).to.equal('1');
    expect(names(store.listAt('ns', store.revision))).to.deep.equal(['ns/a', 'ns/aa']);
    expect(names(store.listAt('ns', 1))).to.deep.equal(['ns/a']);
  });

  it('a revision never reached, or older than the 1000-event history, cannot be read', () => {
    const store = new WidgetStore();
    store.create('ns', { metadata: { name: 'a' } });
    expect(store.listAt('ns', store.revision + 1)).to.equal(undefined);
    for (let i = 0; i < 1001; i++) store.update('ns', 'a', { metadata: { name: 'a' }, spec: { size: i } });
    expect(store.listAt('ns', 1)).to.equal(undefined);
    const oldest = store.revision - 1000;
    expect(store.listAt('ns', oldest)![0]!.metadata.resourceVersion).to.equal(String(oldest));
  });
});

describe("sample list chunking: a token's JSON syntax errors in Go's words", () => {
  const cases: readonly [string, string][] = [
    ['{"v":"meta.k8s.io/v1"', 'unexpected end of JSON input'],
    ['{"v":"m', 'unexpected end of JSON input'],
    ['{}x', "invalid character 'x' after top-level value"],
    ['{"v" 1}', "invalid character '1' after object key"],
    ['{"v":1 2}', "invalid character '2' after object key:value pair"],
    ['{1:2}', "invalid character '1' looking for beginning of object key string"],
    ['[1 2]', "invalid character '2' after array element"],
    ['"\\q"', "invalid character 'q' in string escape code"],
    ['"a\n"', "invalid character '\\n' in string literal"],
    ['1.x', "invalid character 'x' after decimal point in numeric literal"],
    ['{"v":}', "invalid character '}' looking for beginning of value"],
    ['\u00ff', "invalid character 'ÿ' looking for beginning of value"],
    ['nulx', "invalid character 'x' in literal null (expecting 'l')"],
    ['[tx]', "invalid character 'x' in literal true (expecting 'r')"],
    ['nul', 'unexpected end of JSON input'],
  ];
  for (const [json, error] of cases) {
    it(`${JSON.stringify(json)} → ${error}`, () => {
      expect(decodeContinue(token(json))).to.deep.equal({ ok: false, error: `continue key is not valid: ${error}` });
    });
  }
});
