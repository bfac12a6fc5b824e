import { createConnection } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import type { ConnectionConfig } from 'kube-delegated-auth/cluster';

/** Where the backend is reached directly and how its serving certificate is checked. */
export interface BackendEndpoint {
  readonly host: string;
  readonly port: number;
  /** Name checked in the serving certificate (the aggregator's `<service>.<namespace>.svc`). */
  readonly servername: string;
  /** The APIService `caBundle` (PEM); undefined when the APIService sets `insecureSkipTLSVerify`. */
  readonly caPem?: string;
}

/** A client certificate and key (PEM) to present in the handshake. */
export interface ClientCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface RawResponse {
  /** HTTP status; undefined when the connection or handshake failed (see `error`). */
  readonly status?: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Body, decoded from chunked encoding, cut at 64 KiB. */
  readonly body: string;
  readonly error?: string;
}

const maxBody = 64 * 1024;

/**
 * Sends one request over a fresh TLS connection exactly as written: the request target is not normalized (no
 * dot-segment removal, no re-encoding), which is the point of the path-confusion probes. The serving certificate is
 * not verified here (the trust cases do that); the request carries only what the probe puts in it.
 */
export function rawRequest(
  ep: BackendEndpoint,
  target: string,
  opts: {
    readonly method?: string;
    readonly headers?: readonly (readonly [string, string])[];
    readonly body?: string;
    readonly clientCert?: ClientCertificate;
    readonly timeoutMs?: number;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = tlsConnect({
      host: ep.host,
      port: ep.port,
      servername: /^[\d.]+$|:/.test(ep.servername) ? undefined : ep.servername,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      ...(opts.clientCert && { cert: opts.clientCert.certPem, key: opts.clientCert.keyPem }),
    });
    const done = (r: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ headers: {}, body: '', error: 'ETIMEDOUT: no complete answer in time' }),
      opts.timeoutMs ?? 15_000,
    );
    socket.once('secureConnect', () => {
      const lines = [
        `${opts.method ?? 'GET'} ${target} HTTP/1.1`,
        `Host: ${ep.servername}`,
        'Accept: application/json',
      ];
      lines.push('User-Agent: kube-delegated-auth-conformance', 'Connection: close');
      for (const [k, v] of opts.headers ?? []) lines.push(`${k}: ${v}`);
      if (opts.body !== undefined) {
        lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(opts.body)}`);
      }
      socket.write(`${lines.join('\r\n')}\r\n\r\n${opts.body ?? ''}`);
    });
    socket.on('data', (d: Buffer) => {
      if (size < maxBody * 2) chunks.push(d);
      size += d.length;
    });
    socket.once('end', () => done(parseResponse(Buffer.concat(chunks))));
    socket.once('close', () => done(parseResponse(Buffer.concat(chunks))));
    socket.once('error', (err: Error & { code?: string }) => {
      if (chunks.length > 0) done(parseResponse(Buffer.concat(chunks)));
      else done({ headers: {}, body: '', error: `${err.code ?? err.name}: ${err.message}` });
    });
  });
}

/** Parses an HTTP/1.1 answer read to the end of the connection. */
export function parseResponse(raw: Buffer): RawResponse {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) {
    return raw.length === 0
      ? { headers: {}, body: '', error: 'ECONNRESET: connection closed without an answer' }
      : { headers: {}, body: '', error: `malformed answer: ${JSON.stringify(text.slice(0, 80))}` };
  }
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!m) return { headers: {}, body: '', error: `malformed status line: ${JSON.stringify(statusLine)}` };
  const headers: Record<string, string> = {};
  for (const l of headerLines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status: Number(m[1]), headers, body: body.subarray(0, maxBody).toString('utf8') };
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const lineEnd = buf.indexOf('\r\n', pos);
    if (lineEnd < 0) break;
    const len = Number.parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(len) || len <= 0) break;
    out.push(buf.subarray(lineEnd + 2, lineEnd + 2 + len));
    pos = lineEnd + 2 + len + 2;
  }
  return Buffer.concat(out);
}

/** What a TLS handshake with the backend showed. */
export interface HandshakeResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly protocol?: string | undefined;
  /** Whether the chain verified against `caPem` for `servername`. */
  readonly authorized?: boolean;
  readonly authorizationError?: string;
  readonly peer?: PeerCertificate;
}

/** One handshake with the given protocol bounds; verifies against the endpoint's caBundle (reported, not enforced). */
export function handshake(
  ep: BackendEndpoint,
  opts: {
    readonly minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2';
    readonly maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  } = {},
): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const legacy = opts.maxVersion === 'TLSv1' || opts.maxVersion === 'TLSv1.1';
    const finish = (r: HandshakeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const socket: TLSSocket = tlsConnect({
      host: ep.host,
      port: ep.port,
      servername: /^[\d.]+$|:/.test(ep.servername) ? undefined : ep.servername,
      ...(ep.caPem && { ca: ep.caPem }),
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      ...(opts.minVersion && { minVersion: opts.minVersion }),
      ...(opts.maxVersion && { maxVersion: opts.maxVersion }),
      // OpenSSL refuses TLS 1.0/1.1 at its default security level; lower it only for the legacy offers.
      ...(legacy && { ciphers: 'DEFAULT@SECLEVEL=0' }),
    });
    const timer = setTimeout(() => finish({ ok: false, error: 'ETIMEDOUT: handshake did not finish' }), 10_000);
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(true);
      let authorized = socket.authorized;
      let authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined;
      if (authorized && peer && ep.servername) {
        // The aggregator checks the name too.
        const nameErr = checkName(ep.servername, peer);
        if (nameErr) {
          authorized = false;
          authorizationError = nameErr;
        }
      }
      finish({
        ok: true,
        protocol: socket.getProtocol() ?? undefined,
        authorized,
        ...(authorizationError !== undefined && { authorizationError }),
        peer,
      });
    });
    socket.once('error', (err: Error & { code?: string }) =>
      finish({ ok: false, error: `${err.code ?? err.name}: ${err.message}` }),
    );
  });
}

function checkName(servername: string, peer: PeerCertificate): string | undefined {
  const sans = (peer.subjectaltname ?? '').split(',').map((s) => s.trim());
  const dns = sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase());
  const ips = sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice(11));
  if (dns.includes(servername.toLowerCase()) || ips.includes(servername)) return undefined;
  return `serving certificate is not valid for ${servername} (SANs: ${peer.subjectaltname ?? 'none'})`;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
  readonly json?: unknown;
}

/**
 * A request to kube-apiserver with the kubeconfig's credentials plus extra headers (impersonation); lib/cluster's
 * RestClient sends a fixed header set, which the aggregator cases must extend.
 */
export class ApiRequester {
  readonly #conn: ConnectionConfig;
  readonly #agent: Agent;

  constructor(conn: ConnectionConfig) {
    this.#conn = conn;
    this.#agent = new Agent({
      connect: {
        ...(conn.ca !== undefined && { ca: conn.ca }),
        ...(conn.cert !== undefined && { cert: conn.cert }),
        ...(conn.key !== undefined && { key: conn.key }),
        ...(conn.tlsServerName !== undefined && { servername: conn.tlsServerName }),
        rejectUnauthorized: !conn.insecureSkipTlsVerify,
      },
    });
  }

  async request(
    method: string,
    path: string,
    headers: Readonly<Record<string, string | readonly string[]>> = {},
    body?: unknown,
  ): Promise<ApiResponse> {
    const h: Record<string, string | string[]> = { accept: 'application/json' };
    for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = typeof v === 'string' ? v : [...v];
    const token = await this.#conn.token?.();
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await request(`${this.#conn.server}${path}`, {
      method: method as 'GET',
      headers: h,
      ...(body !== undefined && { body: JSON.stringify(body) }),
      dispatcher: this.#agent,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, body: text, ...(json !== undefined && { json }) };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

/** What the backend's TLS 1.2 CertificateRequest asked for. */
export interface ClientCertificateRequest {
  /** False when the server finished its flight without a CertificateRequest. */
  readonly requested: boolean;
  /** DER of each DistinguishedName in `certificate_authorities`. */
  readonly acceptableCas: readonly Buffer[];
}

/**
 * Handshakes with TLS 1.2 (where the server's CertificateRequest is still plaintext) through a recording stream and
 * parses the server's handshake messages up to ServerHelloDone. Resolves a reason string when that is impossible
 * (TLS 1.3 only, connection failure).
 */
export function clientCertificateRequest(ep: BackendEndpoint): Promise<ClientCertificateRequest | string> {
  return new Promise((resolve) => {
    const tcp = createConnection({ host: ep.host, port: ep.port });
    const received: Buffer[] = [];
    const wrapper = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        tcp.write(chunk, cb);
      },
      final(cb) {
        tcp.end();
        cb();
      },
    });
    tcp.on('data', (d: Buffer) => {
      received.push(d);
      wrapper.push(d);
    });
    tcp.on('end', () => wrapper.push(null));
    tcp.on('error', (err) => wrapper.destroy(err));
    let settled = false;
    const finish = (r: ClientCertificateRequest | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tls.destroy();
      tcp.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish('ETIMEDOUT: TLS 1.2 handshake did not finish'), 10_000);
    const tls = tlsConnect({
      socket: wrapper,
      servername: /^[\d.]+$|:/.test(ep.servername) ? undefined : ep.servername,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    const parse = () => {
      const parsed = parseServerFlight(Buffer.concat(received));
      if (parsed) finish(parsed);
      else finish('the server flight could not be parsed');
    };
    tls.once('secureConnect', parse);
    tls.once('error', (err: Error & { code?: string }) => {
      if (Buffer.concat(received).length > 0 && parseServerFlight(Buffer.concat(received))) parse();
      else
        finish(
          `no TLS 1.2 handshake (${err.code ?? err.message}): the backend may serve TLS 1.3 only, whose CertificateRequest is encrypted`,
        );
    });
  });
}

/** Parses plaintext TLS 1.2 handshake records up to ServerHelloDone; undefined when incomplete. */
export function parseServerFlight(data: Buffer): ClientCertificateRequest | undefined {
  const hs: Buffer[] = [];
  let pos = 0;
  while (pos + 5 <= data.length) {
    const type = data[pos]!;
    const len = data.readUInt16BE(pos + 3);
    if (pos + 5 + len > data.length) break;
    if (type === 20) break; // ChangeCipherSpec: what follows is encrypted
    if (type === 22) hs.push(data.subarray(pos + 5, pos + 5 + len));
    pos += 5 + len;
  }
  const msgs = Buffer.concat(hs);
  let p = 0;
  let request: ClientCertificateRequest = { requested: false, acceptableCas: [] };
  while (p + 4 <= msgs.length) {
    const type = msgs[p]!;
    const len = msgs.readUIntBE(p + 1, 3);
    if (p + 4 + len > msgs.length) return undefined;
    const body = msgs.subarray(p + 4, p + 4 + len);
    if (type === 13) {
      let q = 1 + body[0]!; // certificate_types
      q += 2 + body.readUInt16BE(q); // supported_signature_algorithms
      const end = q + 2 + body.readUInt16BE(q);
      q += 2;
      const cas: Buffer[] = [];
      while (q + 2 <= end) {
        const l = body.readUInt16BE(q);
        cas.push(Buffer.from(body.subarray(q + 2, q + 2 + l)));
        q += 2 + l;
      }
      request = { requested: true, acceptableCas: cas };
    }
    if (type === 14) return request; // ServerHelloDone
    p += 4 + len;
  }
  return undefined;
}
