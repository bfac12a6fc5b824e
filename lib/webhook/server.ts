import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { HttpResponse } from '../http/status.js';
import { noopLogger, type Logger } from '../log.js';
import type { IdentityMappingStatus } from '../mapping/identity-mapping.js';
import { internalErrorResponse, statusResponse } from './review-io.js';
import type { ReviewWebhook } from './token-review-webhook.js';

export interface WebhookServerOptions {
  /** Serving certificate chain (PEM). Required. */
  readonly cert: string | Buffer;
  /** Serving private key (PEM). Required. */
  readonly key: string | Buffer;
  /**
   * CA bundle (PEM) for client certificates. When set, every request must present a certificate it verifies (give
   * kube-apiserver one through `users[].user.client-certificate` in its webhook kubeconfig). Default: no client auth.
   */
  readonly clientCa?: string | Buffer;
  /** Answers `POST /authenticate`. Absent: 404. */
  readonly tokenReview?: ReviewWebhook;
  /** Answers `POST /authorize`. Absent: 404. */
  readonly subjectAccessReview?: ReviewWebhook;
  /** Shown by `/readyz`; not ready until loaded. */
  readonly mapping?: { status(): IdentityMappingStatus };
  /** Grace period in ms for in-flight requests on close(), after which connections are cut. Default 5000. */
  readonly shutdownTimeoutMs?: number;
  /** Default: the silent library logger. */
  readonly logger?: Logger;
}

function write(res: ServerResponse, r: HttpResponse): void {
  res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
  res.end(r.body);
}

/**
 * The HTTPS server for `kube-delegated-auth webhook`: `POST /authenticate` (TokenReview), `POST /authorize`
 * (SubjectAccessReview), `GET /healthz`, `GET /readyz` (identity mapping status). The constructor does no I/O.
 */
export class WebhookServer {
  readonly #server: Server;
  readonly #opts: WebhookServerOptions;
  readonly #logger: Logger;
  #closing: Promise<void> | undefined;

  constructor(options: WebhookServerOptions) {
    if (!options.cert || !options.key) throw new TypeError('"cert" and "key" options are required');
    this.#opts = options;
    this.#logger = options.logger ?? noopLogger;
    this.#server = createServer({
      cert: options.cert,
      key: options.key,
      ...(options.clientCa
        ? // rejectUnauthorized:false keeps the precise verification error for the log (a TLS-level reject is a bare reset).
          { ca: options.clientCa, requestCert: true, rejectUnauthorized: false }
        : {}),
    });
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#route(req).then(
        (r) => write(res, r),
        (err: unknown) => {
          this.#logger.error({ err, url: req.url }, 'webhook request failed');
          if (!res.headersSent) write(res, internalErrorResponse('request failed'));
          else res.destroy();
        },
      );
    });
  }

  /** The underlying node:https server (for tests and extra listeners). */
  get server(): Server {
    return this.#server;
  }

  async #route(req: IncomingMessage): Promise<HttpResponse> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (this.#opts.clientCa) {
      const socket = req.socket as TLSSocket;
      if (!socket.authorized) {
        req.resume();
        this.#logger.warn(
          { url: req.url, reason: String(socket.authorizationError ?? 'no client certificate') },
          'webhook client certificate refused',
        );
        return statusResponse(401, 'Unauthorized', 'Unauthorized');
      }
    }
    if (path === '/authenticate' && this.#opts.tokenReview) return this.#opts.tokenReview.handle(req);
    if (path === '/authorize' && this.#opts.subjectAccessReview) return this.#opts.subjectAccessReview.handle(req);
    req.resume();
    if (path === '/healthz' || path === '/livez')
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' };
    if (path === '/readyz') {
      const status = this.#opts.mapping?.status();
      const ready = !status || status.loaded;
      return {
        status: ready ? 200 : 503,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ready, ...(status ? { mapping: status } : {}) }) + '\n',
      };
    }
    return statusResponse(404, 'NotFound', 'the server could not find the requested resource');
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting, lets in-flight reviews finish (up to `shutdownTimeoutMs`), then cuts connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      const timer = setTimeout(() => this.#server.closeAllConnections(), this.#opts.shutdownTimeoutMs ?? 5000);
      timer.unref();
      this.#server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
    return this.#closing;
  }
}
