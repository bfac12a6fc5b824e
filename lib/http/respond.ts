import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpResponse } from './status.js';

/**
 * The one node:http writer of lib/http responses (node:http, Express, Fastify and the webhook router use it; Koa's
 * writer is lib/koa/respond.ts, which shares {@link refusalMustClose}).
 */

/**
 * Go's net/http discards at most 256 KiB of a body the handler did not read, then closes the connection rather than
 * read more (`maxPostHandlerReadBytes`). Node would read any unread body to the end to keep the connection.
 */
export const maxDiscardedBodyBytes = 256 * 1024;

/**
 * True when a refused request still has a body that is chunked, of unknown length or above
 * {@link maxDiscardedBodyBytes}: the refusal is then sent with `Connection: close`, so the server never reads the
 * rest (an anonymous 20 MB upload costs the server the bytes already in flight, not 20 MB). A small declared body
 * is discarded by Node as Go discards it, and the keep-alive connection survives.
 */
export function refusalMustClose(req: IncomingMessage | undefined): boolean {
  if (!req || req.complete) return false;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  if (length === undefined) return false;
  const n = Number(length);
  return !(Number.isSafeInteger(n) && n <= maxDiscardedBodyBytes);
}

/**
 * Writes a response with the plain node:http API (no framework defaults such as ETag or charset). After the
 * headers went out it only ends the response: a second status line is never written.
 */
export function writeNodeResponse(res: ServerResponse, response: HttpResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = response.status;
  for (const k in response.headers) res.setHeader(k, response.headers[k]!);
  if (response.status >= 400 && refusalMustClose(res.req)) res.setHeader('connection', 'close');
  res.setHeader('content-length', Buffer.byteLength(response.body));
  res.end(response.body);
}
