import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { KdaError } from '../errors.js';
import { writeNodeResponse } from '../http/respond.js';
import type { HttpResponse } from '../http/status.js';
import { noopLogger, type Logger } from '../log.js';
import type { IdentityMappingStatus } from '../mapping/identity-mapping.js';
import { createSecureServer, type SecureServer } from '../server/secure-server.js';
import type { CABundleProvider, CertKeyProvider } from '../trust/interfaces.js';
import { staticCertKeyPair } from '../trust/serving-cert.js';
import { staticCABundle } from '../trust/static.js';
import { internalErrorResponse, statusResponse } from './review-io.js';
import type { ReviewWebhook } from './token-review-webhook.js';

export interface WebhookRouterOptions {
  /**
   * When true, every request must present a client certificate that the server's client CA verifies (the
   * acceptable-CA hint of the secure server); others get 401 and a log line with the exact cause.
   */
  readonly requireClientCertificate?: boolean;
  /** Answers `POST /authenticate`. Absent: 404. */
  readonly tokenReview?: ReviewWebhook;
  /** Answers `POST /authorize`. Absent: 404. */
  readonly subjectAccessReview?: ReviewWebhook;
  /** Checked by `/readyz`; not ready until loaded. */
  readonly mapping?: { status(): IdentityMappingStatus };
  readonly logger?: Logger;
}

/**
 * The webhook's routes as a request listener for {@link createSecureServer}: `POST /authenticate` (TokenReview),
 * `POST /authorize` (SubjectAccessReview), `GET /healthz` and `/livez`, `GET /readyz`.
 *
 * `/readyz` answers anyone, so, like Go's healthz handlers (and the sample's), its body names the checks only: no
 * mapping source (a file path or ConfigMap) and no error text; those go to the log.
 */
export function webhookRouter(options: WebhookRouterOptions): RequestListener {
  const logger = options.logger ?? noopLogger;
  const route = async (req: IncomingMessage): Promise<HttpResponse> => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (options.requireClientCertificate) {
      const socket = req.socket as TLSSocket;
      if (!socket.authorized) {
        req.resume();
        logger.warn(
          { url: req.url, reason: String(socket.authorizationError ?? 'no client certificate') },
          'webhook client certificate refused',
        );
        return statusResponse(401, 'Unauthorized', 'Unauthorized');
      }
    }
    if (path === '/authenticate' && options.tokenReview) return options.tokenReview.handle(req);
    if (path === '/authorize' && options.subjectAccessReview) return options.subjectAccessReview.handle(req);
    req.resume();
    if (path === '/healthz' || path === '/livez')
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' };
    if (path === '/readyz') return readyz(options.mapping?.status(), logger);
    return statusResponse(404, 'NotFound', 'the server could not find the requested resource');
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    route(req).then(
      (r) => writeNodeResponse(res, r),
      (err: unknown) => {
        logger.error({ err, url: req.url }, 'webhook request failed');
        if (!res.headersSent) writeNodeResponse(res, internalErrorResponse('request failed'));
        else res.destroy();
      },
    );
  };
}

function readyz(status: IdentityMappingStatus | undefined, logger: Logger): HttpResponse {
  const ready = !status || status.loaded;
  if (status && (!status.loaded || status.lastError !== undefined)) {
    // The details are for the operator, never for the unauthenticated caller.
    logger.warn(
      { check: 'identity-mapping', source: status.source, loaded: status.loaded, lastError: status.lastError },
      ready ? 'readyz: identity mapping serves its last good copy' : 'readyz check failed: identity-mapping',
    );
  }
  return {
    status: ready ? 200 : 503,
    headers: { 'content-type': 'application/json' },
    body:
      JSON.stringify({
        ready,
        ...(status ? { checks: { 'identity-mapping': status.loaded ? 'ok' : 'failed' } } : {}),
      }) + '\n',
  };
}

export interface WebhookServerOptions extends Omit<WebhookRouterOptions, 'requireClientCertificate'> {
  /** Serving certificate chain (PEM). Required unless `servingCert` is given. */
  readonly cert?: string | Buffer;
  /** Serving private key (PEM). Required together with `cert`. */
  readonly key?: string | Buffer;
  /** The serving certificate as a provider (e.g. `fileCertKeyPair()`, reloaded on rotation); instead of cert/key. */
  readonly servingCert?: CertKeyProvider;
  /**
   * CA bundle (PEM) for client certificates. When set, every request must present a certificate it verifies (give
   * kube-apiserver one through `users[].user.client-certificate` in its webhook kubeconfig). Default: no client auth.
   */
  readonly clientCa?: string | Buffer;
  /** Grace period in ms for in-flight requests on close(), after which connections are cut. Default 5000. */
  readonly shutdownTimeoutMs?: number;
}

/**
 * The HTTPS server for `kube-delegated-auth webhook`: {@link webhookRouter} served by {@link createSecureServer}
 * (so the same TLS settings, Go connection limits and graceful close as the extension apiserver). The constructor
 * does no I/O.
 */
export class WebhookServer {
  readonly #opts: WebhookServerOptions;
  readonly #servingCert: CertKeyProvider;
  readonly #clientCA: CABundleProvider | undefined;
  readonly #handler: RequestListener;
  #secure: SecureServer | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: WebhookServerOptions) {
    if (!options.servingCert && (!options.cert || !options.key)) {
      throw new TypeError('"cert" and "key" options (or "servingCert") are required');
    }
    this.#opts = options;
    this.#servingCert = options.servingCert ?? staticCertKeyPair(options.cert!, options.key!, 'webhook-serving-cert');
    this.#clientCA = options.clientCa ? staticCABundle(options.clientCa, 'webhook-client-ca') : undefined;
    this.#handler = webhookRouter({ ...options, requireClientCertificate: this.#clientCA !== undefined });
  }

  /** The underlying node:https server (for tests and extra listeners); available once listen() was called. */
  get server(): HttpsServer {
    if (!this.#secure) throw new KdaError('ERR_KDA_CLOSED', 'the webhook server is not listening yet');
    return this.#secure.server;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). Once. */
  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    if (this.#secure || this.#closing)
      throw new KdaError('ERR_KDA_CLOSED', 'listen() can be called once, before close()');
    this.#secure = createSecureServer({
      handler: this.#handler,
      servingCert: this.#servingCert,
      ...(this.#clientCA ? { clientCA: this.#clientCA } : {}),
      securePort: port,
      bindAddress: host,
      shutdownTimeout: this.#opts.shutdownTimeoutMs ?? 5000,
      logger: this.#opts.logger ?? noopLogger,
    });
    await this.#secure.listen();
    return (this.#secure.server as Server).address() as AddressInfo;
  }

  /** Stops accepting, lets in-flight reviews finish (up to `shutdownTimeoutMs`), then cuts connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#secure?.close() ?? Promise.resolve();
    return this.#closing;
  }
}
