import { trustDefaults } from '../defaults.js';
import { noopLogger, type Logger } from '../log.js';
import { sleep } from '../util/sleep.js';
import { KubeApiError, type RestClient } from './rest-client.js';

/** The part of an object the loop reads: its name and resourceVersion. */
export interface ObjectWithMeta {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
}

export interface WatchOneOptions<T extends ObjectWithMeta> {
  /** Client for kube-apiserver. */
  readonly client: RestClient;
  /** Collection path, e.g. `/api/v1/namespaces/kube-system/configmaps`. */
  readonly path: string;
  /** Name of the one object (listed and watched with `fieldSelector=metadata.name=<name>`, so RBAC on the name applies). */
  readonly name: string;
  /** What the object is, for logs and errors (`configmap`). */
  readonly kind: string;
  /**
   * Called with the object after every list and ADDED/MODIFIED event, and with `undefined` when the list does not
   * contain it or a DELETED event arrives. Must not throw (a throw ends the current watch and restarts it).
   */
  readonly onObject: (object: T | undefined) => void;
  /** Called when a list fails (before the error propagates or is logged). */
  readonly onListError?: (err: unknown) => void;
  /** Called when a list succeeds (before `onObject`). */
  readonly onListSuccess?: () => void;
  /** Turns an error into a log message (e.g. adds the RoleBinding fix to a 403). Default: `err.message`. */
  readonly describeError?: (err: unknown) => string;
  /** Periodic re-read besides the watch, ms. Default 60_000 (see lib/defaults `trustDefaults`). */
  readonly pollInterval?: number;
  /** Server-side watch timeout, seconds; the watch is then resumed from the last resourceVersion. Default 300. */
  readonly watchTimeoutSeconds?: number;
  /** First delay before restarting a failed watch, ms; doubles up to `maxRetryDelay`. Default 1_000. */
  readonly retryDelay?: number;
  /** Cap of the restart delay, ms. Default 30_000. */
  readonly maxRetryDelay?: number;
  readonly logger?: Logger;
}

interface ObjectList<T> {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly items?: readonly T[];
}

interface WatchEvent<T> {
  readonly type?: string;
  readonly object?: T & { readonly code?: number; readonly message?: string; readonly reason?: string };
}

class ClosedSignal extends Error {}

/**
 * Go's informer for one named object, without the cache: `list()` reads it (field-selected) and reports it;
 * `start()` watches it from the list's resourceVersion (resuming after a server-side timeout, relisting after a 410 or
 * an ERROR event, restarting with a doubling backoff after a failure) and re-lists it every `pollInterval` as a safety
 * net. `close()` stops both and waits for the loop to end.
 */
export class WatchOne<T extends ObjectWithMeta> {
  readonly #opts: WatchOneOptions<T>;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #rv: string | undefined;
  #loop: Promise<void> | undefined;
  #poll: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  constructor(opts: WatchOneOptions<T>) {
    this.#opts = opts;
    this.#logger = opts.logger ?? noopLogger;
  }

  /** Lists once and reports the object; the resourceVersion becomes the watch's starting point. */
  async list(signal?: AbortSignal): Promise<void> {
    this.#rv = await this.#list(signal);
  }

  /** Starts the watch loop and the periodic re-read. Idempotent; call after `list()` (or the loop lists first). */
  start(): void {
    if (this.#closed || this.#started) return;
    this.#started = true;
    this.#loop = this.#watchLoop().catch((err: unknown) => {
      if (!(err instanceof ClosedSignal))
        this.#logger.error({ error: String(err) }, `${this.#opts.kind} watch loop ended`);
    });
    this.#poll = setInterval(() => {
      this.#list(this.#abort.signal).catch((err: unknown) => {
        if (!this.#closed)
          this.#logger.warn({ error: this.#describe(err) }, `periodic ${this.#opts.kind} re-read failed`);
      });
    }, this.#opts.pollInterval ?? trustDefaults.pollInterval);
    this.#poll.unref();
  }

  /** Stops watching and polling; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new ClosedSignal('closed'));
    if (this.#poll) clearInterval(this.#poll);
    await this.#loop;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #describe(err: unknown): string {
    if (this.#opts.describeError) return this.#opts.describeError(err);
    return err instanceof Error ? err.message : String(err);
  }

  get #fieldSelector(): string {
    return `metadata.name=${this.#opts.name}`;
  }

  /** Lists (field-selected) and reports; returns the list resourceVersion. */
  async #list(signal?: AbortSignal): Promise<string | undefined> {
    let list: ObjectList<T>;
    try {
      list = await this.#opts.client.get<ObjectList<T>>(this.#opts.path, {
        query: { fieldSelector: this.#fieldSelector },
        ...(signal && { signal }),
      });
    } catch (err) {
      if (!this.#closed) this.#opts.onListError?.(err);
      throw err;
    }
    this.#opts.onListSuccess?.();
    this.#opts.onObject(list.items?.find((i) => i.metadata?.name === this.#opts.name));
    return list.metadata?.resourceVersion;
  }

  async #watchLoop(): Promise<void> {
    const signal = this.#abort.signal;
    const initialDelay = this.#opts.retryDelay ?? trustDefaults.retryDelay;
    const maxDelay = this.#opts.maxRetryDelay ?? trustDefaults.maxRetryDelay;
    let delay = initialDelay;
    let relist = this.#rv === undefined;
    while (!this.#closed) {
      const started = performance.now();
      let events = 0;
      try {
        if (relist) {
          this.#rv = await this.#list(signal);
          relist = false;
        }
        const outcome = await this.#watchOnce(signal, () => {
          events++;
          delay = initialDelay;
        });
        if (outcome === 'relist') relist = true;
        // A server-side timeout resumes from #rv at once; a watch that closes instantly and empty is a failure.
        if (outcome === 'ended' && (events > 0 || performance.now() - started >= trustDefaults.minWatchDuration))
          continue;
      } catch (err) {
        if (this.#closed) return;
        if (
          err instanceof KubeApiError &&
          (err.statusCode === 410 || err.reason === 'Expired' || err.reason === 'Gone')
        ) {
          relist = true;
        } else {
          this.#logger.warn(
            { error: this.#describe(err), retryInMs: delay },
            `${this.#opts.kind} watch failed; retrying`,
          );
        }
      }
      await sleep(delay, signal);
      delay = Math.min(maxDelay, delay * 2);
    }
  }

  /** One watch request; resolves 'ended' on a clean server close, 'relist' after 410 or an ERROR event. */
  async #watchOnce(signal: AbortSignal, onEvent: () => void): Promise<'ended' | 'relist'> {
    const { kind, name } = this.#opts;
    const timeoutSeconds = this.#opts.watchTimeoutSeconds ?? trustDefaults.watchTimeoutSeconds;
    const res = await this.#opts.client.stream(this.#opts.path, {
      query: {
        fieldSelector: this.#fieldSelector,
        watch: 'true',
        allowWatchBookmarks: 'true',
        timeoutSeconds,
        ...(this.#rv !== undefined && { resourceVersion: this.#rv }),
      },
      signal,
      // A silent connection (no bookmark, no close) well past the server timeout is dead.
      bodyTimeout: (timeoutSeconds + 60) * 1000,
    });
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === '') continue;
          let ev: WatchEvent<T>;
          try {
            ev = JSON.parse(line) as WatchEvent<T>;
          } catch {
            throw new KubeApiError(`watch of ${kind}/${name}: undecodable event`, { networkCode: 'EDECODE' });
          }
          const rv = ev.object?.metadata?.resourceVersion;
          switch (ev.type) {
            case 'ADDED':
            case 'MODIFIED':
              this.#opts.onObject(ev.object);
              break;
            case 'DELETED':
              this.#opts.onObject(undefined);
              break;
            case 'BOOKMARK':
              break;
            case 'ERROR': {
              const o = ev.object ?? ({} as NonNullable<WatchEvent<T>['object']>);
              if (o.code !== 410) {
                this.#logger.warn(
                  { code: o.code, reason: o.reason, error: o.message },
                  `${kind} watch ERROR event; relisting`,
                );
              }
              return 'relist';
            }
            default:
              throw new KubeApiError(`watch of ${kind}/${name}: unknown event type ${String(ev.type)}`, {
                networkCode: 'EDECODE',
              });
          }
          if (rv !== undefined) this.#rv = rv;
          onEvent();
        }
      }
    } finally {
      res.body.destroy();
    }
    return 'ended';
  }
}
