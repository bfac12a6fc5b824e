// Waiting without fixed sleeps, for the specs and the harness alike (the one poll primitive both use; harness/ does
// not import spec/, so it lives here and spec/support/wait-for.ts re-exports it): until a condition holds, re-checked
// whenever an event says something changed (`wakeOn`) and, where no event exists, on a poll interval; a deadline fails
// the wait naming what never happened.
import { setTimeout as sleep } from 'node:timers/promises';

/** How `waitFor` waits. */
export interface WaitForOptions {
  /** What the caller waits for, as the failure names it: `timed out after 10000 ms waiting for <what>`. */
  readonly what: string;
  /** Default 10000. */
  readonly timeoutMs?: number;
  /**
   * Re-check after this many ms even when no event came. Default 100. With `wakeOn` it is only a safety net; without
   * it, it is a poll: say in the caller why no event exists.
   */
  readonly intervalMs?: number;
  /** Subscribes `wake` to the events after which the condition may hold; returns the unsubscribe function. */
  readonly wakeOn?: (wake: () => void) => () => void;
  /** Appended to the timeout error (e.g. the last state seen, a process's output). */
  readonly detail?: () => string;
}

/**
 * Resolves with the first truthy value `condition` returns. `condition` runs at once, after every `wakeOn` event and
 * every `intervalMs`; a thrown error (or rejection) fails the wait at once. Rejects when `timeoutMs` passes first.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<NonNullable<Exclude<T, false | '' | 0>>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  // Events counted, so that one arriving while `condition` runs is not lost.
  let events = 0;
  let woken: (() => void) | undefined;
  const unsubscribe = options.wakeOn?.(() => {
    events++;
    woken?.();
  });
  try {
    for (;;) {
      const seen = events;
      const value = await condition();
      if (value) return value as NonNullable<Exclude<T, false | '' | 0>>;
      const left = deadline - Date.now();
      if (left <= 0) {
        const detail = options.detail?.();
        throw new Error(
          `timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${options.what}${detail ? `: ${detail}` : ''}`,
        );
      }
      if (events !== seen) continue;
      const ac = new AbortController();
      await Promise.race([
        sleep(Math.min(left, options.intervalMs ?? 100), undefined, { signal: ac.signal }).catch(() => undefined),
        new Promise<void>((resolve) => (woken = resolve)),
      ]);
      ac.abort();
      woken = undefined;
    }
  } finally {
    unsubscribe?.();
  }
}
