// A fake kube-apiserver at the network boundary (real HTTPS on 127.0.0.1:0, real certificates) for the conditions a
// real apiserver cannot produce on demand: 5xx bursts, 429 + Retry-After, hangs, garbage bodies, cut watches.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ConnectionConfig } from '../../lib/cluster/kubeconfig.js';
import { testPki } from '../support/pki.js';
import { startTlsServer } from '../support/tls-server.js';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
  /** CN of the client certificate, '' when none. */
  readonly peerCN: string;
  readonly raw: IncomingMessage;
}

export type FakeHandler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export interface FakeApiserver {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** TLS connections accepted so far. */
  connections(): number;
  /** Replaces the handler. */
  handle(handler: FakeHandler): void;
  /** A ConnectionConfig trusting this server's CA. */
  connection(extra?: Partial<ConnectionConfig>): ConnectionConfig;
  close(): Promise<void>;
}

export async function startFakeApiserver(handler: FakeHandler = notFound): Promise<FakeApiserver> {
  let current = handler;
  const requests: RecordedRequest[] = [];
  let conns = 0;
  const srv = await startTlsServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // keep text
      }
      const url = new URL(req.url ?? '/', 'https://fake');
      const peer = (req.socket as TLSSocket).getPeerCertificate?.();
      const r: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        peerCN: peer && 'subject' in peer && peer.subject ? String(peer.subject.CN ?? '') : '',
        raw: req,
      };
      requests.push(r);
      Promise.resolve(current(r, res)).catch((err: unknown) => {
        res.destroy(err as Error);
      });
    });
  });
  srv.server.on('secureConnection', () => conns++);
  return {
    url: srv.url,
    requests,
    connections: () => conns,
    handle(h) {
      current = h;
    },
    connection(extra = {}) {
      return {
        server: srv.url,
        ca: testPki().servingCA.certPem,
        insecureSkipTlsVerify: false,
        source: 'test',
        ...extra,
      };
    },
    close: () => srv.close(),
  };
}

export function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function status(code: number, reason: string, message: string, details?: object): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details && { details }),
    code,
  };
}

function notFound(_req: RecordedRequest, res: ServerResponse): void {
  sendJson(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
}
