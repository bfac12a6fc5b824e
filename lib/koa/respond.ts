import type { IncomingMessage } from 'node:http';
import { refusalMustClose } from '../http/respond.js';
import type { HttpResponse } from '../http/status.js';

/**
 * Writes a lib/http response on a Koa context (headers first, so Koa keeps our Content-Type). A refusal of a request
 * whose large or chunked body is unread closes the connection instead of reading it (see `refusalMustClose`).
 */
export function writeResponse(
  ctx: { set(field: string, value: string): void; status: number; body: unknown; req?: IncomingMessage },
  res: HttpResponse,
): void {
  for (const k in res.headers) ctx.set(k, res.headers[k]!);
  if (res.status >= 400 && refusalMustClose(ctx.req)) ctx.set('connection', 'close');
  ctx.status = res.status;
  ctx.body = res.body;
}
