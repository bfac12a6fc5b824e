import type { IncomingMessage } from 'node:http';
import { readJsonBody } from '../http/read-json-body.js';
import { statusFailure, type HttpResponse } from '../http/status.js';
import type { Logger } from '../log.js';
import { TransientError } from './transient-error.js';

/** Default body limit: a TokenReview or SubjectAccessReview is a few KiB; 1 MiB leaves room for huge group lists. */
export const defaultMaxBodyBytes = 1024 * 1024;

const jsonHeaders = Object.freeze({ 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });

/**
 * A metav1.Status failure body (lib/http/status's builder) with `nosniff`, as Go's serializer sends it;
 * `opts.headers` for Allow, Retry-After, Connection.
 */
export function statusResponse(
  code: number,
  reason: string,
  message: string,
  opts: { details?: Record<string, unknown>; headers?: Record<string, string> } = {},
): HttpResponse {
  return statusFailure(
    code,
    reason,
    message,
    opts.details,
    opts.headers ? { ...jsonHeaders, ...opts.headers } : jsonHeaders,
  );
}

/** A 200 review answer. */
export function reviewResponse(review: object): HttpResponse {
  return { status: 200, headers: jsonHeaders, body: JSON.stringify(review) + '\n' };
}

/**
 * 429/503 with Retry-After, and `details.retryAfterSeconds` so kube-apiserver's DefaultShouldRetry backs off and retries
 * a 503 too (it retries a bare 503 only when the Status suggests a delay).
 */
export function transientResponse(err: TransientError): HttpResponse {
  const tooMany = err.statusCode === 429;
  return statusResponse(err.statusCode, tooMany ? 'TooManyRequests' : 'ServiceUnavailable', err.message, {
    details: { retryAfterSeconds: err.retryAfterS },
    headers: { 'retry-after': String(err.retryAfterS) },
  });
}

export function internalErrorResponse(message: string): HttpResponse {
  return statusResponse(500, 'InternalError', `Internal error occurred: ${message}`);
}

export type ReadResult =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly response: HttpResponse };

const fail = (response: HttpResponse): ReadResult => ({ ok: false, response });

/**
 * Checks the method, then reads the body with the library's one JSON body reader (lib/http/read-json-body: 415, 413
 * with the connection marked for closing, 400, or 500 when a body parser consumed the stream first).
 */
export async function readJsonReview(req: IncomingMessage, maxBodyBytes: number): Promise<ReadResult> {
  if (req.method !== 'POST') {
    req.resume();
    return fail(
      statusResponse(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, {
        headers: { allow: 'POST' },
      }),
    );
  }
  // Not requireObject: the review decoders answer a non-object body with their own, more specific message.
  const read = await readJsonBody(req, { limit: maxBodyBytes, requireObject: false });
  if (read.ok) return read;
  const { status, reason, message, closeConnection } = read.failure;
  if (status === 500) return fail(internalErrorResponse(message));
  return fail(statusResponse(status, reason, message, closeConnection ? { headers: { connection: 'close' } } : {}));
}

export function badRequest(message: string): HttpResponse {
  return statusResponse(400, 'BadRequest', message);
}

/** Aborts when the client goes away, so a slow backend call is not finished for nobody. */
export function disconnectSignal(req: IncomingMessage): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const socket = req.socket;
  const onClose = () => controller.abort(new Error('client disconnected'));
  socket.once('close', onClose);
  return { signal: controller.signal, dispose: () => socket.off('close', onClose) };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Validates a `map[string][]string` (user extra). */
export function isExtra(v: unknown): v is Record<string, string[]> {
  return isRecord(v) && Object.values(v).every(isStringArray);
}

/**
 * Runs the caller's callback and maps throws: TransientError → 429/503, anything else → 500 (logged; never a verdict).
 */
export async function runCallback<T>(
  logger: Logger,
  what: string,
  fields: object,
  fn: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; response: HttpResponse }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof TransientError) {
      logger.warn(
        { ...fields, err: err.message, retryAfterS: err.retryAfterS, status: err.statusCode },
        `${what} failed transiently; asking the caller to retry`,
      );
      return { ok: false, response: transientResponse(err) };
    }
    logger.error({ ...fields, err }, `${what} threw; answering 500`);
    return { ok: false, response: internalErrorResponse(`${what} failed`) };
  }
}
