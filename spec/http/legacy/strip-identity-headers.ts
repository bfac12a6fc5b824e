// Frozen copy (commit 123a2ca, lib/http/request.ts) of `stripIdentityHeaders()` before its per-name verdict memo:
// the reference of spec/http/strip-identity-headers-differential.spec.ts. Do not change it to follow lib/.
import type { IncomingMessage, IncomingHttpHeaders } from 'node:http';
import { requestHeaderNames, type RequestHeaderNames } from '../../../lib/authn/request-header-names.js';
import type { RequestHeaderConfig } from '../../../lib/trust/interfaces.js';

/** `headersDistinct`, or the same built from `rawHeaders` where a request object lacks it (HTTP/2 compat). */
function distinctHeaders(req: IncomingMessage): Record<string, string[] | undefined> {
  if (req.headersDistinct) return req.headersDistinct;
  const built: Record<string, string[]> = {};
  const raw = req.rawHeaders ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) (built[raw[i]!.toLowerCase()] ??= []).push(raw[i + 1]!);
  Object.defineProperty(req, 'headersDistinct', { value: built, configurable: true, writable: true });
  return built;
}

/** The standard front-proxy headers cleared after every successful authentication (Go 1.27+, §2.3). */
export const standardIdentityHeaders: readonly string[] = Object.freeze([
  'authorization',
  'x-remote-user',
  'x-remote-uid',
  'x-remote-group',
]);
export const standardExtraHeaderPrefix = 'x-remote-extra-';

/**
 * Impersonation headers. Go's WithImpersonation consumes them; this library does not impersonate, so they are
 * removed too: a handler that forwards the request to kube-apiserver with its own credentials must never pass a
 * caller's `Impersonate-User` along.
 */
export const impersonationHeaders: readonly string[] = Object.freeze([
  'impersonate-user',
  'impersonate-group',
  'impersonate-uid',
]);
export const impersonationExtraHeaderPrefix = 'impersonate-extra-';

const websocketProtocolHeader = 'sec-websocket-protocol';
const websocketTokenPrefix = 'base64url.bearer.authorization.k8s.io.';

/**
 * A header name as a proxy that maps `_` to `-` (nginx `underscores_in_headers`, CGI-style gateways) would forward
 * it: `X_Remote_User` and `x-remote_user` both become `x-remote-user`. Names arrive lower-cased.
 */
function dashed(lower: string): string {
  return lower.indexOf('_') < 0 ? lower : lower.replaceAll('_', '-');
}

/**
 * Removes every identity header before the handler runs, as Go's WithAuthentication does after any successful
 * authentication (anonymous included): `Authorization`, the standard `X-Remote-User`/`-Uid`/`-Group`/`-Extra-*`,
 * `Impersonate-*`, the configured username/uid/group headers and extra prefixes, and whatever the authenticator
 * reported as consumed. Look-alikes spelled with `_` for `-` (any mix, any case: `X_Remote_User`) go too: Go never
 * reads them as identity, but a proxy or client library downstream of the handler may turn them into the real header.
 * WebSocket bearer-token subprotocols (`base64url.bearer.authorization.k8s.io.*`) are removed from
 * `Sec-WebSocket-Protocol` whether or not they authenticated the request (Go removes the one it used); the other
 * protocols are kept, and a header left empty is removed. Applies to `headers`, `headersDistinct` and `rawHeaders`.
 * Returns the removed header names (lower-case).
 */
export function legacyStripIdentityHeaders(
  req: IncomingMessage,
  config: RequestHeaderConfig | undefined,
  consumed: readonly string[] = [],
): string[] {
  const { exact, prefixes } = strippedNames(config);
  // Consumed names outside the configured set are rare (custom authenticators); only they cost an allocation.
  let consumedExtra: string[] | undefined;
  for (const c of consumed) {
    if (!c) continue;
    const name = dashed(c.toLowerCase());
    if (name !== websocketProtocolHeader && !exact.has(name)) (consumedExtra ??= []).push(name);
  }

  let removed: Set<string> | undefined;
  let websocket: string[] | undefined;
  const distinct = distinctHeaders(req);
  const headers = req.headers as IncomingHttpHeaders & Record<string, unknown>;
  for (const name of Object.keys(distinct)) {
    const normalized = dashed(name);
    if (isDoomed(normalized, exact, prefixes, consumedExtra)) {
      delete distinct[name];
      (removed ??= new Set()).add(name);
    } else if (normalized === websocketProtocolHeader) (websocket ??= []).push(name);
  }
  for (const name of Object.keys(headers)) {
    if (isDoomed(dashed(name), exact, prefixes, consumedExtra)) {
      delete headers[name];
      (removed ??= new Set()).add(name);
    }
  }
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const lower = raw[i]!.toLowerCase();
    if (isDoomed(dashed(lower), exact, prefixes, consumedExtra)) {
      (removed ??= new Set()).add(lower);
      raw.splice(i, 2);
    }
  }
  if (websocket) for (const name of websocket) stripWebsocketTokens(req, name);
  return removed ? [...removed] : [];
}

// A module function, not a closure per call: closures cost an allocation (and, under tsx, a __name call) each.
function isDoomed(
  normalized: string,
  exact: ReadonlySet<string>,
  prefixes: readonly string[],
  consumedExtra: readonly string[] | undefined,
): boolean {
  if (exact.has(normalized)) return true;
  for (const p of prefixes) if (normalized.startsWith(p)) return true;
  return consumedExtra !== undefined && consumedExtra.includes(normalized);
}

interface StrippedNames {
  /** Lower-case, `_` as `-`. */
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
}

const standardStripped: StrippedNames = {
  exact: new Set([...standardIdentityHeaders, ...impersonationHeaders]),
  prefixes: [standardExtraHeaderPrefix, impersonationExtraHeaderPrefix],
};
const strippedByNames = new WeakMap<RequestHeaderNames, StrippedNames>();

/** The standard identity headers plus the configured ones, built once per configuration. */
function strippedNames(config: RequestHeaderConfig | undefined): StrippedNames {
  if (!config) return standardStripped;
  const names = requestHeaderNames(config);
  let out = strippedByNames.get(names);
  if (!out) {
    out = {
      exact: new Set([...standardIdentityHeaders, ...impersonationHeaders, ...names.named.map(dashed)]),
      prefixes: [standardExtraHeaderPrefix, impersonationExtraHeaderPrefix, ...names.prefixes.map(dashed)],
    };
    strippedByNames.set(names, out);
  }
  return out;
}

const isBearerProtocol = (p: string) => p.toLowerCase().startsWith(websocketTokenPrefix);

/**
 * Removes the bearer-token entries of one `Sec-WebSocket-Protocol` spelling (`name`, lower-case). Lines without one
 * are left as they are; otherwise, as Go's `Header.Set(protocolHeader, strings.Join(filteredProtocols, ","))`, one
 * line with the remaining protocols, or no header when none remain.
 */
function stripWebsocketTokens(req: IncomingMessage, name: string): void {
  const distinct = distinctHeaders(req);
  const lines = distinct[name];
  if (!lines || !lines.some((l) => l.split(',').some((p) => isBearerProtocol(p.trim())))) return;
  const filtered = lines
    .flatMap((l) => l.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '' && !isBearerProtocol(p));
  const value = filtered.join(',');
  const headers = req.headers as IncomingHttpHeaders & Record<string, unknown>;
  if (value === '') {
    delete distinct[name];
    delete headers[name];
  } else {
    distinct[name] = [value];
    headers[name] = value;
  }
  const raw = req.rawHeaders;
  let kept = value === '';
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== name) continue;
    if (!kept) {
      raw[i + 1] = value;
      kept = true;
    } else {
      raw.splice(i, 2);
      i -= 2;
    }
  }
}
