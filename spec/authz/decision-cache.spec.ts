import { expect } from 'chai';
import { DecisionCache } from '../../lib/authz/decision-cache.js';
import { InvalidOptionError } from '../../lib/errors.js';

function fakeClock(start = 1_000_000) {
  return {
    t: start,
    now() {
      return this.t;
    },
  };
}
const allowed = { allowed: true, reason: 'rbac' };
const denied = { allowed: false, reason: 'nope' };

describe('authz/decision-cache DecisionCache', () => {
  it('defaults: allowed and unauthorized entries live 10s (fake clock)', () => {
    const clock = fakeClock();
    const c = new DecisionCache({ clock });
    c.set('a', allowed);
    c.set('d', denied);
    clock.t += 9_999;
    expect(c.get('a')).to.deep.equal(allowed);
    expect(c.get('d')).to.deep.equal(denied);
    clock.t += 1;
    expect(c.get('a')).to.equal(undefined);
    expect(c.get('d')).to.equal(undefined);
    expect(c.stats()).to.include({ hits: 2, misses: 2, size: 0 });
  });

  it('separate authorized / unauthorized TTLs', () => {
    const clock = fakeClock();
    const c = new DecisionCache({
      clock,
      authorizationWebhookCacheAuthorizedTtl: 300_000,
      authorizationWebhookCacheUnauthorizedTtl: 30_000,
    });
    c.set('a', allowed);
    c.set('d', denied);
    clock.t += 30_000;
    expect(c.get('d')).to.equal(undefined);
    expect(c.get('a')).to.deep.equal(allowed);
    clock.t += 270_000;
    expect(c.get('a')).to.equal(undefined);
  });

  it('TTL 0 disables caching for that kind', () => {
    const c = new DecisionCache({ authorizationWebhookCacheUnauthorizedTtl: 0 });
    c.set('d', denied);
    c.set('a', allowed);
    expect(c.get('d')).to.equal(undefined);
    expect(c.get('a')).to.deep.equal(allowed);
  });

  it('bounded LRU: 8192 entries by default, least recently used evicted and counted', () => {
    const c = new DecisionCache();
    for (let i = 0; i < 8192; i++) c.set(`k${i}`, allowed);
    expect(c.get('k0')).to.deep.equal(allowed); // k0 becomes most recent
    c.set('k8192', allowed);
    expect(c.stats().size).to.equal(8192);
    expect(c.stats().evictions).to.equal(1);
    expect(c.get('k1')).to.equal(undefined);
    expect(c.get('k0')).to.deep.equal(allowed);
  });

  it('maxEntries option', () => {
    const c = new DecisionCache({ maxEntries: 2 });
    c.set('a', allowed);
    c.set('b', allowed);
    c.set('c', allowed);
    expect(c.stats()).to.include({ size: 2, evictions: 1 });
  });

  it('stale-if-error: an expired allowed entry is available within the window only', () => {
    const clock = fakeClock();
    const c = new DecisionCache({ clock, staleIfErrorTtl: 60_000 });
    c.set('a', allowed);
    c.set('d', denied);
    clock.t += 10_000;
    expect(c.get('a')).to.equal(undefined);
    expect(c.getStale('a')).to.deep.equal(allowed);
    expect(c.getStale('d')).to.equal(undefined);
    clock.t += 59_999;
    expect(c.getStale('a')).to.deep.equal(allowed);
    clock.t += 1;
    expect(c.getStale('a')).to.equal(undefined);
  });

  it('stale-if-error is off by default', () => {
    const clock = fakeClock();
    const c = new DecisionCache({ clock });
    c.set('a', allowed);
    clock.t += 10_001;
    expect(c.getStale('a')).to.equal(undefined);
  });

  it('validates every option at once', () => {
    expect(
      () =>
        new DecisionCache({
          authorizationWebhookCacheAuthorizedTtl: -1,
          authorizationWebhookCacheUnauthorizedTtl: Number.NaN,
          staleIfErrorTtl: 300_001,
          maxEntries: 0,
        }),
    )
      .to.throw(InvalidOptionError)
      .with.property('problems')
      .that.has.length(4);
  });
});
