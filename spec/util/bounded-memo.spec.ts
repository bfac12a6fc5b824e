import { expect } from 'chai';
import fc from 'fast-check';
import { BoundedMemo } from '../../lib/util/bounded-memo.js';

describe('util/bounded-memo', () => {
  it('answers what was set, until the entry bound pushes the oldest out', () => {
    const m = new BoundedMemo<string, number>(2, 1000);
    m.set('a', 1, 1);
    m.set('b', 2, 1);
    expect(m.get('a')).to.equal(1);
    m.set('c', 3, 1);
    expect(m.get('a'), 'oldest out (a hit does not refresh)').to.equal(undefined);
    expect([m.get('b'), m.get('c'), m.size, m.bytes]).to.deep.equal([2, 3, 2, 2]);
  });

  it('the byte budget pushes out as many of the oldest as it takes', () => {
    const m = new BoundedMemo<string, string>(100, 10);
    m.set('a', 'x', 4);
    m.set('b', 'y', 4);
    m.set('c', 'z', 2);
    expect([m.get('a'), m.get('b'), m.get('c'), m.bytes]).to.deep.equal(['x', 'y', 'z', 10]);
    m.set('d', 'w', 3);
    expect([m.get('a'), m.get('b'), m.get('c'), m.get('d'), m.bytes]).to.deep.equal([undefined, 'y', 'z', 'w', 9]);
    m.set('e', 'v', 9);
    expect([m.get('b'), m.get('c'), m.get('d'), m.get('e'), m.bytes]).to.deep.equal([
      undefined,
      undefined,
      undefined,
      'v',
      9,
    ]);
  });

  it('an entry larger than the whole budget is not kept, and does not flush the others', () => {
    const m = new BoundedMemo<string, string>(100, 10);
    m.set('a', 'x', 5);
    m.set('huge', 'y', 11);
    expect([m.get('a'), m.get('huge'), m.size, m.bytes]).to.deep.equal(['x', undefined, 1, 5]);
  });

  it('setting a key again replaces its value and its size', () => {
    const m = new BoundedMemo<string, string>(100, 10);
    m.set('a', 'x', 8);
    m.set('a', 'y', 2);
    expect([m.get('a'), m.size, m.bytes]).to.deep.equal(['y', 1, 2]);
    m.delete('a');
    m.delete('a');
    expect([m.size, m.bytes]).to.deep.equal([0, 0]);
  });

  it('never holds more than its bounds, whatever is set (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 60 })), { maxLength: 200 }),
        (maxEntries, maxBytes, sets) => {
          const m = new BoundedMemo<number, number>(maxEntries, maxBytes);
          const last = new Map<number, number>();
          for (const [key, bytes] of sets) {
            m.set(key, bytes, bytes);
            last.set(key, bytes);
            expect(m.size).to.be.at.most(maxEntries);
            expect(m.bytes).to.be.at.most(maxBytes);
          }
          // Whatever it still holds is the latest value set for that key.
          for (const [key, bytes] of last) {
            const v = m.get(key);
            if (v !== undefined) expect(v).to.equal(bytes);
          }
          // The newest entry is kept whenever it fits the budget on its own.
          const newest = sets.at(-1);
          if (newest && newest[1] <= maxBytes) expect(m.get(newest[0])).to.equal(newest[1]);
        },
      ),
    );
  });

  it('refuses bounds that cannot hold anything sensible', () => {
    expect(() => new BoundedMemo(0, 10)).to.throw(RangeError, 'maxEntries');
    expect(() => new BoundedMemo(1.5, 10)).to.throw(RangeError, 'maxEntries');
    expect(() => new BoundedMemo(1, Number.NaN)).to.throw(RangeError, 'maxBytes');
  });
});
