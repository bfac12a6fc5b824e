import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { KdaError } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import type { Listener } from './interfaces.js';
import { MutableProvider, type ProviderHealth } from './mutable-provider.js';

/**
 * The one "reload a file, keep the last good copy" primitive of the library (Go's `DynamicFileCAContent` and
 * `DynamicCertKeyPairContent`): the CA bundle files, the serving key pair and the identity-mapping file use it.
 *
 * Watch strategy, chosen once: an `fs.watch` on each file's **directory**, plus a periodic re-read.
 * - The directory, not the file: a watch on the file follows its inode, so it goes deaf after the first atomic
 *   rename-replacement (cert-manager, `kubectl cp`, editors) and never sees a ConfigMap volume's `..data` symlink swap.
 *   Go's fsnotify loop has the same problem and re-adds the watch after every Remove/Rename; watching the directory
 *   needs no re-arming, so there is no window in which a change is missed.
 * - The periodic re-read (Go: one minute) covers filesystems where `fs.watch` is silent (NFS, some overlays) and a
 *   directory that is itself replaced; a watcher that errors is dropped and re-armed on the next period.
 * - Events are debounced (a writer replaces a certificate and its key in two steps) and unchanged bytes are ignored,
 *   so unrelated entries in the directory cost one read and no notification.
 */
export function watchFiles(
  paths: readonly string[],
  onChange: () => void,
  options: { readonly pollInterval: number; readonly debounce?: number },
): () => void {
  const dirs = [...new Set(paths.map((p) => dirname(resolve(p))))];
  return watchChanges(
    (notify) => {
      const watchers: FSWatcher[] = [];
      let failed = false;
      for (const dir of dirs) {
        try {
          // Any entry may be the symlink the file resolves through: every event is a "may have changed".
          const w = watch(dir, { persistent: false }, notify);
          w.on('error', () => {
            w.close();
            const i = watchers.indexOf(w);
            if (i >= 0) watchers.splice(i, 1);
          });
          watchers.push(w);
        } catch {
          // The directory is missing or fs.watch is unsupported here: the periodic re-read keeps trying.
          failed = true;
        }
      }
      const unsubscribe = (): void => {
        for (const w of watchers.splice(0)) w.close();
      };
      return { unsubscribe, healthy: () => !failed && watchers.length === dirs.length };
    },
    onChange,
    options,
  );
}

/** A subscription to "may have changed" events, as `watchChanges` drives it. */
export interface ChangeSubscription {
  readonly unsubscribe: () => void;
  /** False when the subscription lost (part of) its event source; it is replaced on the next period. */
  readonly healthy?: () => boolean;
}

/**
 * The timing half of the file-reload primitive, for any source that can say "may have changed" (a file's directory,
 * a ConfigMap watch): events are debounced into one `onChange`, and every `pollInterval` ms `onChange` runs anyway
 * (Go's periodic re-check), re-subscribing first when the subscription broke. `subscribe` may be undefined (poll
 * only). Returns the stop function.
 */
export function watchChanges(
  subscribe: ((notify: () => void) => ChangeSubscription) | undefined,
  onChange: () => void,
  options: { readonly pollInterval: number; readonly debounce?: number },
): () => void {
  let debounce: NodeJS.Timeout | undefined;
  let stopped = false;
  let subscription: ChangeSubscription | undefined;
  const schedule = (): void => {
    if (stopped) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!stopped) onChange();
    }, options.debounce ?? 50);
    debounce.unref();
  };
  const arm = (): void => {
    if (!subscribe || (subscription && (subscription.healthy?.() ?? true))) return;
    subscription?.unsubscribe();
    subscription = subscribe(schedule);
  };
  arm();
  const timer =
    options.pollInterval > 0
      ? setInterval(() => {
          arm();
          onChange();
        }, options.pollInterval)
      : undefined;
  timer?.unref();
  return () => {
    stopped = true;
    if (timer) clearInterval(timer);
    if (debounce) clearTimeout(debounce);
    subscription?.unsubscribe();
    subscription = undefined;
  };
}

/** Options shared by the file-backed providers (`fileCABundle`, `fileCertKeyPair`). */
export interface FileProviderOptions {
  /** Provider name for logs and health, Go style `<purpose>::<location>`; each provider has a default. */
  readonly name?: string;
  /** Periodic re-read in ms, on top of the directory watch. Default 60_000 (Go re-checks every minute). */
  readonly pollInterval?: number;
  readonly logger?: Logger;
}

/** The lifecycle of a file-backed provider (Go's `RunOnce`/`Run`), with its load health. */
export interface FileBacked {
  /** Reads now. Rejects if the files are unreadable or invalid and nothing good was loaded before. */
  runOnce(): Promise<void>;
  /** Watches until close(); a bad read keeps the last good value, is logged and shows in `health`. */
  start(): void;
  close(): Promise<void>;
  readonly health: ProviderHealth;
}

export interface FileContentOptions<T> {
  /** For logs and health, Go style `<purpose>::<location>`, e.g. `client-ca-bundle::/etc/ca.crt`. */
  readonly name: string;
  /** Files read together (e.g. certificate and key); a change to any of them re-reads all. */
  readonly paths: readonly string[];
  /** Builds the value from the files' bytes (in `paths` order); throws on invalid content. */
  readonly parse: (contents: readonly Buffer[], version: number) => T;
  /** What the content is, for log lines: `'CA bundle'`, `'serving certificate'`. */
  readonly what: string;
  /** Re-read period in ms, on top of the directory watch; 0 disables. Default 60_000 (Go's one minute). */
  readonly pollInterval?: number;
  /** Delay in ms between a watch event and the re-read. Default 50. */
  readonly debounce?: number;
  readonly logger?: Logger;
}

/**
 * Content read from files, with the last good copy kept: the constructor does no I/O; `runOnce()` primes (and throws
 * when nothing good was ever read); `start()` watches until `close()`; a failed re-read keeps the last good value,
 * logs why and shows in `health`; listeners are notified only when the bytes change.
 */
export class FileContent<T> {
  readonly name: string;
  readonly #opts: FileContentOptions<T>;
  readonly #logger: Logger;
  /** The value, its listeners and its health: the same provider class a ConfigMap-backed source uses. */
  readonly #provider: MutableProvider<T>;
  #version = 0;
  #raw: Buffer[] | undefined;
  #inFlight: Promise<void> | undefined;
  #again = false;
  #stop: (() => void) | undefined;
  #closed = false;

  constructor(options: FileContentOptions<T>) {
    this.name = options.name;
    this.#provider = new MutableProvider<T>(options.name);
    this.#opts = options;
    this.#logger = options.logger ?? noopLogger;
  }

  /** Last good value; undefined before the first successful read. */
  current(): T | undefined {
    return this.#provider.current();
  }

  addListener(listener: Listener): () => void {
    return this.#provider.addListener(listener);
  }

  /** Load bookkeeping: when the content was last loaded, and the error while the last good copy is served. */
  get health(): ProviderHealth {
    return this.#provider.health;
  }

  /** Reads now. Rejects with the read/parse error only when nothing good was loaded before; else logs and keeps it. */
  async runOnce(): Promise<void> {
    if (this.#closed) throw new KdaError('ERR_KDA_CLOSED', `${this.name} is closed`);
    try {
      await this.#check();
    } catch (err) {
      if (this.current() === undefined) throw err;
      this.#keepLastGood(err);
    }
  }

  /** Watches the files (directory watch + periodic re-read) until close(). Idempotent. */
  start(): void {
    if (this.#closed || this.#stop) return;
    this.#stop = watchFiles(
      this.#opts.paths,
      () => void this.#check().catch((err: unknown) => this.#keepLastGood(err)),
      {
        pollInterval: this.#opts.pollInterval ?? 60_000,
        ...(this.#opts.debounce !== undefined ? { debounce: this.#opts.debounce } : {}),
      },
    );
  }

  /** Stops watching, drops listeners, waits for a read in flight. The last value stays readable. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop?.();
    this.#provider.clearListeners();
    await this.#inFlight?.catch(() => undefined);
  }

  #keepLastGood(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.health.lastError = message;
    this.health.lastErrorAt = Date.now();
    this.#logger.warn(
      { name: this.name, error: message },
      `failed to reload the ${this.#opts.what}; keeping the last good one`,
    );
  }

  /** One read at a time; a request during a read runs one more read after it, so no change is lost. */
  #check(): Promise<void> {
    if (this.#inFlight) {
      this.#again = true;
      return this.#inFlight;
    }
    this.#inFlight = (async () => {
      let failure: { error: unknown } | undefined;
      try {
        do {
          this.#again = false;
          try {
            await this.#load();
            failure = undefined;
          } catch (error) {
            failure = { error };
          }
        } while (this.#again && !this.#closed);
      } finally {
        this.#inFlight = undefined;
      }
      if (failure) throw failure.error;
    })();
    return this.#inFlight;
  }

  async #load(): Promise<void> {
    const raw = await Promise.all(this.#opts.paths.map((p) => readFile(p)));
    if (this.#raw && raw.length === this.#raw.length && raw.every((b, i) => b.equals(this.#raw![i]!))) {
      this.health.lastError = undefined;
      return;
    }
    const value = this.#opts.parse(raw, this.#version + 1);
    this.#raw = raw;
    this.#version++;
    this.health.loadedAt = Date.now();
    this.health.lastError = undefined;
    this.#logger.info({ name: this.name, version: this.#version }, `loaded a new ${this.#opts.what}`);
    this.#provider.set(value); // notifies; a throwing listener stops neither the others nor this reload
  }
}
