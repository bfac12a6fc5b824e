import { randomUUID } from 'node:crypto';
import { sampleGroupVersion } from './discovery.js';

export interface Widget {
  readonly apiVersion: string;
  readonly kind: 'Widget';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly resourceVersion: string;
    readonly creationTimestamp: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: Readonly<Record<string, unknown>>;
}

export type CreateResult =
  | { readonly ok: true; readonly widget: Widget }
  | { readonly ok: false; readonly reason: 'AlreadyExists' | 'Invalid'; readonly message: string };

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Go's IsDNS1123Subdomain message, so `kubectl` users see the familiar wording. */
export function validateName(name: string): string | undefined {
  if (name.length > 253) return 'must be no more than 253 characters';
  if (!dns1123Subdomain.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  }
  return undefined;
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Go's RFC 3339 timestamps have second precision. */
function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** In-memory widgets, keyed by namespace and name; resourceVersion is one counter for the whole store, like etcd's. */
export class WidgetStore {
  readonly #items = new Map<string, Widget>();
  #revision = 0;

  get resourceVersion(): string {
    return String(this.#revision);
  }

  create(namespace: string, body: Record<string, unknown>): CreateResult {
    const meta = (body.metadata ?? {}) as Record<string, unknown>;
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (!name && typeof meta.generateName === 'string' && meta.generateName) {
      name = meta.generateName + randomUUID().slice(0, 5);
    }
    if (!name)
      return {
        ok: false,
        reason: 'Invalid',
        message: 'metadata.name: Required value: name or generateName is required',
      };
    const invalid = validateName(name);
    if (invalid)
      return {
        ok: false,
        reason: 'Invalid',
        message: `metadata.name: Invalid value: ${JSON.stringify(name)}: ${invalid}`,
      };
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      return {
        ok: false,
        reason: 'Invalid',
        message: `metadata.namespace: Invalid value: ${JSON.stringify(meta.namespace)}: does not match the namespace of the request (${namespace})`,
      };
    }
    const key = `${namespace}/${name}`;
    if (this.#items.has(key)) return { ok: false, reason: 'AlreadyExists', message: name };
    const spec = body.spec && typeof body.spec === 'object' && !Array.isArray(body.spec) ? body.spec : {};
    const labels = stringMap(meta.labels);
    const annotations = stringMap(meta.annotations);
    const widget: Widget = {
      apiVersion: sampleGroupVersion,
      kind: 'Widget',
      metadata: {
        name,
        namespace,
        uid: randomUUID(),
        resourceVersion: String(++this.#revision),
        creationTimestamp: now(),
        ...(labels ? { labels } : {}),
        ...(annotations ? { annotations } : {}),
      },
      spec: spec as Record<string, unknown>,
    };
    this.#items.set(key, widget);
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

  delete(namespace: string, name: string): Widget | undefined {
    const key = `${namespace}/${name}`;
    const w = this.#items.get(key);
    if (w) {
      this.#items.delete(key);
      this.#revision++;
    }
    return w;
  }
}
