import { sleep } from '../util/sleep.js';

/**
 * A token bucket like client-go's `flowcontrol.NewTokenBucketRateLimiter(qps, burst)`: each acquire reserves a
 * token, waiting for it when the bucket is empty. Reservations are FIFO because each one pushes the next due time.
 */
export class QpsLimiter {
  readonly #qps: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    this.#qps = qps;
    this.#burst = Math.max(1, burst);
    this.#now = now;
    this.#tokens = this.#burst;
    this.#last = now();
  }

  /** Resolves when the caller may send; rejects with the signal's reason if aborted while waiting. */
  acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const t = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((t - this.#last) * this.#qps) / 1000);
    this.#last = t;
    this.#tokens -= 1;
    if (this.#tokens >= 0) return Promise.resolve();
    const wait = (-this.#tokens / this.#qps) * 1000;
    return sleep(wait, signal).catch((err: unknown) => {
      this.#tokens += 1; // give the reservation back
      throw err;
    });
  }
}
