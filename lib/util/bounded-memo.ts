/**
 * A memo of answers computed from what clients send (header names, certificates, chains), bounded in entries **and**
 * in bytes. An entry bound alone is not a memory bound when the client chooses the size of each key: TLS lets a chain
 * reach ~100 KB and a header name ~16 KB, so 1024 crafted entries could pin ~100 MB.
 *
 * Oldest out, in insertion order; a hit does not refresh an entry, so a lookup is one `Map.get` on the request path
 * (lru-cache's `get` also reorders: ~1 µs in our profiles, more than the work these memos save). Every answer it holds
 * is cheap to recompute, so an entry pushed out costs time, never correctness. An entry larger than the whole budget
 * is not kept.
 */
export class BoundedMemo<K, V> {
  readonly #entries = new Map<K, { readonly value: V; readonly bytes: number }>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;

  /** @param maxEntries at least 1. @param maxBytes the budget for the sizes callers give to {@link set}. */
  constructor(maxEntries: number, maxBytes: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be an integer >= 1');
    if (!(maxBytes >= 0)) throw new RangeError('maxBytes must be >= 0');
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Remembers `value` for `key`, counting `bytes` against the budget (the caller measures what it keeps alive). */
  set(key: K, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.#maxBytes) return;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      this.delete(this.#entries.keys().next().value!);
    }
  }

  delete(key: K): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#bytes -= e.bytes;
    this.#entries.delete(key);
  }

  /** Entries held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes held now, as the callers of {@link set} measured them. */
  get bytes(): number {
    return this.#bytes;
  }
}
