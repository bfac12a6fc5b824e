// Over ~350 lines by a few: two thirds of the file are the documented Go limits (timeouts, header size, connection
// cap) of the public options; the code itself only listens and closes. Reloadable content lives in lib/trust
// (fileCertKeyPair, unionCABundle, FileContent).
import { createServer, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { InvalidOptionError, KdaError } from '../errors.js';
import { refusalLogFor } from '../util/refusal-log.js';
import { noopLogger, type Logger } from '../log.js';
import { createCertificate } from '../dev-pki/certificates.js';
import type { CABundleProvider, CertKeyPair, CertKeyProvider } from '../trust/interfaces.js';
import { fileCertKeyPair, staticCertKeyPair, type FileCertKeyPairProvider } from '../trust/serving-cert.js';
import { unionCABundle } from '../trust/union.js';

/** A serving certificate generated in memory at listen(), like Go's `GenerateSelfSignedCertKey`. */
export interface SelfSignedOptions {
  /** DNS SANs of the serving certificate. Default `['localhost']`. */
  readonly dnsNames?: readonly string[];
  /** IP SANs of the serving certificate. Default `['127.0.0.1', '::1']`. */
  readonly ipAddresses?: readonly string[];
}

export interface SecureServerOptions {
  /** Node request listener, e.g. `koaApp.callback()`. */
  readonly handler: RequestListener;
  /**
   * The serving certificate as a provider (e.g. `fileCertKeyPair()` from lib/trust, or your own): the server applies
   * every change to new connections. The caller owns it (primes, starts and closes it); it must have a pair loaded by
   * listen(). Mutually exclusive with `tlsCertFile` and `selfSigned`.
   */
  readonly servingCert?: CertKeyProvider;
  /** Serving certificate file (PEM, leaf first). Reloaded when the file changes; the last good pair keeps serving. */
  readonly tlsCertFile?: string;
  /** Private key of `tlsCertFile`. Required together with it. */
  readonly tlsPrivateKeyFile?: string;
  /** Generate a CA and serving certificate at listen() instead of reading files. Mutually exclusive with the files. */
  readonly selfSigned?: SelfSignedOptions;
  /** Client CA (x509 user authentication). Its bundle is part of the acceptable-CA hint; changes apply live. */
  readonly clientCA?: CABundleProvider;
  /** Front-proxy (requestheader) CA. Its bundle is part of the acceptable-CA hint; changes apply live. */
  readonly requestHeaderCA?: CABundleProvider;
  /** Address to listen on. Default `'0.0.0.0'` (Go's `--bind-address` default). */
  readonly bindAddress?: string;
  /** Port to listen on; 0 picks an ephemeral port. Default 8443 (Go's `--secure-port` default). */
  readonly securePort?: number;
  /**
   * Interval (ms) of the periodic serving-certificate check that backs up the file watcher, which misses changes
   * on some filesystems and after atomic renames. Default 60_000, like Go's `DynamicServingContent` resync.
   */
  readonly certReloadInterval?: number;
  /** Time (ms) close() waits for in-flight requests before destroying their sockets. Default 10_000. */
  readonly shutdownTimeout?: number;
  /**
   * Time (ms) a client has to finish the TLS handshake and send the request headers, counted from the connection,
   * however slowly the bytes trickle in (slowloris). Go's apiserver sets `ReadHeaderTimeout: 32s` on its
   * http.Server, which also bounds the handshake. Node's `headersTimeout` and TLS `handshakeTimeout`. Default 32_000.
   */
  readonly readHeaderTimeout?: number;
  /**
   * Time (ms) a client has to send the whole request, headers and body (Node's `requestTimeout`; a slow upload is
   * cut with 408). Go bounds a non-long-running request, body reading included, by `--request-timeout` (60 s);
   * the time the handler takes to answer (a watch, say) is not counted here. 0 disables. Default 60_000.
   */
  readonly requestTimeout?: number;
  /**
   * Time (ms) a keep-alive connection may sit idle between requests (Node's `keepAliveTimeout`). Go's apiserver sets
   * `IdleTimeout: 90s`, matching the client transports' own idle timeout, so a client never reuses a connection the
   * server is closing. Default 90_000.
   */
  readonly idleTimeout?: number;
  /**
   * Largest request head (request line and headers, bytes) accepted; larger → 431. Go's apiserver allows 1 MiB
   * (`MaxHeaderBytes: 1 << 20`); the default keeps Node's 16 KiB, which bounds what an anonymous client can make
   * the server buffer — raise it for front proxies forwarding users with very many groups. Default 16_384.
   */
  readonly maxHeaderBytes?: number;
  /**
   * Most simultaneous connections; beyond it new connections are closed at once (Node's `maxConnections`). Go's
   * servers have no connection cap (`--max-requests-inflight` limits requests being served: 400, plus 200 mutating)
   * — set one when the service must bound its sockets, e.g. a little above the expected clients × connections.
   * Default: no cap.
   */
  readonly maxConnections?: number;
  readonly logger?: Logger;
}

export interface SecureServer {
  /** The underlying HTTPS server (already has `requestCert: true, rejectUnauthorized: false`). */
  readonly server: Server;
  /** Bound port; 0 before listen(). */
  readonly port: number;
  /** `https://<host>:<port>` once listening (`localhost` when bound to a wildcard address). */
  readonly url: string;
  /** PEM of the generated CA when `selfSigned` is used (for clients' trust), else undefined. */
  readonly selfSignedCaPem: string | undefined;
  /** Loads the serving certificate, applies the trust hint and starts listening. */
  listen(): Promise<void>;
  /** Re-reads the serving certificate files now (also done on file events and periodically); no-op for `servingCert`. */
  reloadServingCertificate(): Promise<void>;
  /** Stops accepting, closes idle sockets, waits for in-flight requests, stops watchers. Idempotent. */
  close(): Promise<void>;
}

/** Go apiserver's http.Server `ReadHeaderTimeout` (32 s, "just shy of requestTimeoutUpperBound"). */
export const defaultReadHeaderTimeout = 32_000;
/** Go's `--request-timeout` default (60 s). */
export const defaultRequestTimeout = 60_000;
/** Go apiserver's http.Server `IdleTimeout` (90 s, http.DefaultTransport's keep-alive timeout). */
export const defaultIdleTimeout = 90_000;
/** Node's default `maxHeaderSize` (16 KiB), kept on purpose (Go allows 1 MiB). */
export const defaultMaxHeaderBytes = 16_384;

function validate(opts: SecureServerOptions): void {
  const problems: string[] = [];
  if (typeof opts.handler !== 'function') problems.push('"handler" must be a request listener function');
  const hasCert = opts.tlsCertFile !== undefined && opts.tlsCertFile !== '';
  const hasKey = opts.tlsPrivateKeyFile !== undefined && opts.tlsPrivateKeyFile !== '';
  if (hasCert !== hasKey) {
    problems.push(
      '"tlsCertFile" (--tls-cert-file) and "tlsPrivateKeyFile" (--tls-private-key-file) must be set together',
    );
  }
  const hasProvider = opts.servingCert !== undefined;
  if (hasCert && opts.selfSigned) problems.push('"selfSigned" cannot be combined with "tlsCertFile"');
  if (hasProvider && (hasCert || opts.selfSigned))
    problems.push('"servingCert" cannot be combined with "tlsCertFile" or "selfSigned"');
  if (!hasCert && !opts.selfSigned && !hasProvider)
    problems.push('either "tlsCertFile"/"tlsPrivateKeyFile", "selfSigned" or "servingCert" is required');
  const port = opts.securePort;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    problems.push(`"securePort" (--secure-port) must be an integer between 0 and 65535, got ${String(port)}`);
  }
  if (opts.bindAddress !== undefined && isIP(opts.bindAddress) === 0) {
    problems.push(`"bindAddress" (--bind-address) must be an IP address, got ${JSON.stringify(opts.bindAddress)}`);
  }
  for (const k of ['certReloadInterval', 'shutdownTimeout', 'readHeaderTimeout', 'idleTimeout'] as const) {
    const v = opts[k];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) problems.push(`"${k}" must be a positive number of ms`);
  }
  const rt = opts.requestTimeout;
  if (rt !== undefined && (!Number.isFinite(rt) || rt < 0)) {
    problems.push('"requestTimeout" must be a number of ms >= 0 (0 disables)');
  } else if (rt !== undefined && rt > 0 && rt < (opts.readHeaderTimeout ?? defaultReadHeaderTimeout)) {
    problems.push(
      '"requestTimeout" must not be shorter than "readHeaderTimeout" (the headers are part of the request)',
    );
  }
  for (const k of ['maxHeaderBytes', 'maxConnections'] as const) {
    const v = opts[k];
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) problems.push(`"${k}" must be a positive integer`);
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);
}

/**
 * An HTTPS server for an extension apiserver: it requests (but does not require or verify) client certificates,
 * offers the union of the client and front-proxy CAs as the acceptable-CA hint, swaps that hint and the serving
 * certificate at runtime without restarting the listener, and shuts down cleanly.
 *
 * Verification is left to the authenticators on purpose: `rejectUnauthorized: true` would turn every precise
 * refusal into an opaque handshake reset (see node-stack.md §7.9), and Go does the same (`tls.RequestClientCert`).
 */
export function createSecureServer(opts: SecureServerOptions): SecureServer {
  validate(opts);
  const logger = opts.logger ?? noopLogger;
  const bindAddress = opts.bindAddress ?? '0.0.0.0';
  const requestedPort = opts.securePort ?? 8443;
  const shutdownTimeout = opts.shutdownTimeout ?? 10_000;
  const caProviders = [opts.clientCA, opts.requestHeaderCA];
  // Go's union CA content: the acceptable-CA hint of the TLS handshake.
  const acceptableCAs = unionCABundle('client-ca-union', caProviders);
  // The server owns (reads, watches, closes) a file pair it was given by name; a servingCert provider is the caller's.
  const ownedCert: FileCertKeyPairProvider | undefined = opts.tlsCertFile
    ? fileCertKeyPair(opts.tlsCertFile, opts.tlsPrivateKeyFile!, {
        logger,
        ...(opts.certReloadInterval !== undefined ? { pollInterval: opts.certReloadInterval } : {}),
      })
    : undefined;
  let servingCert: CertKeyProvider | undefined = opts.servingCert ?? ownedCert;

  const readHeaderTimeout = opts.readHeaderTimeout ?? defaultReadHeaderTimeout;
  const requestTimeout = opts.requestTimeout ?? defaultRequestTimeout;

  // No cert/key yet: the first context is built in listen(), so creating the server does no I/O.
  const server = createServer(
    {
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      // Go bounds the handshake by ReadHeaderTimeout too (tlsHandshakeTimeout), then the headers.
      handshakeTimeout: readHeaderTimeout,
      headersTimeout: readHeaderTimeout,
      requestTimeout,
      keepAliveTimeout: opts.idleTimeout ?? defaultIdleTimeout,
      maxHeaderSize: opts.maxHeaderBytes ?? defaultMaxHeaderBytes,
      // Node enforces headersTimeout/requestTimeout on this tick (default 30 s): check often enough that a timeout
      // is honoured within a quarter of itself.
      connectionsCheckingInterval: Math.max(
        25,
        Math.min(30_000, Math.floor(Math.min(readHeaderTimeout, requestTimeout || Infinity) / 4)),
      ),
    },
    opts.handler,
  );
  if (opts.maxConnections !== undefined) server.maxConnections = opts.maxConnections;
  // Node starts headersTimeout at the first byte of a request: a connection that completes the handshake and then
  // sends nothing would stay open forever. Go's read deadline (ReadHeaderTimeout) runs from the moment it starts
  // reading the request, so do the same until the first byte arrives: when the timer fires, a socket that has not
  // read a byte of the request (`bytesRead` counts the decrypted stream, not the handshake) is closed. Not a 'data'
  // listener: adding one makes Node's HTTP server stop feeding the parser from C++ (`unconsume`) and route every read
  // of the connection's life through JS streams (≈ +10 µs of CPU per keep-alive request).
  server.on('secureConnection', (socket: TLSSocket) => {
    const timer = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, readHeaderTimeout);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
  // Clients decide how often this happens: rate-limited like the pipeline's refusal lines.
  server.on('drop', (data?: { remoteAddress?: string }) => {
    refusalLogFor(logger).log(
      'warn',
      'connection',
      'max-connections',
      { maxConnections: server.maxConnections, remoteAddress: data?.remoteAddress },
      'connection refused: maxConnections reached',
    );
  });

  // Handshake failures never reach the authenticators; log them so "client could not connect" is explainable.
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    logger.debug({ code: err.code, error: err.message }, 'TLS handshake failed');
  });

  let selfSignedCaPem: string | undefined;
  let lastCaPem: string | undefined;
  let lastPair: CertKeyPair | undefined;
  let port = 0;
  let state: 'new' | 'listening' | 'closing' | 'closed' = 'new';
  let closePromise: Promise<void> | undefined;
  const unsubscribers: (() => void)[] = [];

  function applyContext(reason: string): void {
    const pair = servingCert?.current();
    if (!pair || state !== 'listening') return;
    const ca = acceptableCAs.current()?.pem;
    // setSecureContext rebuilds the whole context: without cert and key every new handshake fails (EPROTO).
    server.setSecureContext({ cert: pair.cert, key: pair.key, ...(ca ? { ca } : {}), minVersion: 'TLSv1.2' });
    lastPair = pair;
    if ((ca ?? '') !== lastCaPem) {
      lastCaPem = ca ?? '';
      logger.info(
        { reason, caNames: caProviders.filter((p) => p?.current()).map((p) => p!.name) },
        'updated TLS acceptable client CAs',
      );
    }
  }

  async function reloadServingCertificate(): Promise<void> {
    if (!ownedCert || state === 'closed' || state === 'closing') return;
    await ownedCert.runOnce();
  }

  async function listen(): Promise<void> {
    if (state !== 'new') throw new KdaError('ERR_KDA_CLOSED', 'listen() can be called once, before close()');
    state = 'listening';
    try {
      if (opts.selfSigned) {
        const ca = createCertificate({
          commonName: `kube-delegated-auth-ca@${Math.floor(Date.now() / 1000)}`,
          isCA: true,
        });
        const leaf = createCertificate({
          commonName: 'localhost',
          issuer: ca,
          extKeyUsage: ['serverAuth'],
          dnsNames: opts.selfSigned.dnsNames ?? ['localhost'],
          ipAddresses: opts.selfSigned.ipAddresses ?? ['127.0.0.1', '::1'],
        });
        servingCert = staticCertKeyPair(leaf.certPem + ca.certPem, leaf.keyPem, 'self-signed-serving-cert');
        selfSignedCaPem = ca.certPem;
      }
      await ownedCert?.runOnce();
      if (!servingCert?.current()) {
        throw new KdaError(
          'ERR_KDA_TRUST_UNAVAILABLE',
          `${servingCert?.name ?? 'servingCert'} has no certificate loaded`,
        );
      }
      applyContext('initial');
      unsubscribers.push(acceptableCAs.addListener(() => applyContext('client CA changed')));
      unsubscribers.push(
        servingCert.addListener(() => {
          if (servingCert?.current() !== lastPair) applyContext('serving certificate changed');
        }),
      );
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(requestedPort, bindAddress, () => {
          server.off('error', reject);
          resolve();
        });
      });
      port = (server.address() as AddressInfo).port;
      // Catch a change that landed between the first read and the listeners being attached.
      applyContext('initial');
      ownedCert?.start();
      logger.info({ address: bindAddress, port }, 'secure server listening');
    } catch (err) {
      await close();
      throw err;
    }
  }

  function close(): Promise<void> {
    if (closePromise) return closePromise;
    state = 'closing';
    closePromise = (async () => {
      for (const u of unsubscribers.splice(0)) u();
      const certClosed = ownedCert?.close();
      if (server.listening) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // A keep-alive socket finishing its last request becomes idle: close it right away.
        const onFinish = () => setImmediate(() => server.closeIdleConnections());
        const onRequest = (_req: unknown, res: NodeJS.EventEmitter) => res.once('finish', onFinish);
        server.on('request', onRequest);
        const force = setTimeout(() => server.closeAllConnections(), shutdownTimeout);
        force.unref();
        const idle = setInterval(() => server.closeIdleConnections(), 100);
        idle.unref();
        await closed;
        clearTimeout(force);
        clearInterval(idle);
        server.off('request', onRequest);
      }
      await certClosed;
      state = 'closed';
    })();
    return closePromise;
  }

  return {
    server,
    get port() {
      return port;
    },
    get url() {
      const host = bindAddress === '0.0.0.0' || bindAddress === '::' ? 'localhost' : bindAddress;
      return `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    },
    get selfSignedCaPem() {
      return selfSignedCaPem;
    },
    listen,
    reloadServingCertificate,
    close,
  };
}
