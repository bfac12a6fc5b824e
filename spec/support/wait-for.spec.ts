import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { waitFor } from './wait-for.js';

describe('spec support: waitFor', () => {
  it('resolves with the first truthy value of the condition', async () => {
    let n = 0;
    const value = await waitFor(() => (++n >= 3 ? { n } : undefined), { what: 'n to reach 3', intervalMs: 1 });
    expect(value).to.deep.equal({ n: 3 });
  });

  it('re-checks on a wakeOn event without waiting for the interval, and unsubscribes after', async () => {
    const emitter = new EventEmitter();
    let ready = false;
    const waiting = waitFor(() => ready, {
      what: 'the ready event',
      intervalMs: 60_000,
      timeoutMs: 60_000,
      wakeOn: (wake) => {
        emitter.on('ready', wake);
        return () => emitter.off('ready', wake);
      },
    });
    await new Promise((r) => setImmediate(r));
    ready = true;
    emitter.emit('ready');
    expect(await waiting).to.equal(true);
    expect(emitter.listenerCount('ready')).to.equal(0);
  });

  it('fails at the deadline naming what never happened and the detail', async () => {
    const err = await waitFor(() => false, {
      what: 'a thing that never happens',
      timeoutMs: 20,
      detail: () => 'last: 0',
    })
      .then(() => undefined)
      .catch((e: unknown) => e as Error);
    expect(err?.message).to.equal('timed out after 20 ms waiting for a thing that never happens: last: 0');
  });

  it('a condition that throws fails the wait at once with its error', async () => {
    const err = await waitFor(
      () => {
        throw new Error('boom');
      },
      { what: 'x', timeoutMs: 60_000 },
    ).catch((e: unknown) => e as Error);
    expect(err.message).to.equal('boom');
  });
});
