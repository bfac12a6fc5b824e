import { mock } from 'node:test';
import { expect } from 'chai';
import { QpsLimiter } from '../../lib/cluster/qps-limiter.js';
import { sleep } from '../../lib/util/sleep.js';

describe('util/sleep (the one abortable sleep)', () => {
  it('resolves after the delay, not before (mocked timers: no real wait, no timed assertion)', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let resolved = false;
      const p = sleep(5).then(() => (resolved = true));
      mock.timers.tick(4);
      await new Promise((r) => setImmediate(r));
      expect(resolved, 'after 4 of 5 ms').to.equal(false);
      mock.timers.tick(1);
      await p;
      expect(resolved).to.equal(true);
    } finally {
      mock.timers.reset();
    }
  });

  it('rejects with the abort reason when already aborted, without waiting', async () => {
    const reason = new Error('closed');
    const err = await sleep(60_000, AbortSignal.abort(reason)).catch((e: unknown) => e);
    expect(err).to.equal(reason);
  });

  it('rejects with the abort reason when aborted while waiting', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    const reason = new Error('stop');
    ac.abort(reason);
    expect(await p.catch((e: unknown) => e)).to.equal(reason);
  });

  it('QpsLimiter waits on it and gives the reservation back when aborted', async () => {
    let now = 0;
    const limiter = new QpsLimiter(1, 1, () => now);
    await limiter.acquire(); // the burst token
    const ac = new AbortController();
    const waiting = limiter.acquire(ac.signal);
    ac.abort(new Error('gone'));
    expect(((await waiting.catch((e: unknown) => e)) as Error).message).to.equal('gone');
    // The aborted reservation was returned: one second later exactly one token is available again.
    now = 1000;
    let granted = false;
    const next = limiter.acquire().then(() => (granted = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(granted, 'granted without waiting for a timer').to.equal(true);
    await next;
  });
});
