import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage, IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AuthnRequest } from '../authn/interfaces.js';
import { requestHeaderNames, type RequestHeaderNames } from '../authn/request-header-names.js';
import type { RequestHeaderConfig } from '../trust/interfaces.js';
import { BoundedMemo } from '../util/bounded-memo.js';

/** Longest client chain we keep; Go has no limit, but nothing legitimate sends more. */
const maxPeerChain = 10;

const peerChains = new WeakMap<object, readonly X509Certificate[]>();

/**
 * Intermediates last presented with a leaf, by leaf fingerprint. A resumed TLS session (undici and most clients
 * resume) only exposes the leaf on the server side, while Go restores the whole chain from the session; reusing the
 * intermediates from the full handshake keeps both paths equivalent. Intermediates confer no trust by themselves:
 * verification still checks every signature up to an anchor. Bounded to 1024 leaves and 4 MiB of DER: any client may
 * present any chain before it is verified, and TLS lets one reach ~100 KB.
 */
const intermediatesByLeaf = new BoundedMemo<string, readonly X509Certificate[]>(1024, 4 * 1024 * 1024);

function rememberIntermediates(leaf: X509Certificate, intermediates: readonly X509Certificate[]): void {
  let bytes = 0;
  for (const c of intermediates) bytes += c.raw.length;
  intermediatesByLeaf.set(leaf.fingerprint256, intermediates, bytes);
}

/** What the intermediates memo holds now: for specs of its bounds, not a public API. */
export function rememberedIntermediatesSize(): { readonly leaves: number; readonly derBytes: number } {
  return { leaves: intermediatesByLeaf.size, derBytes: intermediatesByLeaf.bytes };
}

/**
 * The certificates the client sent, leaf first, read once per TLS socket and cached: on Node 20 a second
 * `getPeerX509Certificate()` call returns a leaf whose `issuerCertificate` chain is gone (nodejs/node#65579).
 * On a resumed TLS session the intermediates come from the last full handshake with the same leaf.
 * [] for plain sockets and clients without a certificate.
 */
export function peerCertificates(socket: object | undefined): readonly X509Certificate[] {
  if (!socket) return [];
  const cached = peerChains.get(socket);
  if (cached) return cached;
  const tls = socket as Partial<TLSSocket>;
  let chain: X509Certificate[] = [];
  if (typeof tls.getPeerX509Certificate === 'function') {
    const leaf = tls.getPeerX509Certificate();
    if (leaf) {
      chain = [leaf];
      for (let c = leaf.issuerCertificate; c && chain.length < maxPeerChain; c = c.issuerCertificate) {
        // A self-signed certificate may be reported as its own issuer; stop at the first repeat.
        if (chain.some((x) => x === c || x.raw.equals(c!.raw))) break;
        chain.push(c);
      }
      if (chain.length > 1) rememberIntermediates(leaf, chain.slice(1));
      else if (tls.isSessionReused?.()) chain.push(...(intermediatesByLeaf.get(leaf.fingerprint256) ?? []));
    }
  }
  Object.freeze(chain);
  peerChains.set(socket, chain);
  return chain;
}

/** Node delivers header bytes as latin1 code units; Go keeps the raw bytes, which are conventionally UTF-8. */
function toUtf8(v: string): string {
  for (let i = 0; i < v.length; i++) {
    if (v.charCodeAt(i) > 0x7f) return Buffer.from(v, 'latin1').toString('utf8');
  }
  return v;
}

/**
 * Where a request's view is kept: a symbol-keyed property on the IncomingMessage, not a WeakMap, because a WeakMap
 * entry per request costs V8 several µs of ephemeron bookkeeping and GC work.
 */
const viewKey = Symbol('kube-delegated-auth.authnRequest');
type WithView = IncomingMessage & { [viewKey]?: AuthnRequest };

/** `headersDistinct`, or the same built from `rawHeaders` where a request object lacks it (HTTP/2 compat). */
function distinctHeaders(req: IncomingMessage): Record<string, string[] | undefined> {
  if (req.headersDistinct) return req.headersDistinct;
  const built: Record<string, string[]> = {};
  const raw = req.rawHeaders ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) (built[raw[i]!.toLowerCase()] ??= []).push(raw[i + 1]!);
  Object.defineProperty(req, 'headersDistinct', { value: built, configurable: true, writable: true });
  return built;
}

/**
 * A class rather than an object literal: V8 builds a literal with a getter through the runtime (≈2 µs a request),
 * while instances of one class share a shape and their methods live on the prototype (no closures per request).
 */
class NodeRequestView implements AuthnRequest {
  readonly method: string;
  readonly url: string;
  readonly connection: object | undefined;
  readonly #req: IncomingMessage;
  #certs: readonly X509Certificate[] | undefined;

  constructor(req: IncomingMessage, socket: object | undefined, encrypted: boolean) {
    this.method = req.method ?? 'GET';
    this.url = req.url ?? '/';
    this.connection = encrypted ? socket : undefined;
    this.#req = req;
  }

  header(name: string): readonly string[] {
    const values = distinctHeaders(this.#req)[name.toLowerCase()];
    if (!values) return [];
    const out = new Array<string>(values.length);
    for (let i = 0; i < values.length; i++) out[i] = toUtf8(values[i]!);
    return out;
  }

  headerNames(): readonly string[] {
    return Object.keys(distinctHeaders(this.#req));
  }

  get peerCertificates(): readonly X509Certificate[] {
    this.#certs ??= this.connection ? peerCertificates(this.connection) : [];
    return this.#certs;
  }
}

/**
 * The framework-agnostic view of a Node request: header lines as received (`headersDistinct`, never comma-joined,
 * values re-decoded as UTF-8), the client's certificate chain and the socket as the verdict-cache key. Built once per
 * request; header reads are live, so stripping is visible to later readers.
 */
export function toAuthnRequest(req: IncomingMessage): AuthnRequest {
  const existing = (req as WithView)[viewKey];
  if (existing) return existing;
  const socket = req.socket as object | undefined;
  const encrypted = !!socket && (socket as Partial<TLSSocket>).encrypted === true;
  const view = new NodeRequestView(req, socket, encrypted);
  (req as WithView)[viewKey] = view;
  return view;
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
export function stripIdentityHeaders(
  req: IncomingMessage,
  config: RequestHeaderConfig | undefined,
  consumed: readonly string[] = [],
): string[] {
  const names = strippedNames(config);
  // Consumed names outside the configured set are rare (custom authenticators); only they cost an allocation.
  let consumedExtra: string[] | undefined;
  for (const c of consumed) {
    if (!c) continue;
    const name = dashed(c.toLowerCase());
    if (name !== websocketProtocolHeader && !names.exact.has(name)) (consumedExtra ??= []).push(name);
  }

  let removed: Set<string> | undefined;
  let websocket: string[] | undefined;
  const distinct = distinctHeaders(req);
  const headers = req.headers as IncomingHttpHeaders & Record<string, unknown>;
  for (const name of Object.keys(distinct)) {
    const verdict = verdictOf(names, name, consumedExtra);
    if (verdict === doomed) {
      delete distinct[name];
      (removed ??= new Set()).add(name);
    } else if (verdict === websocketProtocol) (websocket ??= []).push(name);
  }
  for (const name of Object.keys(headers)) {
    if (verdictOf(names, name, consumedExtra) === doomed) {
      delete headers[name];
      (removed ??= new Set()).add(name);
    }
  }
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const lower = raw[i]!.toLowerCase();
    if (verdictOf(names, lower, consumedExtra) === doomed) {
      (removed ??= new Set()).add(lower);
      raw.splice(i, 2);
    }
  }
  if (websocket) for (const name of websocket) stripWebsocketTokens(req, name);
  return removed ? [...removed] : [];
}

/** What {@link stripIdentityHeaders} does with a header name: keep it, remove it, or filter its WebSocket tokens. */
const kept = 0;
const doomed = 1;
const websocketProtocol = 2;
type Verdict = typeof kept | typeof doomed | typeof websocketProtocol;

/**
 * The verdict on a header name as the loops see it (`headers`/`headersDistinct` keys as they are, `rawHeaders` names
 * lower-cased): the configured names' verdict is memoized per name (the same few names arrive on every request);
 * names the authenticator reported as consumed are checked on top.
 */
function verdictOf(names: StrippedNames, name: string, consumedExtra: readonly string[] | undefined): Verdict {
  let verdict = names.verdicts.get(name);
  if (verdict === undefined) {
    const normalized = dashed(name);
    verdict = isDoomed(normalized, names.exact, names.prefixes)
      ? doomed
      : normalized === websocketProtocolHeader
        ? websocketProtocol
        : kept;
    // Names are the client's (one may be ~16 KB): the memo is bounded in entries and bytes.
    names.verdicts.set(name, verdict, name.length);
  }
  if (verdict !== doomed && consumedExtra !== undefined && consumedExtra.includes(dashed(name))) return doomed;
  return verdict;
}

/** Verdicts memo bounds: more names than any real traffic uses, and 256 K characters of them in all. */
const newVerdictMemo = () => new BoundedMemo<string, Verdict>(4096, 256 * 1024);

// A module function, not a closure per call: closures cost an allocation (and, under tsx, a __name call) each.
function isDoomed(normalized: string, exact: ReadonlySet<string>, prefixes: readonly string[]): boolean {
  if (exact.has(normalized)) return true;
  for (const p of prefixes) if (normalized.startsWith(p)) return true;
  return false;
}

interface StrippedNames {
  /** Lower-case, `_` as `-`. */
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  /** Verdicts of the configured names by header name as seen (see {@link verdictOf}). */
  readonly verdicts: BoundedMemo<string, Verdict>;
}

const standardStripped: StrippedNames = {
  exact: new Set([...standardIdentityHeaders, ...impersonationHeaders]),
  prefixes: [standardExtraHeaderPrefix, impersonationExtraHeaderPrefix],
  verdicts: newVerdictMemo(),
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
      verdicts: newVerdictMemo(),
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
