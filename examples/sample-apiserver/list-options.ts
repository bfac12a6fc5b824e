import {
  goParseQuery,
  isGoInt64,
  parseFieldSelector,
  parseLabelSelector,
  type FieldRequirement,
  type LabelRequirement,
} from 'kube-delegated-auth';
import type { FieldError, Widget } from './widget-store.js';

/** The metav1.ListOptions the sample honours for list and watch. */
export interface ListOptions {
  readonly fieldSelector: readonly FieldRequirement[];
  readonly labelSelector: readonly LabelRequirement[];
  /**
   * Watch: resume after this revision; undefined (or 0) = start with the current objects. List: the revision to
   * read (see `resourceVersionMatch`).
   */
  readonly resourceVersion?: number;
  /** List only: how `resourceVersion` applies (validated as Go's ValidateListOptions). */
  readonly resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  /** Watch only: end the stream after this many seconds. */
  readonly timeoutSeconds?: number;
  /** List only (a watch ignores it, as Go): at most this many items per response; <= 0 or absent = all. */
  readonly limit?: number;
  /** List only (a watch ignores it, as Go): the continue token as sent; decoded by list-chunking.ts. */
  readonly continue?: string;
}

/** A failure is either Go's 400 (`message`) or its 422 `ListOptions.meta.k8s.io "" is invalid` (`invalid`). */
export type ListOptionsResult =
  | { readonly ok: true; readonly options: ListOptions }
  | { readonly ok: false; readonly message: string; readonly invalid?: readonly FieldError[] };

const forbidden = (field: string, detail: string): FieldError => ({
  type: 'FieldValueForbidden',
  field,
  message: `Forbidden: ${detail}`,
});

/**
 * Go's `ValidateListOptions` for what the sample serves: `resourceVersionMatch` for a list; for a watch,
 * `resourceVersionMatch` without `sendInitialEvents` and `continue` (as kube-apiserver 1.37 answers: it refuses a
 * watch with `continue` under the resourceVersionMatch field; 1.20 ignored it).
 */
function validate(
  verb: 'list' | 'watch',
  match: string | undefined,
  resourceVersion: string | undefined,
  continueToken: string | undefined,
  sendInitialEvents: boolean,
): FieldError[] {
  const errs: FieldError[] = [];
  const hasContinue = continueToken !== undefined && continueToken !== '';
  if (verb === 'watch') {
    if (match !== undefined && match !== '' && !sendInitialEvents) {
      errs.push(
        forbidden(
          'resourceVersionMatch',
          'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
        ),
      );
    }
    if (hasContinue)
      errs.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
    return errs;
  }
  if (match === undefined || match === '') return errs;
  if (resourceVersion === undefined || resourceVersion === '') {
    errs.push(
      forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided'),
    );
  }
  if (hasContinue)
    errs.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
  if (match !== 'Exact' && match !== 'NotOlderThan') {
    errs.push({
      type: 'FieldValueNotSupported',
      field: 'resourceVersionMatch',
      message: `Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan", ""`,
    });
  }
  if (match === 'Exact' && resourceVersion === '0') {
    errs.push(forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  return errs;
}

/** Field labels Go's `DefaultMetaV1FieldSelectorConversion` accepts (the Go sample registers no others). */
const supportedFields = new Set(['metadata.name', 'metadata.namespace']);

/**
 * Decodes list options from the raw query exactly as RequestInfo read it (`goParseQuery`, first value of each key),
 * so the selector served is the selector that was authorized. Anything Go's parameter codec or field-label
 * conversion refuses is a failure whose message the caller answers as 400 BadRequest.
 */
export function parseListOptions(rawQuery: string, verb: 'list' | 'watch' = 'list'): ListOptionsResult {
  const q = goParseQuery(rawQuery);
  const first = (k: string) => q.get(k)?.[0];
  for (const k of ['timeoutSeconds', 'limit']) {
    const v = first(k);
    if (v !== undefined && !isGoInt64(v)) {
      return { ok: false, message: `strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax` };
    }
  }
  const field = parseFieldSelector(first('fieldSelector') ?? '');
  if (!field.ok) return { ok: false, message: field.error };
  for (const r of field.value) {
    if (!supportedFields.has(r.field)) {
      return {
        ok: false,
        message: `${JSON.stringify(r.field)} is not a known field selector: only "metadata.name", "metadata.namespace"`,
      };
    }
  }
  const label = parseLabelSelector(first('labelSelector') ?? '');
  if (!label.ok) return { ok: false, message: label.error };
  let resourceVersion: number | undefined;
  const rv = first('resourceVersion');
  if (rv !== undefined && rv !== '') {
    if (!/^\d{1,15}$/.test(rv)) return { ok: false, message: `invalid resource version: ${JSON.stringify(rv)}` };
    resourceVersion = Number(rv);
  }
  const timeout = first('timeoutSeconds');
  const limit = first('limit');
  const continueToken = first('continue');
  const match = first('resourceVersionMatch');
  const invalid = validate(verb, match, rv, continueToken, q.has('sendInitialEvents'));
  if (q.has('sendInitialEvents')) {
    // Watch-list streams need the initial-events-end bookmark, which this store does not produce: refused as Go
    // refuses it with the WatchList feature gate off, so client-go falls back to list + watch.
    invalid.push(
      forbidden(
        'sendInitialEvents',
        'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
      ),
    );
  }
  if (invalid.length > 0) return { ok: false, message: `${invalid[0]!.field}: ${invalid[0]!.message}`, invalid };
  return {
    ok: true,
    options: {
      fieldSelector: field.value,
      labelSelector: label.value,
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      ...(verb === 'list' && (match === 'Exact' || match === 'NotOlderThan') ? { resourceVersionMatch: match } : {}),
      ...(timeout !== undefined ? { timeoutSeconds: Number(timeout) } : {}),
      // An int64 beyond 2^53 loses precision as a number; any such limit is larger than every list anyway.
      ...(limit !== undefined && limit !== '' ? { limit: Number(limit) } : {}),
      ...(continueToken !== undefined && continueToken !== '' ? { continue: continueToken } : {}),
    },
  };
}

/** Go's `labels.Requirement.Matches`. */
function labelMatches(r: LabelRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key]! : undefined;
  switch (r.operator) {
    case '=':
    case '==':
    case 'in':
      return has && r.values.includes(value!);
    case '!=':
    case 'notin':
      return !has || !r.values.includes(value!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !isGoInt64(value!) || r.values.length !== 1) return false;
      const actual = BigInt(value!);
      const bound = BigInt(r.values[0]!);
      return r.operator === 'gt' ? actual > bound : actual < bound;
    }
  }
}

/** Whether a widget matches both selectors (requirements are ANDed, as Go). */
export function matchesSelectors(w: Widget, options: ListOptions): boolean {
  for (const r of options.fieldSelector) {
    const actual = r.field === 'metadata.name' ? w.metadata.name : w.metadata.namespace;
    if ((actual === r.value) !== (r.operator === '=')) return false;
  }
  const labels = w.metadata.labels ?? {};
  return options.labelSelector.every((r) => labelMatches(r, labels));
}
