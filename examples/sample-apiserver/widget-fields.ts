/**
 * What the Widget schema (lib/sample/openapi.ts) says about submitted fields, checked as Go checks a custom resource
 * against its schema: the typed spec fields, and which fields are unknown (dropped, warned about, or refused per
 * `fieldValidation`).
 */
/** One entry of Go's `field.ErrorList`: `type` is the StatusCause reason (`FieldValueInvalid`, ...). */
export interface FieldError {
  readonly type: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueForbidden';
  /** The JSON path, e.g. `metadata.name`. */
  readonly field: string;
  /** Go's `Error.ErrorBody()`: `Invalid value: "x": detail`. */
  readonly message: string;
}

function objectOr(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The JSON type name Go's OpenAPI validation reports (`must be of type string: "integer"`). */
function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

/**
 * The typed spec fields of the OpenAPI schema (lib/sample/openapi.ts), checked as a CRD's schema is: `color` a
 * string, `size` an integer >= 0 (a JSON null is an absent field). Other spec fields are kept as sent.
 */
export function validateSpec(spec: Record<string, unknown>): FieldError[] {
  const errs: FieldError[] = [];
  const typeError = (field: string, want: string, v: unknown): FieldError => ({
    type: 'FieldValueInvalid',
    field,
    message: `Invalid value: "${jsonTypeName(v)}": ${field} in body must be of type ${want}: "${jsonTypeName(v)}"`,
  });
  const { color, size } = spec;
  if (color !== undefined && color !== null && typeof color !== 'string')
    errs.push(typeError('spec.color', 'string', color));
  if (size !== undefined && size !== null) {
    if (typeof size !== 'number' || !Number.isSafeInteger(size)) errs.push(typeError('spec.size', 'integer', size));
    else if (size < 0) {
      errs.push({
        type: 'FieldValueInvalid',
        field: 'spec.size',
        message: `Invalid value: ${size}: spec.size in body should be greater than or equal to 0`,
      });
    }
  }
  return errs;
}

/** The fields of a Widget the sample stores; anything else is dropped (with a warning, or refused: fieldValidation). */
const knownTopLevel = new Set(['apiVersion', 'kind', 'metadata', 'spec']);
const knownMetadata = new Set([
  'name',
  'generateName',
  'namespace',
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'labels',
  'annotations',
]);

/** Paths of submitted fields the Widget schema does not declare (`status`, `metadata.finalizers`), sorted. */
export function unknownFields(body: Readonly<Record<string, unknown>>): string[] {
  const out = Object.keys(body).filter((k) => !knownTopLevel.has(k));
  const meta = objectOr(body.metadata);
  if (meta)
    out.push(
      ...Object.keys(meta)
        .filter((k) => !knownMetadata.has(k))
        .map((k) => `metadata.${k}`),
    );
  return out.sort();
}
