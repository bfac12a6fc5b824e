/**
 * The request target every adapter authorizes, checked once here so that it is also the path every framework routes
 * on. Go's apiserver authorizes and serves the one `req.URL.Path`; Node frameworks each parse `req.url` their own way
 * (Koa and Express: `parseurl`, which falls back to `url.parse()` for absolute-form targets and targets with `#` or
 * whitespace, turning `\` into `/` and dropping the fragment; Fastify: find-my-way, which decodes before matching and
 * ends the path at `#`; node:http handlers: usually `new URL()`, which resolves `.`/`..` and `%2e` segments, turns
 * `\` into `/` and reads a leading `//` as a host). A target is accepted only when all of them agree, segment by
 * decoded segment, with the Go RequestInfo of it:
 *
 * - origin-form `/path[?query]`, or absolute-form `http(s)://host[:port]/path[?query]` (a plain DNS name or IP
 *   literal, no user info), which the adapters turn into origin-form (Express keeps it: its router strips the same
 *   scheme and host itself); `*`, authority-form and other schemes are refused;
 * - no backslash, no `#`, no character outside printable ASCII, no empty segment (`//`), no `.`/`..` segment even
 *   percent-encoded; in the query, no `#`, no `;` (Go drops `;` pairs, Node's parsers keep them) and no malformed `%`
 *   escape (Go drops the pair, Node keeps it raw);
 * - no percent-encoding that would change the segments or that a second decoding would change again: `%2F` (Go
 *   decodes before splitting the path, a router splits first and decodes each parameter, so the two would disagree on
 *   namespace and name), `%5C`, `%25`; and no escapes that are not UTF-8 (Express and Fastify refuse to decode them,
 *   Go keeps the bytes). Kubernetes names cannot contain `/` or `%` (`path.IsValidPathSegmentName`), so no valid
 *   object becomes unreachable.
 *
 * Other characters Go accepts stay accepted (`<`, `"`, `{`, `%07`, ...): every framework decodes them to the same
 * segment. Go's HTTP server refuses two classes itself with a plain-text `400 Bad Request` before any handler (a
 * malformed `%` escape in the path, a control character); those keep Go's answer (`goRejects`). Everything else Go
 * would accept; we refuse it with a `BadRequest` Status because the frameworks could not agree on one path.
 */

/** A target every framework resolves to the same path. */
export interface AcceptedRequestTarget {
  readonly ok: true;
  /** Origin-form (`/path?query`): what `req.url` becomes in the adapters that rewrite it. */
  readonly uri: string;
  /** The raw (still percent-encoded) path. */
  readonly path: string;
  /** The target was absolute-form (`http(s)://host/path`). */
  readonly absolute: boolean;
}

export interface RefusedRequestTarget {
  readonly ok: false;
  /** Why, for the log line and the Status message (never echoes the target). */
  readonly cause: string;
  /** Go's net/http refuses this target too, with its plain-text 400 (malformed path escape, control character). */
  readonly goRejects: boolean;
}

export type RequestTargetResult = AcceptedRequestTarget | RefusedRequestTarget;

export interface RequestTargetOptions {
  /**
   * The router ends the path at `;` (Fastify's `useSemicolonDelimiter`): a `;` in the path is then refused, since Go
   * keeps it in the path. Default false.
   */
  readonly semicolonDelimiter?: boolean;
  /**
   * The router serves `/x/` as `/x` (Fastify's `ignoreTrailingSlash`): a trailing slash is then refused, since the
   * authorized non-resource path keeps it (RBAC `/x/*` matches `/x/`, not `/x`). Default false.
   */
  readonly trailingSlashIgnored?: boolean;
}

// Printable ASCII but `#` (a fragment to parseurl, find-my-way and URL) and `\` (a `/` to url.parse and URL); `%` is
// checked separately.
const pathChar = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) pathChar[c] = c === 0x23 || c === 0x5c ? 0 : 1;
// The query also may not hold `;` (Go's ParseQuery drops `;` pairs, Node's parsers keep them); `\` is harmless there.
const queryChar = pathChar.slice();
queryChar[0x5c] = 1;
queryChar[0x3b] = 0;

const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** A host Node's `url.parse()`, WHATWG `URL` and find-my-way all read the same way: DNS labels or an IP literal. */
const authorityPattern = /^(?:[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{0,5})?$/;
const absolutePrefix = /^https?:\/\//i;

/** WHATWG URL (and so find-my-way, which checks it) accepts the host: a port ≤ 65535, a valid IP literal. */
function isUrlHost(authority: string): boolean {
  try {
    return new URL(`http://${authority}/`).host !== '';
  } catch {
    return false;
  }
}

const refuse = (cause: string, goRejects = false): RefusedRequestTarget => ({ ok: false, cause, goRejects });

/** Names the character for the log and the Status message. */
function describeChar(c: number): string {
  if (c === 0x5c) return 'a backslash';
  if (c === 0x23) return 'a fragment ("#")';
  if (c === 0x3b) return 'a ";" (the router ends the path there)';
  if (c === 0x20) return 'a space';
  if (c > 0x7e) return 'a non-ASCII character (percent-encode it)';
  return `the character ${JSON.stringify(String.fromCharCode(c))}`;
}

/** Why a decoded path segment is refused, or undefined. `raw` has only well-formed escapes. */
function segmentProblem(raw: string): string | undefined {
  if (raw.indexOf('%') < 0) {
    return raw === '.' || raw === '..' ? `a "${raw}" path segment` : undefined;
  }
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x25) {
      bytes.push(c);
      continue;
    }
    const b = parseInt(raw.slice(i + 1, i + 3), 16);
    i += 2;
    if (b === 0x2f) return 'an encoded "/" (%2F) in a path segment';
    if (b === 0x5c) return 'an encoded backslash (%5C)';
    if (b === 0x25) return 'an encoded "%" (%25) in the path';
    bytes.push(b);
  }
  const buf = Buffer.from(bytes);
  const decoded = buf.toString('utf8');
  if (!Buffer.from(decoded, 'utf8').equals(buf)) return 'percent-encoded bytes that are not UTF-8 in the path';
  return decoded === '.' || decoded === '..' ? `a percent-encoded "${decoded}" path segment` : undefined;
}

/** Checks `path` (from its leading `/`, without the query); undefined when it is unambiguous. */
function pathProblem(path: string, options: RequestTargetOptions): RefusedRequestTarget | undefined {
  let segmentStart = 1;
  let hasEscape = false;
  for (let i = 1; i <= path.length; i++) {
    const c = i < path.length ? path.charCodeAt(i) : 0x2f;
    if (c === 0x2f) {
      const length = i - segmentStart;
      // An empty segment is fine only as the trailing slash (Go trims it; routers treat it as their option says).
      if (length === 0 && i < path.length) return refuse('an empty path segment ("//")');
      if (length === 0 && i > 1 && options.trailingSlashIgnored === true) {
        return refuse('a trailing slash (the router ignores it)');
      }
      // Sliced only when it may be a dot segment or hides an escape: the usual segment costs no substring.
      if (length > 0 && (hasEscape || length <= 2)) {
        const problem = segmentProblem(path.slice(segmentStart, i));
        if (problem) return refuse(problem);
      }
      segmentStart = i + 1;
      hasEscape = false;
    } else if (c === 0x25) {
      if (!isHex(path.charCodeAt(i + 1)) || !isHex(path.charCodeAt(i + 2))) {
        return refuse('a malformed "%" escape in the path', true);
      }
      hasEscape = true;
      i += 2;
    } else if (c < 0x20 || c === 0x7f) {
      return refuse('a control character in the path', true);
    } else if (c > 0x7f || pathChar[c] !== 1 || (c === 0x3b && options.semicolonDelimiter === true)) {
      return refuse(`${describeChar(c)} in the path`);
    }
  }
  return undefined;
}

function queryProblem(query: string): RefusedRequestTarget | undefined {
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c === 0x25) {
      if (!isHex(query.charCodeAt(i + 1)) || !isHex(query.charCodeAt(i + 2))) {
        return refuse('a malformed "%" escape in the query');
      }
      i += 2;
    } else if (c < 0x20 || c === 0x7f) {
      return refuse('a control character in the query', true);
    } else if (c === 0x3b) {
      return refuse('a ";" in the query (Go drops such a pair, Node keeps it)');
    } else if (c > 0x7f || queryChar[c] !== 1) {
      return refuse(`${describeChar(c)} in the query`);
    }
  }
  return undefined;
}

/**
 * Checks a request target (`req.url` as received) and returns its origin-form, or why no framework-independent path
 * can be given to it. Pure, never throws.
 */
export function checkRequestTarget(target: string, options: RequestTargetOptions = {}): RequestTargetResult {
  let start = 0;
  let absolute = false;
  if (target.charCodeAt(0) !== 0x2f) {
    const scheme = absolutePrefix.exec(target);
    if (!scheme) {
      return refuse(
        target === '*' ? 'the asterisk-form target "*"' : 'a target that is neither "/path" nor "http(s)://host/path"',
      );
    }
    const slash = target.indexOf('/', scheme[0].length);
    const end = slash < 0 ? target.length : slash;
    const authority = target.slice(scheme[0].length, end);
    const question = authority.indexOf('?');
    if (slash < 0 || question >= 0) return refuse('an absolute-form target without a path');
    if (!authorityPattern.test(authority) || !isUrlHost(authority)) {
      return refuse('an absolute-form target whose host is not a plain DNS name or IP');
    }
    start = end;
    absolute = true;
  } else if (target.charCodeAt(1) === 0x2f) {
    // `new URL('//host/x', base)` reads a host; parseurl and Go read a path.
    return refuse('an empty path segment ("//")');
  }
  const q = target.indexOf('?', start);
  const path = target.slice(start, q < 0 ? target.length : q);
  const problem = pathProblem(path, options) ?? (q < 0 ? undefined : queryProblem(target.slice(q + 1)));
  if (problem) return problem;
  return { ok: true, uri: absolute ? target.slice(start) : target, path, absolute };
}
