import type { UserInfo } from '../authn/interfaces.js';
import type { RequestAttributes, RequestInfo } from '../authz/interfaces.js';
import { KdaError } from '../errors.js';
import {
  fieldSelectorRequirements,
  isGoInt64,
  labelSelectorRequirements,
  parseFieldSelector,
  parseLabelSelector,
  requiresExactMatch,
} from './selectors.js';

/** Options of `resolveRequestInfo`. */
export interface RequestInfoOptions {
  /**
   * Copy the raw `fieldSelector`/`labelSelector` of list, watch and deletecollection requests into RequestInfo, so
   * authorization can send them in the SubjectAccessReview (Go gate `AuthorizeWithSelectors`: beta 1.32, GA 1.34).
   * Only enable for clusters ≥ 1.31. Default false.
   */
  readonly authorizationSelectors?: boolean;
}

export type RequestInfoResult =
  | { readonly ok: true; readonly info: RequestInfo }
  | { readonly ok: false; readonly error: KdaError; readonly info: RequestInfo };

// pkg/server/config.go NewRequestInfoResolver
const apiPrefixes = new Set(['apis', 'api']);
const grouplessApiPrefixes = new Set(['api']);
const specialVerbs = new Set(['proxy', 'watch']);
const specialVerbsNoSubresources = new Set(['proxy']);
const namespaceSubresources = new Set(['status', 'finalize']);
const verbsWithSelectors = new Set(['list', 'watch', 'deletecollection']);

// Case-sensitive, like Go's switch on req.Method.
const methodVerbs: ReadonlyMap<string, string> = new Map([
  ['POST', 'create'],
  ['GET', 'get'],
  ['HEAD', 'get'],
  ['PUT', 'update'],
  ['PATCH', 'patch'],
  ['DELETE', 'delete'],
]);

const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/**
 * Go's `url.PathUnescape`/`QueryUnescape`: `%XX` → byte (malformed → error), `+` → space in query mode only.
 * Bytes that are not valid UTF-8 become U+FFFD (Go would keep them; they can only appear in messages).
 */
export function goUnescape(s: string, mode: 'path' | 'query'): string | undefined {
  if (!s.includes('%') && (mode === 'path' || !s.includes('+'))) return s;
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25) {
      if (i + 2 >= src.length || !isHex(src[i + 1]!) || !isHex(src[i + 2]!)) return undefined;
      out[n++] = parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16);
      i += 2;
    } else if (c === 0x2b && mode === 'query') {
      out[n++] = 0x20;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n).toString('utf8');
}

/** Go's `url.ParseQuery` as used by `req.URL.Query()`: pairs with `;` or bad escapes are dropped, order kept. */
export function goParseQuery(rawQuery: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const key = goUnescape(eq < 0 ? pair : pair.slice(0, eq), 'query');
    const value = goUnescape(eq < 0 ? '' : pair.slice(eq + 1), 'query');
    if (key === undefined || value === undefined) continue;
    const list = m.get(key);
    if (list) list.push(value);
    else m.set(key, [value]);
  }
  return m;
}

/** Convert_Slice_string_To_bool: missing → false; `0` or any-case `false` → false; anything else (even ``) → true. */
function queryBool(values: readonly string[] | undefined): boolean {
  if (!values || values.length === 0) return false;
  const v = values[0]!;
  return !(v === '0' || v.toLowerCase() === 'false');
}

/** Decodes metav1.ListOptions from the query the way the parameter codec does; undefined = decode failure. */
function decodeListOptions(query: Map<string, string[]>): { watch: boolean; fieldSelector?: string } | undefined {
  for (const intParam of ['timeoutSeconds', 'limit']) {
    const v = query.get(intParam);
    if (v && v.length > 0 && !isGoInt64(v[0]!)) return undefined;
  }
  const label = query.get('labelSelector')?.[0];
  if (label !== undefined && !parseLabelSelector(label).ok) return undefined;
  const field = query.get('fieldSelector')?.[0];
  if (field !== undefined && !parseFieldSelector(field).ok) return undefined;
  return { watch: queryBool(query.get('watch')), ...(field !== undefined && { fieldSelector: field }) };
}

/** `path.IsValidPathSegmentName` from apimachinery: not `.`/`..`, no `/`, no `%`. */
function isValidPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}

/** Go's `strings.Split(strings.Trim(p, "/"), "/")`, with [] for an all-slash path. */
function splitPath(p: string): string[] {
  let start = 0;
  let end = p.length;
  while (start < end && p.charCodeAt(start) === 0x2f) start++;
  while (end > start && p.charCodeAt(end - 1) === 0x2f) end--;
  if (start === end) return [];
  return (start === 0 && end === p.length ? p : p.slice(start, end)).split('/');
}

/** The only query keys resolveRequestInfo reads: list options that decide verb/name or fail to decode, selectors. */
const relevantQueryKeys = new Set(['watch', 'fieldSelector', 'labelSelector', 'timeoutSeconds', 'limit']);

/**
 * `goParseQuery` restricted to {@link relevantQueryKeys}: a pair whose key is elsewhere is skipped without decoding
 * its value, which cannot change what a relevant key maps to (bad pairs are dropped individually in Go too).
 */
function parseRelevantQuery(rawQuery: string): Map<string, string[]> | undefined {
  let m: Map<string, string[]> | undefined;
  let from = 0;
  while (from <= rawQuery.length) {
    let to = rawQuery.indexOf('&', from);
    if (to < 0) to = rawQuery.length;
    if (to > from) {
      const pair = rawQuery.slice(from, to);
      if (!pair.includes(';')) {
        const eq = pair.indexOf('=');
        const key = goUnescape(eq < 0 ? pair : pair.slice(0, eq), 'query');
        if (key !== undefined && relevantQueryKeys.has(key)) {
          const value = goUnescape(eq < 0 ? '' : pair.slice(eq + 1), 'query');
          if (value !== undefined) {
            m ??= new Map();
            const list = m.get(key);
            if (list) list.push(value);
            else m.set(key, [value]);
          }
        }
      }
    }
    from = to + 1;
  }
  return m;
}

const noQuery: Map<string, string[]> = new Map();

/** Only `scheme://authority` request-targets (absolute-form) need the regex; origin-form starts with `/`. */
const absoluteForm = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/;

/**
 * Go's `RequestInfoFactory.NewRequestInfo` with `APIPrefixes = {apis, api}`, `GrouplessAPIPrefixes = {api}`.
 * `url` is the request-target as received (`req.url`: raw path plus query). On error (`/api/v1/watch`, or a
 * malformed `%` escape) the result is `ok: false` and the caller answers 500 `failed to create RequestInfo: <error>`,
 * or, when `error.details.status` is 400 (the malformed escape Go's HTTP server refuses before any handler runs),
 * Go's plain `400 Bad Request`.
 */
export function resolveRequestInfo(method: string, url: string, options: RequestInfoOptions = {}): RequestInfoResult {
  let target = url;
  if (target.charCodeAt(0) !== 0x2f) {
    const abs = absoluteForm.exec(target);
    if (abs) target = target.slice(abs[0].length) || '/';
  }
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);

  const decodedPath = goUnescape(rawPath, 'path');
  // Every field in one literal, in RequestInfo's order, so all results share one object shape.
  const info: { -readonly [K in keyof RequestInfo]: RequestInfo[K] } = {
    isResourceRequest: false,
    verb: method.toLowerCase(),
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [] as readonly string[],
    path: decodedPath ?? rawPath,
  };
  if (decodedPath === undefined) {
    const bad = /%(?![0-9a-fA-F]{2}).{0,2}/s.exec(rawPath)?.[0] ?? '%';
    return {
      ok: false,
      // Go's HTTP server refuses such a request line before any handler runs: 400 (details.status tells adapters).
      error: new KdaError(
        'ERR_KDA_REQUEST_INFO',
        `parse ${JSON.stringify(url)}: invalid URL escape ${JSON.stringify(bad)}`,
        {
          details: { status: 400 },
        },
      ),
      info,
    };
  }

  // `i` walks `parts` instead of re-slicing it at every step; `parts.slice(i)` is taken once at the end.
  const parts = splitPath(decodedPath);
  let i = 0;
  if (parts.length < 3 || !apiPrefixes.has(parts[0]!)) return { ok: true, info };
  info.apiPrefix = parts[0]!;
  i = 1;
  if (!grouplessApiPrefixes.has(info.apiPrefix)) {
    if (parts.length - i < 3) return { ok: true, info };
    info.apiGroup = parts[i]!;
    i++;
  }
  info.isResourceRequest = true;
  info.apiVersion = parts[i]!;
  i++;

  let verbViaPath = false;
  if (specialVerbs.has(parts[i]!)) {
    if (parts.length - i < 2) {
      return {
        ok: false,
        error: new KdaError('ERR_KDA_REQUEST_INFO', `unable to determine kind and namespace from url, ${url}`),
        info,
      };
    }
    info.verb = parts[i]!;
    i++;
    verbViaPath = true;
  } else {
    info.verb = methodVerbs.get(method) ?? '';
  }

  const rest = parts.length - i;
  if (parts[i] === 'namespaces') {
    if (rest > 1) {
      info.namespace = parts[i + 1]!;
      if (rest > 2 && !namespaceSubresources.has(parts[i + 2]!)) i += 2;
    }
  }
  const n = parts.length - i;
  info.parts = i === 0 ? parts : parts.slice(i);
  if (n >= 3 && !specialVerbsNoSubresources.has(info.verb)) info.subresource = parts[i + 2]!;
  if (n >= 2) info.name = parts[i + 1]!;
  if (n >= 1) info.resource = parts[i]!;

  let query: Map<string, string[]> | undefined;
  if (info.name === '' && info.verb === 'get') {
    query = parseRelevantQuery(rawQuery) ?? noQuery;
    // Like Go: a list option that fails to decode resets all options except a re-read of `watch`.
    const opts = decodeListOptions(query) ?? { watch: queryBool(query.get('watch')) };
    info.verb = opts.watch ? 'watch' : 'list';
    if (opts.fieldSelector !== undefined) {
      const parsed = parseFieldSelector(opts.fieldSelector);
      const name = parsed.ok ? requiresExactMatch(parsed.value, 'metadata.name') : undefined;
      if (name !== undefined && isValidPathSegmentName(name)) info.name = name;
    }
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';

  if (options.authorizationSelectors && !verbViaPath && verbsWithSelectors.has(info.verb)) {
    query ??= parseRelevantQuery(rawQuery) ?? noQuery;
    const field = query.get('fieldSelector')?.[0];
    const label = query.get('labelSelector')?.[0];
    if (field !== undefined) info.fieldSelector = field;
    if (label !== undefined) info.labelSelector = label;
  }
  return { ok: true, info };
}

/**
 * Go's `filters.GetAuthorizerAttributes`: the authorization attributes of a request from its user and RequestInfo.
 * Raw selectors (present only with `authorizationSelectors`) are parsed into SAR requirements; a selector that does
 * not parse is left out, which only broadens the check. `user` may be undefined when no authentication ran.
 */
export function authorizerAttributes(user: UserInfo | undefined, info: RequestInfo): RequestAttributes {
  const attrs: { -readonly [K in keyof RequestAttributes]: RequestAttributes[K] } = {
    user: user as UserInfo,
    verb: info.verb,
    resourceRequest: info.isResourceRequest,
    path: info.path,
    apiGroup: info.apiGroup,
    apiVersion: info.apiVersion,
    namespace: info.namespace,
    resource: info.resource,
    subresource: info.subresource,
    name: info.name,
  };
  const field = fieldSelectorRequirements(info.fieldSelector);
  if (field) attrs.fieldSelectorRequirements = field;
  const label = labelSelectorRequirements(info.labelSelector);
  if (label) attrs.labelSelectorRequirements = label;
  return attrs;
}
