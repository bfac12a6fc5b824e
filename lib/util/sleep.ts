/**
 * The one abortable sleep of the library: resolves after `ms`, rejects with `signal.reason` when `signal` aborts
 * (before or during the wait). The timer is unref()'d so a pending retry or watch restart never keeps the process
 * alive. (Node's `timers/promises` `setTimeout(ms, undefined, { signal, ref: false })` is the same idea but rejects with
 * a generic AbortError; the callers here want the reason they aborted with, e.g. to tell close() from a timeout.)
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
