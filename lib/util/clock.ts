/**
 * The one time source of the library: milliseconds since the epoch (or any fixed origin the caller keeps consistent),
 * as Go's `clock.PassiveClock.Now()`. Caches, token lifetimes and status timestamps take `{ clock?: Clock }` so tests
 * inject a fake one (Go's `newWithClock`); production uses `systemClock`.
 */
export interface Clock {
  now(): number;
}

/** `Date.now`, the default of every `clock` option. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });
