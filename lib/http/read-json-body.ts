// The one reader of JSON request bodies (review §3.2 D5): the webhook's review bodies and an extension apiserver's
// objects, with Go's answers for what k8s.io/apiserver refuses before decoding: 415 for a media type it does not
// accept, 413 past the size limit (`limitedReadBody`), 400 for a body it cannot decode.
import type { IncomingMessage } from 'node:http';

/** How `readJsonBody` reads one request body. */
export interface ReadJsonBodyOptions {
  /** Most bytes accepted; a larger declared (`Content-Length`) or actual body is answered 413. */
  readonly limit: number;
  /** Accepted media types, compared without parameters and case-insensitively. Default `['application/json']`. */
  readonly mediaTypes?: readonly string[];
  /** Read a request without `Content-Type` as JSON (a plain create may omit it; a patch may not). Default false. */
  readonly allowMissingContentType?: boolean;
  /** An empty (or all-whitespace) body reads as `undefined` instead of a 400. Default false. */
  readonly allowEmpty?: boolean;
  /** Deepest `{`/`[` nesting accepted, checked before parsing. Default 10000 (Go's encoding/json limit). */
  readonly maxDepth?: number;
  /** Only a JSON object is accepted at the top level (a Kubernetes object or review always is). Default true. */
  readonly requireObject?: boolean;
}

/** Why a body was refused: a metav1 Status the caller writes with its Status builder. */
export interface JsonBodyFailure {
  readonly status: 400 | 413 | 415 | 500;
  readonly reason: 'BadRequest' | 'RequestEntityTooLarge' | 'UnsupportedMediaType' | 'InternalError';
  readonly message: string;
  /**
   * The rest of the body was not read: answer with `Connection: close` so the unread bytes are never parsed as the
   * next request (the reader keeps draining them until the connection closes).
   */
  readonly closeConnection: boolean;
}

export type JsonBodyResult =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly failure: JsonBodyFailure };

const refuse = (
  status: JsonBodyFailure['status'],
  reason: JsonBodyFailure['reason'],
  message: string,
  closeConnection = false,
): { readonly ok: false; readonly failure: JsonBodyFailure } => ({
  ok: false,
  failure: { status, reason, message, closeConnection },
});

/** The media type of a `Content-Type` header without its parameters, lower case; '' when absent. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** The maximum `{`/`[` nesting of JSON text, ignoring brackets inside strings (linear, no parse). */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** How `readRequestBody` reads one request body: {@link ReadJsonBodyOptions}' reading part. */
export type ReadRequestBodyOptions = Pick<ReadJsonBodyOptions, 'limit' | 'mediaTypes' | 'allowMissingContentType'>;

export type RequestBodyResult =
  | { readonly ok: true; readonly text: string; readonly mediaType: string }
  | { readonly ok: false; readonly failure: JsonBodyFailure };

/**
 * Reads a request body as text, refusing what k8s.io/apiserver refuses before decoding: 415 for a media type not in
 * `mediaTypes`, 413 past `limit` (declared or actual), 500 when a body parser already consumed the stream. For bodies
 * that are not JSON (an `application/apply-patch+yaml` apply configuration); `readJsonBody` reads JSON with it.
 * `mediaType` is the Content-Type without parameters ('' when absent and `allowMissingContentType`).
 */
export async function readRequestBody(
  req: IncomingMessage,
  options: ReadRequestBodyOptions,
): Promise<RequestBodyResult> {
  const { limit, allowMissingContentType = false } = options;
  const mediaTypes = options.mediaTypes ?? ['application/json'];
  const type = mediaTypeOf(req.headers['content-type']);
  if (!(type === '' && allowMissingContentType) && !mediaTypes.includes(type)) {
    req.resume();
    return refuse(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${mediaTypes.join(', ')}`,
    );
  }
  const tooLarge = () => refuse(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`, true);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    return tooLarge();
  }
  if (req.readableEnded) {
    return refuse(500, 'InternalError', 'the request body was already consumed before this handler ran');
  }
  const raw = await new Promise<Buffer | undefined | Error>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (chunk: Buffer): void => {
      if (over) return; // draining: the 413 goes out with Connection: close
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.once('error', resolve);
  });
  if (raw === undefined) return tooLarge();
  if (raw instanceof Error) return refuse(400, 'BadRequest', `the request body could not be read: ${raw.message}`);
  return { ok: true, text: raw.toString('utf8'), mediaType: type };
}

/**
 * Reads and parses a JSON request body from any node:http request (Koa's `ctx.req`, Express, Fastify's `request.raw`),
 * refusing what k8s.io/apiserver refuses, with its messages: 415 `the body of the request was in an unknown format -
 * accepted media types include: …`, 413 `Request entity too large: limit is N` (declared or actual size), 400 for an
 * empty, too deeply nested, non-object or undecodable body, 500 when a body parser already consumed the stream (the raw
 * bytes are gone, and re-serialising a parsed object would hide bad input). Never rejects for client input.
 */
export async function readJsonBody(req: IncomingMessage, options: ReadJsonBodyOptions): Promise<JsonBodyResult> {
  const { allowEmpty = false, maxDepth = 10_000 } = options;
  const read = await readRequestBody(req, options);
  if (!read.ok) return read;
  const { text } = read;
  if (text.trim() === '') {
    return allowEmpty ? { ok: true, value: undefined } : refuse(400, 'BadRequest', 'the request body is empty');
  }
  if (jsonNestingDepth(text) > maxDepth) {
    return refuse(400, 'BadRequest', `the request body nests deeper than ${maxDepth} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return refuse(400, 'BadRequest', `the request body is invalid JSON: ${(err as Error).message}`);
  }
  if ((options.requireObject ?? true) && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    return refuse(400, 'BadRequest', 'the request body must be a JSON object');
  }
  return { ok: true, value };
}
