import { channel } from 'node:diagnostics_channel';
import type { Logger } from '../log.js';

/**
 * Refusal lines (400, 401, 403, 500 and unexpected errors) are logged once per request, and unauthenticated clients
 * decide how many requests there are: a flood of anonymous requests must not become a flood of log lines. Each
 * cause (e.g. `authentication:x509-unknown-authority`, `authorization:forbidden:system:anonymous`) may log `burst`
 * lines per `interval`; further lines of that cause are counted, published on
 * {@link suppressedLogChannel} (lib/metrics counts them) and summarised by one `suppressed N similar log lines`
 * line when the interval ends.
 */

/** What a refusal line is about; the `category` label of `kube_delegated_auth_suppressed_log_lines_total`. */
export type RefusalCategory =
  'request-info' | 'authentication' | 'authorization' | 'unexpected-error' | 'route' | 'connection';

/** Published once per suppressed line (when someone subscribes). */
export interface SuppressedLogEvent {
  readonly category: RefusalCategory;
  /** The cause key whose line was suppressed. */
  readonly cause: string;
}

/** The name of {@link suppressedLogChannel} (listed with the others in lib/diagnostics `channelNames`). */
export const suppressedLogChannelName = 'kube-delegated-auth:log-suppressed';

/** `kube-delegated-auth:log-suppressed`: one message per refusal line not written because of the rate limit. */
export const suppressedLogChannel = channel(suppressedLogChannelName);

export interface RefusalLogLimit {
  /** Lines logged per cause and interval before further lines of that cause are suppressed. Default 10. */
  readonly burst?: number;
  /** Length of the window (ms) after which a cause may log `burst` lines again. Default 10_000. */
  readonly interval?: number;
}

/** Default: at most 10 lines per cause every 10 s (≈1 line/s per cause under a flood, plus one summary). */
export const defaultRefusalLogLimit: Required<RefusalLogLimit> = Object.freeze({ burst: 10, interval: 10_000 });

/** Distinct causes tracked at once; beyond it new causes share one `<category>:other` bucket (bounded memory). */
const maxCauses = 1024;

type Level = 'debug' | 'info' | 'warn' | 'error';

interface Window {
  readonly start: number;
  readonly category: RefusalCategory;
  readonly level: Level;
  logged: number;
  suppressed: number;
}

/** A per-cause rate limiter in front of a {@link Logger}. */
export class RefusalLog {
  readonly #logger: Logger;
  readonly #burst: number;
  readonly #interval: number;
  readonly #windows = new Map<string, Window>();
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, limit: RefusalLogLimit = {}) {
    const burst = limit.burst ?? defaultRefusalLogLimit.burst;
    const interval = limit.interval ?? defaultRefusalLogLimit.interval;
    if (!Number.isInteger(burst) || burst < 0) throw new TypeError('"refusalLogLimit.burst" must be an integer >= 0');
    if (!Number.isFinite(interval) || interval <= 0) {
      throw new TypeError('"refusalLogLimit.interval" must be a positive number of ms');
    }
    this.#logger = logger;
    this.#burst = burst;
    this.#interval = interval;
  }

  /** Logs `msg` at `level` unless `cause` already logged `burst` lines in the current window. */
  log(level: Level, category: RefusalCategory, cause: string, fields: object, msg: string): void {
    const now = performance.now();
    let key = `${category}:${cause}`;
    let w = this.#windows.get(key);
    if (w && now - w.start >= this.#interval) {
      this.#end(key, w);
      w = undefined;
    }
    if (!w) {
      if (this.#windows.size >= maxCauses) this.#sweep(now);
      if (this.#windows.size >= maxCauses) {
        key = `${category}:other`;
        w = this.#windows.get(key);
      }
      if (!w) {
        w = { start: now, category, level, logged: 0, suppressed: 0 };
        this.#windows.set(key, w);
        this.#arm();
      }
    }
    if (w.logged < this.#burst) {
      w.logged++;
      this.#logger[level](fields, msg);
      return;
    }
    w.suppressed++;
    if (suppressedLogChannel.hasSubscribers) {
      const event: SuppressedLogEvent = { category, cause: key };
      suppressedLogChannel.publish(event);
    }
  }

  /** Writes the pending `suppressed N similar log lines` summaries now (e.g. before shutdown). */
  flush(): void {
    for (const [key, w] of this.#windows) this.#end(key, w);
    this.#disarm();
  }

  #end(key: string, w: Window): void {
    this.#windows.delete(key);
    if (w.suppressed > 0) {
      this.#logger[w.level](
        { cause: key, category: w.category, suppressed: w.suppressed, intervalMs: this.#interval },
        `suppressed ${w.suppressed} similar log lines`,
      );
    }
  }

  #sweep(now = performance.now()): void {
    for (const [key, w] of this.#windows) if (now - w.start >= this.#interval) this.#end(key, w);
    if (this.#windows.size === 0) this.#disarm();
  }

  #arm(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#sweep(), this.#interval);
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

const byLogger = new WeakMap<Logger, RefusalLog>();

/**
 * The refusal limiter of `logger`, shared by every step and adapter logging to it (so one flood is limited once,
 * whichever middleware refuses). `limit` (an adapter's `refusalLogLimit` option) replaces the logger's limiter.
 */
export function refusalLogFor(logger: Logger, limit?: RefusalLogLimit): RefusalLog {
  let r = byLogger.get(logger);
  if (limit !== undefined) {
    r?.flush();
    r = new RefusalLog(logger, limit);
    byLogger.set(logger, r);
  } else if (!r) {
    r = new RefusalLog(logger);
    byLogger.set(logger, r);
  }
  return r;
}
