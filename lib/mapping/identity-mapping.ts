import type { UserInfo } from '../authn/interfaces.js';
import { InvalidOptionError, KdaError } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import {
  applyMapping,
  parseMappingDocument,
  type Identity,
  type MapOutcome,
  type MappingDocument,
} from './mapping-document.js';
import type { MappingSource } from './mapping-source.js';
import { watchChanges } from '../trust/file-content.js';

export type { Identity, MapOutcome, MappingDocument } from './mapping-document.js';
export { applyMapping, parseMappingDocument, reservedPrefix } from './mapping-document.js';
export type { MappingSource, ConfigMapMappingSourceOptions } from './mapping-source.js';
export { configMapMappingSource, fileMappingSource } from './mapping-source.js';

export interface IdentityMappingOptions {
  /** Where the document lives. Required. */
  readonly source: MappingSource;
  /** Re-read interval in ms, on top of `source.watch` events; 0 disables polling. Default 10000. */
  readonly pollIntervalMs?: number;
  /** Delay in ms between a watch event and the re-read, to let a writer finish. Default 100. */
  readonly debounceMs?: number;
  /** Default: the silent library logger. */
  readonly logger?: Logger;
  /** Time source for status timestamps. Default `() => new Date()`. */
  readonly now?: () => Date;
}

export interface IdentityMappingStatus {
  /** The source name, e.g. `file:/etc/kda/mapping.yaml`. */
  readonly source: string;
  /** A document has been applied at least once. */
  readonly loaded: boolean;
  /** Increments each time a changed document is applied; 0 before the first. */
  readonly version: number;
  /** Digest of the applied document ('' before the first). */
  readonly digest: string;
  readonly rules: number;
  readonly loadedAt?: Date;
  /** The error of the latest read when it failed; cleared by the next successful read. */
  readonly lastError?: string;
  readonly lastErrorAt?: Date;
  /** Failed reads since start. */
  readonly errorCount: number;
}

/**
 * An identity → Kubernetes user mapping (the aws-auth idea, generalised) that follows its source and keeps the
 * LAST-KNOWN-GOOD document on any read, parse or validation error: a broken edit is logged at error and shown in
 * `status()`, and every identity keeps working until a valid document replaces it. The constructor does no I/O;
 * `start()` loads (and fails when there is nothing good to keep yet).
 */
export class IdentityMapping {
  readonly #source: MappingSource;
  readonly #pollIntervalMs: number;
  readonly #debounceMs: number;
  readonly #logger: Logger;
  readonly #now: () => Date;
  #doc: MappingDocument | undefined;
  #version = 0;
  #loadedAt: Date | undefined;
  #lastText: string | undefined;
  #goodText: string | undefined;
  #lastError: string | undefined;
  #lastErrorAt: Date | undefined;
  #errorCount = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #stopWatching: (() => void) | undefined;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(options: IdentityMappingOptions) {
    const { source, pollIntervalMs = 10_000, debounceMs = 100, logger = noopLogger, now = () => new Date() } = options;
    const problems: string[] = [];
    if (!source || typeof source.read !== 'function') problems.push('"source" option must be a MappingSource');
    if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 0) problems.push('"pollIntervalMs" option must be >= 0');
    if (!Number.isFinite(debounceMs) || debounceMs < 0) problems.push('"debounceMs" option must be >= 0');
    if (problems.length) throw new InvalidOptionError(problems);
    this.#source = source;
    this.#pollIntervalMs = pollIntervalMs;
    this.#debounceMs = debounceMs;
    this.#logger = logger;
    this.#now = now;
  }

  /** Loads once (rejects when the first document is unreadable or invalid), then follows the source. */
  async start(): Promise<void> {
    if (this.#closed) throw new KdaError('ERR_KDA_CLOSED', 'identity mapping is closed');
    await this.reload();
    if (!this.#doc) {
      throw new KdaError('ERR_KDA_INVALID_OPTION', `identity mapping ${this.#source.name}: ${this.#lastError}`, {
        details: { source: this.#source.name },
      });
    }
    if (this.#stopWatching) return;
    // The library's one reload timing (lib/trust/file-content): the source's events debounced, plus the poll.
    const watch = this.#source.watch?.bind(this.#source);
    this.#stopWatching = watchChanges(
      watch && ((notify) => ({ unsubscribe: watch(notify) })),
      () => void this.reload().catch(() => undefined),
      { pollInterval: this.#pollIntervalMs, debounce: this.#debounceMs },
    );
  }

  /**
   * Re-reads the source now. Resolves true when a changed document was applied, false when unchanged or rejected
   * (the error is in `status()`). Never rejects for source problems; reads are serialised.
   */
  reload(): Promise<boolean> {
    if (this.#closed) return Promise.reject(new KdaError('ERR_KDA_CLOSED', 'identity mapping is closed'));
    const run = this.#chain.then(() => this.#reloadOnce());
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #reloadOnce(): Promise<boolean> {
    if (this.#closed) return false;
    let text: string;
    try {
      text = await this.#source.read(this.#abort.signal);
    } catch (err) {
      if (this.#closed) return false;
      // Read errors are not deduplicated by content: a missing file stays an error at each poll but is logged once.
      this.#fail(`read failed: ${(err as Error).message}`, undefined);
      return false;
    }
    if (text === this.#lastText) return false;
    if (text === this.#goodText) {
      // Back to the document already in force (after a bad edit or a read error): recovered, nothing to apply.
      this.#lastText = text;
      if (this.#recover()) {
        this.#logger.info(
          { source: this.#source.name, version: this.#version },
          'identity mapping source is valid again',
        );
      }
      return false;
    }
    let doc: MappingDocument;
    try {
      doc = parseMappingDocument(text);
    } catch (err) {
      this.#fail(err instanceof InvalidOptionError ? err.problems.join('; ') : (err as Error).message, text);
      return false;
    }
    this.#lastText = text;
    this.#goodText = text;
    this.#doc = doc;
    this.#version += 1;
    this.#loadedAt = this.#now();
    const recovered = this.#recover();
    this.#logger.info(
      { source: this.#source.name, version: this.#version, digest: doc.digest, rules: doc.rules.length, recovered },
      'identity mapping loaded',
    );
    return true;
  }

  #recover(): boolean {
    if (this.#lastError === undefined) return false;
    this.#lastError = undefined;
    this.#lastErrorAt = undefined;
    return true;
  }

  #fail(message: string, text: string | undefined): void {
    const repeated = message === this.#lastError;
    this.#lastText = text;
    this.#lastError = message;
    this.#lastErrorAt = this.#now();
    this.#errorCount += 1;
    if (repeated) return;
    this.#logger.error(
      {
        source: this.#source.name,
        err: message,
        keeping: this.#doc ? { version: this.#version, digest: this.#doc.digest } : 'nothing (no document loaded yet)',
      },
      this.#doc
        ? 'identity mapping update rejected; keeping the last known good mapping'
        : 'identity mapping could not be loaded',
    );
  }

  /** Maps an identity, or undefined when no rule applies or the applicable rule refuses it (logged at info). */
  map(identity: Identity): UserInfo | undefined {
    const out = this.explain(identity);
    return out.ok ? out.user : undefined;
  }

  /** Like `map`, with the reason for a refusal and the rule index. */
  explain(identity: Identity): MapOutcome {
    if (!this.#doc) return { ok: false, reason: 'no mapping loaded' };
    const out = applyMapping(this.#doc, identity);
    if (!out.ok && out.rule !== undefined) {
      this.#logger.info({ source: this.#source.name, rule: out.rule, reason: out.reason }, 'identity mapping refused');
    }
    return out;
  }

  status(): IdentityMappingStatus {
    return {
      source: this.#source.name,
      loaded: this.#doc !== undefined,
      version: this.#version,
      digest: this.#doc?.digest ?? '',
      rules: this.#doc?.rules.length ?? 0,
      ...(this.#loadedAt ? { loadedAt: this.#loadedAt } : {}),
      ...(this.#lastError !== undefined ? { lastError: this.#lastError, lastErrorAt: this.#lastErrorAt! } : {}),
      errorCount: this.#errorCount,
    };
  }

  /** Stops watching and polling; the loaded mapping keeps answering `map`. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new KdaError('ERR_KDA_CLOSED', 'identity mapping is closed'));
    this.#stopWatching?.();
    await this.#chain;
  }
}
