/**
 * List chunking (`limit` and `continue`) as k8s.io/apiserver's etcd3 storage does it: items in key order, at most
 * `limit` per response, and a continue token that names where the next chunk starts and the revision it is read at.
 * The token is Go's (`storage.EncodeContinue`): unpadded base64url of `{"v":"meta.k8s.io/v1","rv":<int>,
 * "start":"/<key>\u0000"}`, where the key is relative to the list's key prefix (`name` in a namespaced list,
 * `namespace/name` in the cluster-wide one), byte for byte what kube-apiserver 1.37 writes for the same list.
 */
import { goJson, goQuote } from 'kube-delegated-auth';

/** `storage.continueToken.APIVersion`, the only encoding Go knows. */
const tokenVersion = 'meta.k8s.io/v1';

/** Go's `continueExpired` + `inconsistentContinue` (etcd3 errors.go), the 410 message when a token's revision is gone. */
export const inconsistentContinueMessage =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/** A decoded continue token: the (cleaned, relative) key the chunk starts at, and the revision to read. */
export interface ContinuePoint {
  /** Relative to the list's key prefix; items whose key is >= this are in the chunk. */
  readonly startKey: string;
  /** > 0: read the snapshot at this revision; < 0: read the current state (a token from a 410). Never 0. */
  readonly resourceVersion: number;
}

export type DecodeContinueResult =
  { readonly ok: true; readonly point: ContinuePoint } | { readonly ok: false; readonly error: string };

const base64UrlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const base64UrlValue = new Map([...base64UrlAlphabet].map((c, i) => [c.charCodeAt(0), i]));

/**
 * Go's `base64.RawURLEncoding.DecodeString`: the URL alphabet, no padding, `\r` and `\n` skipped, non-zero trailing
 * bits accepted (not strict); an error names the offending input byte as Go's `CorruptInputError` does.
 */
export function decodeRawUrlBase64(input: string): { ok: true; bytes: Uint8Array } | { ok: false; error: string } {
  // Go indexes the bytes of the (UTF-8) string.
  const bytes = Buffer.from(input, 'utf8');
  const out: number[] = [];
  let si = 0;
  for (;;) {
    const quantum: number[] = [];
    let j = 0;
    for (; j < 4; j++) {
      if (si === bytes.length) break;
      const b = bytes[si]!;
      si++;
      const v = base64UrlValue.get(b);
      if (v !== undefined) {
        quantum.push(v);
        continue;
      }
      if (b === 0x0a || b === 0x0d) {
        j--;
        continue;
      }
      return { ok: false, error: `illegal base64 data at input byte ${si - 1}` };
    }
    if (j === 0) break;
    if (j === 1) return { ok: false, error: `illegal base64 data at input byte ${si - j}` };
    const [a = 0, b = 0, c = 0, d = 0] = quantum;
    const val = (a << 18) | (b << 12) | (c << 6) | d;
    out.push((val >> 16) & 0xff);
    if (j >= 3) out.push((val >> 8) & 0xff);
    if (j === 4) out.push(val & 0xff);
    if (j < 4) break;
  }
  return { ok: true, bytes: Uint8Array.from(out) };
}

/** Go's `path.Clean` for a rooted path: `.` and empty segments dropped, `..` applied (never above the root). */
export function cleanRootedPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}

/** The JSON kind Go's `UnmarshalTypeError` names. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return 'object';
}

/** Go's scanner quotes an offending character as `'x'` (strconv.Quote without the double quotes). */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  return `'${goQuote(c).slice(1, -1)}'`;
}

/** V8's JSON.parse messages and the context Go's scanner names for the same mistake. */
const syntaxContexts: readonly (readonly [RegExp, string])[] = [
  [/after property value/, 'after object key:value pair'],
  [/after property name/, 'after object key'],
  [/property name or '\}'|Expected double-quoted property name/, 'looking for beginning of object key string'],
  [/after array element/, 'after array element'],
  [/after JSON/, 'after top-level value'],
  [/control character in string/, 'in string literal'],
  [/Bad escaped character/, 'in string escape code'],
  [/Bad Unicode escape/, 'in \\u hexadecimal character escape'],
  [/fractional number/, 'after decimal point in numeric literal'],
  [/Exponent/, 'in exponent of numeric literal'],
  [/minus sign/, 'in numeric literal'],
];

/**
 * A JSON syntax error in Go's words (`unexpected end of JSON input`, `invalid character 'x' <context>`), from the
 * position and kind of mistake V8 reports.
 */
function jsonSyntaxError(text: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : '';
  const at = /position (\d+)/.exec(msg);
  let pos = at ? Number(at[1]) : -1;
  if (pos < 0) {
    // "Unexpected token 'x', ..." carries no position: the first character that starts no value.
    const token = /Unexpected token '(.)'/u.exec(msg);
    pos = token ? text.indexOf(token[1]!) : text.length;
  }
  if (pos >= text.length || /end of (JSON )?input/i.test(msg)) return 'unexpected end of JSON input';
  // Inside `true`, `false` or `null`, Go names the literal and the letter it expected.
  const word = /[a-z]*$/.exec(text.slice(0, pos))![0];
  const literal = word === '' ? undefined : ['true', 'false', 'null'].find((l) => l.startsWith(word));
  if (literal && literal.length > word.length) {
    return `invalid character ${quoteChar(text[pos]!)} in literal ${literal} (expecting ${quoteChar(literal[word.length]!)})`;
  }
  const context = syntaxContexts.find(([re]) => re.test(msg))?.[1] ?? 'looking for beginning of value';
  return `invalid character ${quoteChar(text[pos]!)} ${context}`;
}

/**
 * Go's `storage.DecodeContinue`, returning the start key relative to the list's key prefix. The errors are Go's
 * (`continue key is not valid: ...`); the caller answers them as 400 `invalid continue token: <error>`.
 */
export function decodeContinue(token: string): DecodeContinueResult {
  const invalid = (detail: string): DecodeContinueResult => ({
    ok: false,
    error: `continue key is not valid: ${detail}`,
  });
  const raw = decodeRawUrlBase64(token);
  if (!raw.ok) return invalid(raw.error);
  // Go's decoder keeps a leading BOM (a syntax error) and turns invalid UTF-8 in strings into U+FFFD.
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(raw.bytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return invalid(jsonSyntaxError(text, err));
  }
  let v = '';
  let rv = 0;
  let start = '';
  if (parsed !== null) {
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      return invalid(`json: cannot unmarshal ${jsonKind(parsed)} into Go value of type storage.continueToken`);
    }
    // encoding/json matches keys case-insensitively, a later key overriding an earlier one; null leaves the zero
    // value; the first type error is reported (after the whole object was read, as Go does).
    let typeError: string | undefined;
    const fieldError = (field: string, goType: string, value: unknown) =>
      (typeError ??= `json: cannot unmarshal ${jsonKind(value)}${typeof value === 'number' ? ` ${String(value)}` : ''} into Go struct field continueToken.${field} of type ${goType}`);
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      const field = key.toLowerCase();
      if (value === null || !['v', 'rv', 'start'].includes(field)) continue;
      if (field === 'rv') {
        if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 2 ** 63) rv = value;
        else fieldError('rv', 'int64', value);
      } else if (typeof value !== 'string') {
        fieldError(field, 'string', value);
      } else if (field === 'v') v = value;
      else start = value;
    }
    if (typeError !== undefined) return invalid(typeError);
  }
  if (v !== tokenVersion) return invalid(`server does not recognize this encoded version ${v}`);
  if (rv === 0) return invalid('incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (start === '') return invalid('encoded start key empty (version meta.k8s.io/v1)');
  // Go defends against path traversal: a start key that is not already clean (`..`, `//`, a trailing `/`) is
  // refused, so a token can never range outside the list it came with.
  const key = start.startsWith('/') ? start : '/' + start;
  if (cleanRootedPath(key) !== key) return invalid(start);
  return { ok: true, point: { startKey: key.slice(1), resourceVersion: rv } };
}

/**
 * Go's `storage.EncodeContinue` for a key relative to the list's key prefix, written as kube-apiserver 1.37 writes
 * it: with a leading `/` (`"/name\u0000"`, `"/namespace/name\u0000"`; 1.20 wrote none, and both decode).
 */
export function encodeContinue(startKey: string, resourceVersion: number): string {
  const json = goJson({ v: tokenVersion, rv: resourceVersion, start: `/${startKey}` });
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** One chunk of a list. */
export interface ListChunk<T> {
  readonly items: readonly T[];
  /** Set when more items remain: where the next chunk starts, at `resourceVersion`. */
  readonly continue?: string;
  /** How many items remain after this chunk, when known (Go: no selector filters the list). */
  readonly remainingItemCount?: number;
}

/**
 * The chunk of `items` (sorted by `keyOf`, already filtered by selectors) that starts at `startKey` (inclusive, as
 * an etcd range) and holds at most `limit` items (`limit` <= 0 or absent: all of them). The continue token points
 * just after the last item returned (`key + "\u0000"`, as Go) at `resourceVersion`, so every chunk of one list is
 * read from the same revision. A continue token is given only when more matching items remain (Go may end with an
 * empty chunk when a selector filters the tail; this store knows there is none).
 */
export function chunkList<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  opts: {
    readonly startKey?: string;
    readonly limit?: number;
    readonly resourceVersion: number;
    readonly countRemaining: boolean;
  },
): ListChunk<T> {
  const startKey = opts.startKey;
  // Keys are DNS names (ASCII), so UTF-16 order is etcd's byte order, also against a non-ASCII start key.
  const from = startKey === undefined ? items : items.filter((item) => keyOf(item) >= startKey);
  const limit = opts.limit ?? 0;
  if (limit <= 0 || from.length <= limit) return { items: from };
  const page = from.slice(0, limit);
  return {
    items: page,
    continue: encodeContinue(keyOf(page[page.length - 1]!) + '\u0000', opts.resourceVersion),
    ...(opts.countRemaining ? { remainingItemCount: from.length - limit } : {}),
  };
}
