/**
 * Server-side printing: the `meta.k8s.io` Table kubectl asks for (`Accept: application/json;as=Table;v=v1;
 * g=meta.k8s.io, ...`) so `kubectl get widgets` shows columns. The columns are those a CRD with
 * additionalPrinterColumns would show: NAME, the sample's COLOR and SIZE, then AGE.
 */
import type { FieldError, Widget } from './widget-store.js';

/** What the client accepts for a widget read, in its order of preference. */
export type ReadFormat =
  | { readonly kind: 'json' }
  | { readonly kind: 'table'; readonly apiVersion: 'meta.k8s.io/v1' | 'meta.k8s.io/v1beta1' }
  | { readonly kind: 'none' };

/** `type/subtype;k=v;...` split into essence and parameters (lower-cased names; values kept as sent). */
function parseMediaRange(range: string): { essence: string; params: Map<string, string>; q: number } {
  const [essence, ...rest] = range.split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params.set(
      p.slice(0, eq).trim().toLowerCase(),
      p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  const q = Number(params.get('q') ?? '1');
  return { essence: essence!.trim().toLowerCase(), params, q: Number.isFinite(q) ? q : 0 };
}

/**
 * Go's content negotiation for a read that can be converted: the client's ranges by `q` (stable), the first one
 * served wins. A Table is served for `as=Table;g=meta.k8s.io;v=v1|v1beta1`; plain JSON for `application/json`,
 * `application/*` and `*\/*` without `as`; other `as=` targets (PartialObjectMetadata) and other media types are
 * skipped, and `none` means nothing was acceptable (Go's 406). No Accept header means JSON.
 */
export function negotiateRead(accept: string | undefined): ReadFormat {
  if (accept === undefined || accept.trim() === '') return { kind: 'json' };
  const ranges = accept
    .split(',')
    .filter((r) => r.trim() !== '')
    .map(parseMediaRange)
    .filter((r) => r.q > 0)
    .map((r, i) => ({ ...r, i }))
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    const as = r.params.get('as');
    if (as === undefined) {
      if (['application/json', 'application/*', '*/*'].includes(r.essence)) return { kind: 'json' };
      continue;
    }
    if (r.essence !== 'application/json' || as !== 'Table' || r.params.get('g') !== 'meta.k8s.io') continue;
    const v = r.params.get('v');
    if (v === 'v1' || v === 'v1beta1') return { kind: 'table', apiVersion: `meta.k8s.io/${v}` };
  }
  return { kind: 'none' };
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** `includeObject` of TableOptions (default Metadata); a FieldError for Go's 422 otherwise. */
export function parseIncludeObject(values: readonly string[] | undefined): IncludeObject | FieldError {
  const v = values?.[0] ?? '';
  if (v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  return {
    type: 'FieldValueNotSupported',
    field: 'includeObject',
    message: `Unsupported value: ${JSON.stringify(v)}: supported values: "Metadata", "None", "Object"`,
  };
}

/** The columns, as a CRD's additionalPrinterColumns would declare them. */
export const widgetColumns = [
  {
    name: 'Name',
    type: 'string',
    format: 'name',
    description:
      'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically.',
    priority: 0,
  },
  { name: 'Color', type: 'string', format: '', description: 'Color of the widget (spec.color).', priority: 0 },
  { name: 'Size', type: 'integer', format: '', description: 'Size of the widget (spec.size).', priority: 0 },
  {
    name: 'Age',
    type: 'date',
    format: '',
    description:
      'CreationTimestamp is a timestamp representing the server time when this object was created. It is represented in RFC3339 form and is in UTC.',
    priority: 0,
  },
] as const;

/** Go's `duration.HumanDuration`, what a CRD's `date` column shows (`5m`, `3h10m`, `12d`). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  const years = Math.trunc(hours / 24 / 365);
  if (hours < 24 * 365 * 8) {
    const d = Math.trunc(hours / 24) % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

function rowOf(w: Widget, include: IncludeObject, nowMs: number, apiVersion: string): object {
  const created = Date.parse(w.metadata.creationTimestamp);
  const color = typeof w.spec.color === 'string' ? w.spec.color : null;
  const size = typeof w.spec.size === 'number' ? w.spec.size : null;
  const cells = [w.metadata.name, color, size, Number.isNaN(created) ? '<unknown>' : humanDuration(nowMs - created)];
  const object =
    include === 'Object'
      ? w
      : include === 'Metadata'
        ? { kind: 'PartialObjectMetadata', apiVersion, metadata: w.metadata }
        : undefined;
  return { cells, ...(object ? { object } : {}) };
}

/**
 * A Table of `widgets` (one row each); `resourceVersion`, `continue` and `remainingItemCount` are the list's (Go
 * copies the list's ListMeta into the Table), absent for a single object.
 */
export function widgetTable(
  widgets: readonly Widget[],
  opts: {
    readonly apiVersion: string;
    readonly includeObject: IncludeObject;
    readonly resourceVersion?: string;
    readonly continue?: string;
    readonly remainingItemCount?: number;
    readonly nowMs?: number;
  },
): object {
  const nowMs = opts.nowMs ?? Date.now();
  return {
    kind: 'Table',
    apiVersion: opts.apiVersion,
    metadata: {
      ...(opts.resourceVersion === undefined ? {} : { resourceVersion: opts.resourceVersion }),
      ...(opts.continue === undefined ? {} : { continue: opts.continue }),
      ...(opts.remainingItemCount === undefined ? {} : { remainingItemCount: opts.remainingItemCount }),
    },
    columnDefinitions: widgetColumns,
    rows: widgets.map((w) => rowOf(w, opts.includeObject, nowMs, opts.apiVersion)),
  };
}
