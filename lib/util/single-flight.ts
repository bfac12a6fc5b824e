interface Flight<V> {
  readonly promise: Promise<V>;
  readonly controller: AbortController;
  waiters: number;
}

/** Outcome of `SingleFlight.do`: `shared` is true when this caller joined a call another caller started. */
export interface FlightResult<V> {
  readonly value: V;
  readonly shared: boolean;
}

/**
 * Coalesces concurrent calls with the same key into one (Go's `singleflight.Group`). The shared call gets its own
 * AbortSignal, aborted only when every waiter has gone away, so one impatient client cannot fail the others.
 * A caller whose own `signal` aborts is rejected with that signal's reason right away.
 */
export class SingleFlight<K, V> {
  readonly #flights = new Map<K, Flight<V>>();
  #joins = 0;

  /** Calls that joined an in-flight call instead of starting one. */
  get joins(): number {
    return this.#joins;
  }

  /** Calls currently in flight. */
  get size(): number {
    return this.#flights.size;
  }

  do(key: K, fn: (signal: AbortSignal) => Promise<V>, signal?: AbortSignal): Promise<FlightResult<V>> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.#flights.get(key);
    const shared = flight !== undefined;
    if (flight) {
      this.#joins++;
    } else {
      const controller = new AbortController();
      const created: { flight?: Flight<V> } = {};
      // Deferred to a microtask so even a synchronous throw settles after the flight is registered.
      const promise = Promise.resolve()
        .then(() => fn(controller.signal))
        .finally(() => {
          if (this.#flights.get(key) === created.flight) this.#flights.delete(key);
        });
      flight = { promise, controller, waiters: 0 };
      created.flight = flight;
      this.#flights.set(key, flight);
    }
    const f = flight;
    f.waiters++;
    if (!signal) {
      return f.promise.then((value) => ({ value, shared }));
    }
    return new Promise<FlightResult<V>>((resolve, reject) => {
      let done = false;
      const onAbort = () => {
        if (done) return;
        done = true;
        if (--f.waiters === 0) {
          // Nobody waits any more: cancel, and let the next caller start afresh instead of joining a dying call.
          if (this.#flights.get(key) === f) this.#flights.delete(key);
          f.controller.abort(signal.reason);
        }
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      f.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          if (done) return;
          done = true;
          resolve({ value, shared });
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (done) return;
          done = true;
          reject(err);
        },
      );
    });
  }
}
