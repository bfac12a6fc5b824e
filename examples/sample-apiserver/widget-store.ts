import { randomUUID } from 'node:crypto';
import { sampleGroupVersion } from './api.js';
import { validateSpec, type FieldError } from './widget-fields.js';

export interface Widget {
  readonly apiVersion: string;
  readonly kind: 'Widget';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    /** Absent only on the answer to a dry-run create (nothing was persisted, as Go). */
    readonly resourceVersion?: string;
    readonly creationTimestamp: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: Readonly<Record<string, unknown>>;
}

export type { FieldError } from './widget-fields.js';

/** `field.Invalid(path, value, detail)` for a string value. */
export function invalidField(field: string, value: string, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` };
}

/** Outcome of a write; `BadRequest` carries Go's message, `Invalid` the field errors (→ 422 with causes). */
export type WriteResult =
  | { readonly ok: true; readonly widget: Widget }
  | { readonly ok: false; readonly reason: 'AlreadyExists' | 'NotFound' | 'Conflict'; readonly name: string }
  | { readonly ok: false; readonly reason: 'Invalid'; readonly name: string; readonly errors: readonly FieldError[] }
  | { readonly ok: false; readonly reason: 'BadRequest'; readonly message: string };

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change as the store's watchers see it; `revision` is the store revision the change produced. */
export interface StoreEvent {
  readonly type: WatchEventType;
  readonly object: Widget;
  readonly revision: number;
}

/** `watch()` outcome: the events to send first (replay or synthetic ADDED), or the revision was compacted. */
export type WatchStart =
  | { readonly ok: true; readonly initial: readonly StoreEvent[]; readonly stop: () => void }
  | { readonly ok: false; readonly expired: string };

export interface WriteOptions {
  /** `dryRun=All`: validate and answer as if written, persist nothing, notify no watcher. */
  readonly dryRun?: boolean;
}

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Go's IsDNS1123Subdomain message, so `kubectl` users see the familiar wording. */
export function validateName(name: string): string | undefined {
  if (name.length > 253) return 'must be no more than 253 characters';
  if (!dns1123Subdomain.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  }
  return undefined;
}

/** Go's ValidateNamespaceName (IsDNS1123Label). */
function validateNamespace(ns: string): string | undefined {
  if (ns.length > 63) return 'must be no more than 63 characters';
  if (!dns1123Label.test(ns)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  }
  return undefined;
}

/** Go's ValidateLabels: qualified-name keys (optional DNS-subdomain prefix), label values. */
function validateLabels(labels: Readonly<Record<string, string>>): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const slash = k.indexOf('/');
    const prefix = slash < 0 ? undefined : k.slice(0, slash);
    const name = slash < 0 ? k : k.slice(slash + 1);
    if (prefix !== undefined && (prefix === '' || prefix.length > 253 || !dns1123Subdomain.test(prefix))) {
      errs.push(invalidField('metadata.labels', k, 'prefix part must be a lowercase RFC 1123 subdomain'));
    } else if (name.length === 0 || name.length > 63 || !qualifiedName.test(name)) {
      errs.push(
        invalidField(
          'metadata.labels',
          k,
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)",
        ),
      );
    }
    if (v.length > 63 || !labelValue.test(v)) {
      errs.push(
        invalidField(
          'metadata.labels',
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)",
        ),
      );
    }
  }
  return errs;
}

/** What the sample says at startup and in its OpenAPI: where widgets live, and that a restart loses them. */
export const storageNotice =
  'widgets are kept in memory: they are lost when this process stops, and every replica has its own';

type StringMapResult = { ok: true; value?: Record<string, string> } | { ok: false; message: string };

/** Labels and annotations: a JSON object of strings (Go's decoder refuses anything else with a 400). */
function stringMap(v: unknown, field: string): StringMapResult {
  if (v === undefined || v === null) return { ok: true };
  if (typeof v !== 'object' || Array.isArray(v)) return { ok: false, message: `${field} must be an object of strings` };
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') return { ok: false, message: `${field}[${JSON.stringify(k)}] must be a string` };
    // defineProperty: a "__proto__" key stays an own property instead of replacing the prototype.
    Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
  }
  return { ok: true, value: out };
}

/** Go's RFC 3339 timestamps have second precision. */
function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function objectOr(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * How many past events a watch can resume from, and a list continue from: an older resourceVersion gets 410 Expired,
 * as after etcd's compaction.
 */
const eventHistory = 1000;

/** A change in the history, with the object as it was before (to read a past revision back). */
interface HistoryEntry {
  readonly event: StoreEvent;
  /** The object the change replaced or deleted; undefined for ADDED. */
  readonly previous: Widget | undefined;
}

/**
 * In-memory widgets, keyed by namespace and name. `resourceVersion` is one counter for the whole store (like
 * etcd's revision): every create, update and delete advances it, each object carries the revision of its last
 * write, and watchers resume from any revision still in the event history.
 */
export class WidgetStore {
  readonly #items = new Map<string, Widget>();
  readonly #watchers = new Set<(e: StoreEvent) => void>();
  readonly #history: HistoryEntry[] = [];
  /** Per widget uid, per field manager: the last configuration it applied (server-side apply). */
  readonly #applied = new Map<string, Map<string, Readonly<Record<string, unknown>>>>();
  #revision = 0;
  /** Events at or below this revision have left the history. */
  #compacted = 0;

  get resourceVersion(): string {
    return String(this.#revision);
  }

  /** The store's current revision (the resourceVersion of a list read now). */
  get revision(): number {
    return this.#revision;
  }

  /** Checks the submitted metadata shared by create and update; `name` is the name the object will have. */
  #prepare(
    namespace: string,
    name: string,
    body: Record<string, unknown>,
  ):
    | { ok: true; labels?: Record<string, string>; annotations?: Record<string, string>; spec: Record<string, unknown> }
    | Exclude<WriteResult, { ok: true }> {
    const meta = objectOr(body.metadata) ?? {};
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      // rest.EnsureObjectNamespaceMatchesRequestNamespace
      return {
        ok: false,
        reason: 'BadRequest',
        message: 'the namespace of the provided object does not match the namespace sent on the request',
      };
    }
    const labels = stringMap(meta.labels, 'metadata.labels');
    if (!labels.ok) return { ok: false, reason: 'BadRequest', message: labels.message };
    const annotations = stringMap(meta.annotations, 'metadata.annotations');
    if (!annotations.ok) return { ok: false, reason: 'BadRequest', message: annotations.message };
    if (body.spec !== undefined && body.spec !== null && !objectOr(body.spec)) {
      return { ok: false, reason: 'BadRequest', message: 'spec must be a JSON object' };
    }
    const errors: FieldError[] = [];
    if (!name) {
      errors.push({
        type: 'FieldValueRequired',
        field: 'metadata.name',
        message: 'Required value: name or generateName is required',
      });
    } else {
      const invalid = validateName(name);
      if (invalid) errors.push(invalidField('metadata.name', name, invalid));
    }
    errors.push(...validateSpec(objectOr(body.spec) ?? {}));
    const nsInvalid = validateNamespace(namespace);
    if (nsInvalid) errors.push(invalidField('metadata.namespace', namespace, nsInvalid));
    if (labels.value) errors.push(...validateLabels(labels.value));
    if (errors.length > 0) return { ok: false, reason: 'Invalid', name, errors };
    return {
      ok: true,
      ...(labels.value ? { labels: labels.value } : {}),
      ...(annotations.value ? { annotations: annotations.value } : {}),
      spec: { ...objectOr(body.spec) },
    };
  }

  create(namespace: string, body: Record<string, unknown>, options: WriteOptions = {}): WriteResult {
    const meta = objectOr(body.metadata) ?? {};
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (!name && typeof meta.generateName === 'string' && meta.generateName) {
      name = meta.generateName + randomUUID().slice(0, 5);
    }
    const prepared = this.#prepare(namespace, name, body);
    if (!prepared.ok) return prepared;
    if (this.#items.has(`${namespace}/${name}`)) return { ok: false, reason: 'AlreadyExists', name };
    const { labels, annotations, spec } = prepared;
    const metadata = {
      name,
      namespace,
      uid: randomUUID(),
      // A dry run persists nothing, so there is no revision to report (Go leaves resourceVersion empty).
      ...(options.dryRun ? {} : { resourceVersion: String(this.#revision + 1) }),
      creationTimestamp: now(),
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    };
    const widget: Widget = { apiVersion: sampleGroupVersion, kind: 'Widget', metadata, spec };
    if (!options.dryRun) this.#commit('ADDED', widget);
    return { ok: true, widget };
  }

  /**
   * Replaces labels, annotations and spec of an existing widget (PUT). A `metadata.resourceVersion` in the body is
   * a precondition (409 Conflict when stale), as Go's optimistic concurrency; uid and creationTimestamp are kept.
   */
  update(namespace: string, name: string, body: Record<string, unknown>, options: WriteOptions = {}): WriteResult {
    const meta = objectOr(body.metadata) ?? {};
    if (typeof meta.name === 'string' && meta.name !== '' && meta.name !== name) {
      return {
        ok: false,
        reason: 'BadRequest',
        message: `the name of the object (${meta.name}) does not match the name on the URL (${name})`,
      };
    }
    const current = this.#items.get(`${namespace}/${name}`);
    if (!current) return { ok: false, reason: 'NotFound', name };
    const prepared = this.#prepare(namespace, name, body);
    if (!prepared.ok) return prepared;
    const rv = meta.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) {
      return { ok: false, reason: 'Conflict', name };
    }
    const { labels, annotations, spec } = prepared;
    const widget: Widget = {
      apiVersion: sampleGroupVersion,
      kind: 'Widget',
      metadata: {
        name,
        namespace,
        uid: current.metadata.uid,
        resourceVersion: options.dryRun ? current.metadata.resourceVersion! : String(this.#revision + 1),
        creationTimestamp: current.metadata.creationTimestamp,
        ...(labels ? { labels } : {}),
        ...(annotations ? { annotations } : {}),
      },
      spec,
    };
    if (!options.dryRun) this.#commit('MODIFIED', widget);
    return { ok: true, widget };
  }

  get(namespace: string, name: string): Widget | undefined {
    return this.#items.get(`${namespace}/${name}`);
  }

  /** Widgets in `namespace`, or in every namespace when it is '' (the cluster-wide list). Sorted by namespace/name. */
  list(namespace: string): Widget[] {
    return [...this.#items.entries()]
      .filter(([, w]) => namespace === '' || w.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, w]) => w);
  }

  /**
   * The widgets of `list(namespace)` as they were at `revision` (a consistent snapshot, as etcd reads a past
   * revision): the current objects with every later change in the history undone. Undefined when that revision can
   * no longer be read (older than the history, as after etcd's compaction) or was never reached (a token from another
   * replica or from before a restart).
   */
  listAt(namespace: string, revision: number): Widget[] | undefined {
    if (revision === this.#revision) return this.list(namespace);
    if (revision > this.#revision || revision < this.#compacted) return undefined;
    const items = new Map(this.#items);
    for (let i = this.#history.length - 1; i >= 0; i--) {
      const { event, previous } = this.#history[i]!;
      if (event.revision <= revision) break;
      const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
      if (previous) items.set(key, previous);
      else items.delete(key);
    }
    return [...items.entries()]
      .filter(([, w]) => namespace === '' || w.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, w]) => w);
  }

  /** Removes a widget (not with `dryRun`); answers the widget as it was, or undefined when there is none. */
  delete(namespace: string, name: string, options: WriteOptions = {}): Widget | undefined {
    const w = this.#items.get(`${namespace}/${name}`);
    if (w && !options.dryRun) {
      // The DELETED event carries the revision of the deletion, as etcd's watch does.
      this.#commit('DELETED', { ...w, metadata: { ...w.metadata, resourceVersion: String(this.#revision + 1) } });
    }
    return w;
  }

  /**
   * Starts a watch. Without `sinceRevision` (or with 0) the current objects come first as synthetic ADDED events
   * (Go without resourceVersion); with one, every later change still in the history is replayed, and a revision
   * older than the history is `expired` (Go's 410 "too old resource version"). Then `listener` receives each change.
   */
  watch(sinceRevision: number | undefined, listener: (e: StoreEvent) => void): WatchStart {
    let initial: StoreEvent[];
    if (sinceRevision === undefined || sinceRevision === 0) {
      initial = this.list('').map((object) => ({ type: 'ADDED', object, revision: this.#revision }));
    } else {
      if (sinceRevision < this.#compacted) {
        return { ok: false, expired: `too old resource version: ${sinceRevision} (${this.#compacted})` };
      }
      initial = this.#history.filter((h) => h.event.revision > sinceRevision).map((h) => h.event);
    }
    this.#watchers.add(listener);
    return { ok: true, initial, stop: () => this.#watchers.delete(listener) };
  }

  /** Number of open watches (for tests and metrics). */
  get watchCount(): number {
    return this.#watchers.size;
  }

  /** Ends every watch: each listener receives nothing more; the app's close hook ends their responses. */
  readonly #closeHooks = new Set<() => void>();

  /** Registers a hook run by {@link closeWatches}; returns its removal. */
  onClose(hook: () => void): () => void {
    this.#closeHooks.add(hook);
    return () => this.#closeHooks.delete(hook);
  }

  /** Ends all open watch streams (call before closing the server, so shutdown does not wait for them). */
  closeWatches(): void {
    for (const hook of [...this.#closeHooks]) hook();
    this.#closeHooks.clear();
    this.#watchers.clear();
  }

  /** The configuration `manager` last applied to the widget with this uid (server-side apply), if any. */
  lastApplied(uid: string, manager: string): Readonly<Record<string, unknown>> | undefined {
    return this.#applied.get(uid)?.get(manager);
  }

  /** Records what `manager` applied to `widget` (as stored); forgotten when the widget is deleted. */
  recordApplied(widget: Widget, manager: string, config: Readonly<Record<string, unknown>>): void {
    const { namespace, name, uid } = widget.metadata;
    if (this.#items.get(`${namespace}/${name}`)?.metadata.uid !== uid) return;
    let byManager = this.#applied.get(uid);
    if (!byManager) this.#applied.set(uid, (byManager = new Map()));
    byManager.set(manager, config);
  }

  #commit(type: WatchEventType, widget: Widget): void {
    const key = `${widget.metadata.namespace}/${widget.metadata.name}`;
    const previous = this.#items.get(key);
    this.#revision++;
    if (type === 'DELETED') {
      this.#items.delete(key);
      this.#applied.delete(widget.metadata.uid);
    } else this.#items.set(key, widget);
    const event: StoreEvent = { type, object: widget, revision: this.#revision };
    this.#history.push({ event, previous });
    if (this.#history.length > eventHistory) this.#compacted = this.#history.shift()!.event.revision;
    for (const w of [...this.#watchers]) w(event);
  }
}
