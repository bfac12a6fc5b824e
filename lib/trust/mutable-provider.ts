import type { Listener } from './interfaces.js';

/** Load bookkeeping of one provider, read by `TrustSource.status()` (so /readyz?verbose and metrics). */
export class ProviderHealth {
  /** ms since epoch of the last successful load. */
  loadedAt: number | undefined;
  /** Set while the provider serves last-known-good (or nothing) because of an error. */
  lastError: string | undefined;
  lastErrorAt: number | undefined;
}

/**
 * Calls every listener; a throwing listener must not stop the others nor the reload that applied the change (Go
 * queues listener calls, so one bad listener cannot block a rotation either).
 */
export function notifyAll(listeners: ReadonlySet<Listener>): void {
  for (const l of [...listeners]) {
    try {
      l();
    } catch {
      // listeners are notifications; their failures are their own
    }
  }
}

/**
 * A provider whose value its owner sets (a CA bundle or a request-header configuration read from a ConfigMap):
 * `current()` for readers, `set()` for the owner, which notifies the listeners.
 */
export class MutableProvider<T> {
  readonly name: string;
  readonly health = new ProviderHealth();
  #value: T | undefined;
  readonly #listeners = new Set<Listener>();

  constructor(name: string) {
    this.name = name;
  }

  current(): T | undefined {
    return this.#value;
  }

  addListener(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  set(value: T | undefined): void {
    this.#value = value;
    notifyAll(this.#listeners);
  }

  /** Drops every listener (the owner is closing). */
  clearListeners(): void {
    this.#listeners.clear();
  }
}
