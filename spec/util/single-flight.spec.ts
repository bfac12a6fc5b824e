import { expect } from 'chai';
import { SingleFlight } from '../../lib/util/single-flight.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('util/single-flight SingleFlight', () => {
  it('1000 concurrent calls with one key run fn once and all get its value', async () => {
    const sf = new SingleFlight<string, number>();
    const d = deferred<number>();
    let calls = 0;
    const all = Array.from({ length: 1000 }, () =>
      sf.do('k', () => {
        calls++;
        return d.promise;
      }),
    );
    await Promise.resolve();
    d.resolve(42);
    const results = await Promise.all(all);
    expect(calls).to.equal(1);
    expect(results.every((r) => r.value === 42)).to.equal(true);
    expect(results.filter((r) => !r.shared)).to.have.length(1);
    expect(sf.joins).to.equal(999);
    expect(sf.size).to.equal(0);
  });

  it('different keys do not share', async () => {
    const sf = new SingleFlight<string, string>();
    let calls = 0;
    const r = await Promise.all(['a', 'b', 'a', 'b'].map((k) => sf.do(k, async () => `${k}${++calls}`)));
    expect(calls).to.equal(2);
    expect(r.map((x) => x.value).sort()).to.deep.equal(['a1', 'a1', 'b2', 'b2']);
  });

  it('a rejection reaches every waiter and the key is free again', async () => {
    const sf = new SingleFlight<string, number>();
    const d = deferred<number>();
    const a = sf.do('k', () => d.promise);
    const b = sf.do('k', () => d.promise);
    d.reject(new Error('boom'));
    const errs = await Promise.all([a.catch((e: Error) => e.message), b.catch((e: Error) => e.message)]);
    expect(errs).to.deep.equal(['boom', 'boom']);
    expect((await sf.do('k', async () => 7)).value).to.equal(7);
  });

  it('a synchronous throw in fn rejects and does not leave the key stuck', async () => {
    const sf = new SingleFlight<string, number>();
    const err = await sf
      .do('k', () => {
        throw new Error('sync');
      })
      .catch((e: Error) => e.message);
    expect(err).to.equal('sync');
    expect(sf.size).to.equal(0);
  });

  it('one waiter aborting does not cancel the shared call for the others', async () => {
    const sf = new SingleFlight<string, number>();
    const d = deferred<number>();
    let sharedSignal: AbortSignal | undefined;
    const ac = new AbortController();
    const a = sf.do(
      'k',
      (s) => {
        sharedSignal = s;
        return d.promise;
      },
      ac.signal,
    );
    const b = sf.do('k', () => d.promise);
    await Promise.resolve();
    ac.abort(new Error('client gone'));
    expect(await a.catch((e: Error) => e.message)).to.equal('client gone');
    expect(sharedSignal?.aborted).to.equal(false);
    d.resolve(1);
    expect((await b).value).to.equal(1);
  });

  it('when every waiter aborts, the shared call is aborted and a new caller starts afresh', async () => {
    const sf = new SingleFlight<string, number>();
    let sharedSignal: AbortSignal | undefined;
    const ac = new AbortController();
    const a = sf.do(
      'k',
      (s) => {
        sharedSignal = s;
        return new Promise<number>(() => undefined);
      },
      ac.signal,
    );
    await Promise.resolve();
    await Promise.resolve();
    ac.abort(new Error('gone'));
    await a.catch(() => undefined);
    expect(sharedSignal?.aborted).to.equal(true);
    expect(sf.size).to.equal(0);
    expect((await sf.do('k', async () => 2)).shared).to.equal(false);
  });

  it('an already aborted signal rejects without calling fn', async () => {
    const sf = new SingleFlight<string, number>();
    let called = false;
    const err = await sf
      .do(
        'k',
        async () => {
          called = true;
          return 1;
        },
        AbortSignal.abort(new Error('early')),
      )
      .catch((e: Error) => e.message);
    expect(err).to.equal('early');
    expect(called).to.equal(false);
  });
});
