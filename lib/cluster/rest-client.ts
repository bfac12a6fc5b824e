// The kube-apiserver client (undici Pool, mTLS or token, QPS limit); its error type is lib/cluster/errors `KubeApiError`.
import type { Readable } from 'node:stream';
import { Pool, ProxyAgent } from 'undici';
import { KdaError } from '../errors.js';
import { KubeApiError, responseError } from './errors.js';
import type { ConnectionConfig } from './kubeconfig.js';
import { proxyFor } from './proxy.js';
import { QpsLimiter } from './qps-limiter.js';
import { clientDefaults } from '../defaults.js';

export { KubeApiError, type KubeStatus } from './errors.js';

export interface RestClientOptions {
  /** Where and how to connect (see `loadConnectionConfig`). */
  readonly connection: ConnectionConfig;
  /** Per-request timeout in ms (headers and body), default 10_000 (Go's ClientTimeout). Watches use their own. */
  readonly timeout?: number;
  /**
   * Most keep-alive connections to the apiserver, default 16. Each connection carries one request at a time (HTTP/1.1,
   * no pipelining), so this caps the reviews in flight at once: a burst of cache misses beyond it queues. Go's
   * clients multiplex on one HTTP/2 connection instead. Connections open only when needed.
   */
  readonly connections?: number;
  /** Client-side rate limit, requests per second; default 200 (Go's delegating clients). `0` = unlimited. */
  readonly qps?: number;
  /** Token-bucket burst, default 400 (Go). */
  readonly burst?: number;
  /** `User-Agent` header, default `kube-delegated-auth`. */
  readonly userAgent?: string;
  /**
   * Environment read once, at construction, for `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` when the connection has no
   * `proxyUrl` (client-go's `http.ProxyFromEnvironment`). Default `process.env`.
   */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** Overrides the client's per-request timeout, ms. */
  readonly timeout?: number;
}

/** A streaming response (watch). `body` must be consumed or destroyed. */
export interface StreamResponse {
  readonly statusCode: number;
  readonly body: Readable;
}

/**
 * A tiny JSON client for kube-apiserver on one keep-alive undici Pool: mTLS or bearer token, per-request timeout
 * through AbortSignal, client QPS limit. client-node's generated clients open a TLS connection per call, which costs
 * ~5x per review, so they stay off the hot path.
 */
export class RestClient {
  readonly #conn: ConnectionConfig;
  readonly #origin: string;
  readonly #pool: Pool | ProxyAgent;
  readonly #timeout: number;
  readonly #userAgent: string;
  readonly #limiter: QpsLimiter | undefined;
  #closed = false;
  #destroyed = false;

  constructor(opts: RestClientOptions) {
    this.#conn = opts.connection;
    const url = new URL(opts.connection.server);
    this.#timeout = opts.timeout ?? clientDefaults.timeout;
    this.#userAgent = opts.userAgent ?? 'kube-delegated-auth';
    const qps = opts.qps ?? clientDefaults.qps;
    this.#limiter = qps > 0 ? new QpsLimiter(qps, opts.burst ?? clientDefaults.burst) : undefined;
    const c = opts.connection;
    this.#origin = url.origin;
    const tls = {
      ...(c.ca !== undefined && { ca: c.ca }),
      ...(c.cert !== undefined && { cert: c.cert }),
      ...(c.key !== undefined && { key: c.key }),
      ...(c.tlsServerName !== undefined && { servername: c.tlsServerName }),
      rejectUnauthorized: !c.insecureSkipTlsVerify,
    };
    const connections = opts.connections ?? 16;
    const keepAliveTimeout = 30_000;
    // kubeconfig proxy-url, else the environment (client-go); both throw ERR_KDA_INVALID_OPTION for a socks5 proxy.
    const proxy = proxyFor(opts.connection.server, c.proxyUrl, opts.env ?? process.env);
    // Neither does I/O until the first request. Through a proxy, the TLS options apply to the tunnelled connection.
    this.#pool = proxy
      ? new ProxyAgent({ uri: proxy.url.href, requestTls: tls, connections, keepAliveTimeout })
      : new Pool(url.origin, { connections, keepAliveTimeout, connect: tls });
  }

  /** The connection this client uses (identity, source) for messages. */
  get connection(): ConnectionConfig {
    return this.#conn;
  }

  get<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, opts);
  }

  post<T>(path: string, body: unknown, opts: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body });
  }

  /** Sends one request and decodes the JSON answer; throws `KubeApiError` on any failure. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.#url(path, opts.query);
    const timeout = opts.timeout ?? this.#timeout;
    const timer = AbortSignal.timeout(timeout);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timer]) : timer;
    const verb = method[0] + method.slice(1).toLowerCase();
    try {
      await this.#limiter?.acquire(signal);
      const headers = await this.#headers(opts.body !== undefined);
      const res = await this.#pool.request({
        origin: this.#origin,
        path: url.pathname + url.search,
        method: method as 'GET',
        headers,
        ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
        signal,
      });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) {
        try {
          return JSON.parse(text) as T;
        } catch (err) {
          throw new KubeApiError(`${verb} "${url.href}": cannot decode response body: ${(err as Error).message}`, {
            statusCode: res.statusCode,
            networkCode: 'EDECODE',
            cause: err,
          });
        }
      }
      throw responseError(verb, url, res.statusCode, res.headers['retry-after'], text);
    } catch (err) {
      throw this.#wrap(err, verb, url, timer, timeout);
    }
  }

  /**
   * Opens a streaming GET (watch). `timeout` bounds only the wait for the response headers; the body may stay open
   * as long as the server keeps it (bounded by `timeoutSeconds` in the query) or until `signal` aborts.
   */
  async stream(
    path: string,
    opts: Omit<RequestOptions, 'body'> & { readonly bodyTimeout?: number } = {},
  ): Promise<StreamResponse> {
    const url = this.#url(path, opts.query);
    const timeout = opts.timeout ?? this.#timeout;
    const timer = AbortSignal.timeout(timeout);
    const headerSignal = opts.signal ? AbortSignal.any([opts.signal, timer]) : timer;
    try {
      await this.#limiter?.acquire(headerSignal);
      const headers = await this.#headers(false);
      const res = await this.#pool.request({
        origin: this.#origin,
        path: url.pathname + url.search,
        method: 'GET',
        headers,
        ...(opts.signal && { signal: opts.signal }),
        headersTimeout: timeout,
        bodyTimeout: opts.bodyTimeout ?? 0,
      });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const text = await res.body.text();
        throw responseError('Get', url, res.statusCode, res.headers['retry-after'], text);
      }
      return { statusCode: res.statusCode, body: res.body };
    } catch (err) {
      throw this.#wrap(err, 'Get', url, timer, timeout);
    }
  }

  /** Closes idle connections and refuses new requests. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }

  /** Aborts in-flight requests too. */
  async destroy(): Promise<void> {
    this.#closed = true;
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.#pool.destroy();
  }

  #url(path: string, query: RequestOptions['query']): URL {
    if (this.#closed) throw new KdaError('ERR_KDA_CLOSED', 'kube-apiserver client is closed');
    const url = new URL(this.#conn.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  async #headers(hasBody: boolean): Promise<Record<string, string>> {
    const h: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent };
    if (hasBody) h['content-type'] = 'application/json';
    const token = await this.#conn.token?.();
    if (token) h.authorization = `Bearer ${token}`;
    if (this.#conn.impersonateUser) h['impersonate-user'] = this.#conn.impersonateUser;
    return h;
  }

  #wrap(err: unknown, verb: string, url: URL, timer: AbortSignal, timeout: number): unknown {
    if (err instanceof KdaError) return err;
    const e = err as { name?: string; code?: string; message?: string };
    if (timer.aborted || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
      return new KubeApiError(`${verb} "${url.href}": request timed out after ${timeout}ms`, {
        networkCode: 'ETIMEDOUT',
        cause: err,
      });
    }
    // The caller's signal (e.g. a whole-call deadline) ended the request.
    if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.code === 'ABORT_ERR') {
      return new KubeApiError(`${verb} "${url.href}": request aborted: ${e.message ?? 'aborted'}`, {
        networkCode: 'ABORT_ERR',
        cause: err,
      });
    }
    if (e.code === 'UND_ERR_DESTROYED' || e.code === 'UND_ERR_CLOSED') {
      return new KdaError('ERR_KDA_CLOSED', 'kube-apiserver client is closed', { cause: err });
    }
    // undici reports its own socket error codes; fall back to the OS code of the cause (ECONNREFUSED, ECONNRESET).
    const code = e.code ?? (e as { cause?: { code?: string } }).cause?.code;
    return new KubeApiError(`${verb} "${url.href}": ${e.message ?? String(err)}`, {
      ...(code !== undefined && { networkCode: code }),
      cause: err,
    });
  }
}
