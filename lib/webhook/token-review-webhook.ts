import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { HttpResponse } from '../http/status.js';
import { noopLogger, type Logger } from '../log.js';
import {
  badRequest,
  defaultMaxBodyBytes,
  disconnectSignal,
  internalErrorResponse,
  isExtra,
  isRecord,
  isStringArray,
  readJsonReview,
  reviewResponse,
  runCallback,
} from './review-io.js';

export { TransientError } from './transient-error.js';

/** The TokenReview versions kube-apiserver sends (`--authentication-token-webhook-version`, v1beta1 before 1.21). */
export const tokenReviewApiVersions = ['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1'] as const;
export type TokenReviewApiVersion = (typeof tokenReviewApiVersions)[number];

/** `status.user` of a TokenReview. */
export interface TokenReviewUser {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/**
 * What `verify` answers. `authenticated:false` is a normal answer (HTTP 200); `error` is shown to kube-apiserver,
 * which logs it, so it must not contain secrets.
 */
export type VerifyResult =
  | { readonly authenticated: true; readonly user: TokenReviewUser; readonly audiences?: readonly string[] }
  | { readonly authenticated: false; readonly error?: string };

/**
 * Decides about one token. `audiences` is `spec.audiences` ([] when absent). Throw `TransientError` for "retry later";
 * any other throw is answered with 500 and logged.
 */
export type VerifyToken = (token: string, audiences: readonly string[], signal: AbortSignal) => Promise<VerifyResult>;

export interface TokenReviewWebhookOptions {
  /** The decision function. Required. */
  readonly verify: VerifyToken;
  /** Largest accepted request body, in bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Default: the silent library logger. Tokens are never logged, only a short SHA-256 fingerprint. */
  readonly logger?: Logger;
}

export interface ReviewWebhook {
  /** Reads and answers one request; never throws for bad input (only for a failing request stream). */
  handle(req: IncomingMessage): Promise<HttpResponse>;
}

/** A short, non-reversible token fingerprint for correlating log lines. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}

/**
 * The server side of `--authentication-token-webhook-config-file`: answers TokenReview POSTs. A "no" is HTTP 200 with
 * `status.authenticated:false` (kube-apiserver treats 401/403 from a webhook as an outage); malformed input is 400,
 * oversized 413, transient failure 429/503 with Retry-After, a throwing `verify` 500.
 */
export function tokenReviewWebhook(options: TokenReviewWebhookOptions): ReviewWebhook {
  const { verify, maxBodyBytes = defaultMaxBodyBytes, logger = noopLogger } = options;
  if (typeof verify !== 'function') throw new TypeError('verify must be a function');
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new TypeError('"maxBodyBytes" option must be a positive integer');
  }

  return {
    async handle(req) {
      const read = await readJsonReview(req, maxBodyBytes);
      if (!read.ok) {
        logger.info({ status: read.response.status, method: req.method }, 'TokenReview request refused');
        return read.response;
      }
      const parsed = parseTokenReview(read.value);
      if (typeof parsed === 'string') {
        logger.info({ problem: parsed }, 'malformed TokenReview');
        return badRequest(parsed);
      }
      const { apiVersion, token, audiences } = parsed;
      const fields = { apiVersion, token: tokenFingerprint(token) };
      const gone = disconnectSignal(req);
      let outcome;
      try {
        outcome = await runCallback(logger, 'token verification', fields, () => verify(token, audiences, gone.signal));
      } finally {
        gone.dispose();
      }
      if (!outcome.ok) return outcome.response;
      const result = outcome.value;
      const status = buildStatus(result);
      if (typeof status === 'string') {
        logger.error({ ...fields, problem: status }, 'verify returned an invalid result; answering 500');
        return internalErrorResponse('token verification returned an invalid result');
      }
      if (status.authenticated) {
        logger.debug({ ...fields, user: (status.user as TokenReviewUser).username }, 'token authenticated');
      } else {
        logger.info({ ...fields, reason: status.error ?? '' }, 'token not authenticated');
      }
      return reviewResponse({
        apiVersion,
        kind: 'TokenReview',
        metadata: { creationTimestamp: null },
        spec: {},
        status,
      });
    },
  };
}

interface ParsedTokenReview {
  readonly apiVersion: TokenReviewApiVersion;
  readonly token: string;
  readonly audiences: readonly string[];
}

function parseTokenReview(v: unknown): ParsedTokenReview | string {
  if (!isRecord(v)) return 'request body must be a JSON object';
  if (v.kind !== 'TokenReview') return `kind must be "TokenReview", got ${JSON.stringify(v.kind ?? null)}`;
  const apiVersion = v.apiVersion;
  if (!tokenReviewApiVersions.includes(apiVersion as TokenReviewApiVersion)) {
    return `apiVersion must be one of ${tokenReviewApiVersions.join(', ')}, got ${JSON.stringify(apiVersion ?? null)}`;
  }
  const spec = v.spec;
  if (!isRecord(spec)) return 'spec is required';
  if (typeof spec.token !== 'string' || spec.token === '') return 'spec.token is required';
  const audiences = spec.audiences ?? [];
  if (!isStringArray(audiences)) return 'spec.audiences must be an array of strings';
  return { apiVersion: apiVersion as TokenReviewApiVersion, token: spec.token, audiences };
}

/** Builds `status`, or names what is wrong with the callback's result (a programming error → 500). */
function buildStatus(r: unknown): Record<string, unknown> | string {
  if (!isRecord(r)) return 'result is not an object';
  if (r.authenticated === false) {
    if (r.error !== undefined && typeof r.error !== 'string') return 'error must be a string';
    return r.error ? { authenticated: false, error: r.error } : { authenticated: false };
  }
  if (r.authenticated !== true) return 'authenticated must be a boolean';
  const u = r.user;
  if (!isRecord(u)) return 'user is required when authenticated';
  if (typeof u.username !== 'string' || u.username === '') return 'user.username must be a non-empty string';
  if (u.uid !== undefined && typeof u.uid !== 'string') return 'user.uid must be a string';
  if (u.groups !== undefined && !isStringArray(u.groups)) return 'user.groups must be an array of strings';
  if (u.extra !== undefined && !isExtra(u.extra)) return 'user.extra must map strings to string arrays';
  if (r.audiences !== undefined && !isStringArray(r.audiences)) return 'audiences must be an array of strings';
  const user: Record<string, unknown> = { username: u.username };
  if (u.uid) user.uid = u.uid;
  if (u.groups && u.groups.length > 0) user.groups = [...u.groups];
  if (u.extra && Object.keys(u.extra).length > 0) user.extra = u.extra;
  const status: Record<string, unknown> = { authenticated: true, user };
  if (r.audiences && r.audiences.length > 0) status.audiences = [...r.audiences];
  return status;
}
