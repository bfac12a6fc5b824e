import { expect } from 'chai';
import { MutableProvider, notifyAll } from '../../lib/trust/mutable-provider.js';

describe('trust/mutable-provider', () => {
  it('set() stores the value and notifies every listener; unsubscribe stops notifications', () => {
    const p = new MutableProvider<string>('x');
    let a = 0;
    let b = 0;
    p.addListener(() => a++);
    const off = p.addListener(() => b++);
    p.set('one');
    off();
    p.set(undefined);
    expect([p.current(), a, b]).to.deep.equal([undefined, 2, 1]);
  });

  it('a throwing listener does not stop the others (notifyAll)', () => {
    const calls: string[] = [];
    const listeners = new Set([
      () => {
        throw new Error('bad listener');
      },
      () => void calls.push('second'),
    ]);
    expect(() => notifyAll(listeners)).not.to.throw();
    expect(calls).to.deep.equal(['second']);
  });

  it('health starts empty', () => {
    const h = new MutableProvider<number>('y').health;
    expect([h.loadedAt, h.lastError, h.lastErrorAt]).to.deep.equal([undefined, undefined, undefined]);
  });
});
