import type { Logger } from '../log.js';
import { refusalLogFor } from '../util/refusal-log.js';
import { panicResponse, statusResponseOf, type HttpResponse } from './status.js';

/** A refusal to write verbatim; `closeConnection` asks for `Connection: close` (Go's 400 for a malformed path). */
export interface PipelineRefusal {
  readonly ok: false;
  readonly response: HttpResponse;
  readonly closeConnection?: boolean;
}

/**
 * An exception or rejection from our own steps or the callbacks they run (authenticator, authorizer, attribute
 * hooks): a bug, never a decision. Answered like Go's WithPanicRecovery (a fixed 500 text, nothing of the error in
 * the body) and logged at error with the message and stack, so the cause is in the log only.
 */
export function unexpectedError(
  logger: Logger,
  step: string,
  err: unknown,
  method: string,
  uri: string,
): PipelineRefusal {
  const error = err instanceof Error ? err.message : String(err);
  const fields: Record<string, unknown> = { step, method, uri, error };
  if (err instanceof Error && err.stack) fields.stack = err.stack;
  refusalLogFor(logger).log('error', 'unexpected-error', step, fields, `${step} failed unexpectedly: ${error}`);
  return { ok: false, response: panicResponse };
}

/**
 * What a framework error handler answers for an error a route threw: a `KubeStatusError` as built, a client error
 * with a 4xx `status`/`statusCode` (http-errors, body parsers, validation) as a `Status` with its message (logged at
 * info; a `KubeStatusError` of 5xx at error), anything else as Go's panic text with the message and stack in the log
 * only. Never HTML, never a stack in the body.
 */
export function routeErrorResponse(logger: Logger, err: unknown, method: string, uri: string): HttpResponse {
  const response = statusResponseOf(err);
  if (!response) return unexpectedError(logger, 'route handler', err, method, uri).response;
  const message = (err as Error).message;
  refusalLogFor(logger).log(
    response.status >= 500 ? 'error' : 'info',
    'route',
    String(response.status),
    { method, uri, code: response.status, error: message },
    `request failed: ${message}`,
  );
  return response;
}
