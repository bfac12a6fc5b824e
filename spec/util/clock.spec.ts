import { expect } from 'chai';
import { systemClock } from '../../lib/util/clock.js';

describe('util/clock', () => {
  it('systemClock reads Date.now on every call', () => {
    const a = systemClock.now();
    expect(Math.abs(a - Date.now())).to.be.lessThan(1000);
    expect(Object.isFrozen(systemClock)).to.equal(true);
  });
});
