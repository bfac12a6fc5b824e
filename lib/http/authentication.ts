import type { IncomingMessage } from 'node:http';
import { newDelegatingAuthenticator, type DelegatingAuthenticatorOptions } from '../authn/delegating.js';
import type { AuthenticationResult, AuthnRequest, RequestAuthenticator, UserInfo } from '../authn/interfaces.js';
import { authenticationChannel, type AuthenticationEvent } from '../diagnostics.js';
import type { KdaErrorDetails } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import type { RequestHeaderConfigProvider } from '../trust/interfaces.js';
import { refusalLogFor, type RefusalLogLimit } from '../util/refusal-log.js';
import { stripIdentityHeaders, toAuthnRequest } from './request.js';
import { unauthorized } from './status.js';
import { unexpectedError, type PipelineRefusal } from './unexpected-error.js';

/** Go's WithAuthentication for every adapter: authenticate, publish, strip the identity headers, or the 401. */

/** What authentication yields (the same fields Koa's `ctx.state` gets). */
export interface AuthenticatedIdentity {
  readonly user: UserInfo;
  /** Which authenticator accepted the request: `requestheader`, `x509`, `tokenreview`, `anonymous`, ... */
  readonly authenticator: string;
  /** Audiences the token was valid for, when a token authenticator reports them. */
  readonly audiences?: readonly string[];
}

export interface AuthenticationStepOptions extends DelegatingAuthenticatorOptions {
  /**
   * A ready authenticator; when set, `requestHeader.caProvider`, `clientCA`, `tokenAuthenticator`, `anonymous` and
   * `apiAudiences` are not used (only `requestHeader.configProvider`, for header stripping).
   */
  readonly authenticator?: RequestAuthenticator;
  /** Where refusals are logged (warn with the cause; no credentials at debug). Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
  /**
   * Rate limit of refusal lines per cause on `logger` (shared by every middleware logging there); suppressed lines
   * are summarised and counted (`kube_delegated_auth_suppressed_log_lines_total`). Default 10 lines per cause per 10 s.
   */
  readonly refusalLogLimit?: RefusalLogLimit;
}

/** What {@link authenticationStep} decides: the identity, or the refusal to write. */
export type AuthenticationStepResult =
  { readonly ok: true; readonly identity: AuthenticatedIdentity } | PipelineRefusal;

/**
 * A bound WithAuthentication step: validates the options once (no I/O), then runs per request. Returns the outcome
 * itself, not a promise, when the authenticator answers at once (`authenticateRequestSync`: a front-proxy or client
 * certificate, a cached token), so adapters can skip an await on that path; otherwise a promise of it.
 */
export function authenticationStep(
  options: AuthenticationStepOptions = {},
): (
  req: IncomingMessage,
  path?: string | (() => string),
) => AuthenticationStepResult | Promise<AuthenticationStepResult> {
  const authenticator = options.authenticator ?? newDelegatingAuthenticator(options);
  if (typeof authenticator.authenticateRequest !== 'function') {
    throw new TypeError('"authenticator" must implement authenticateRequest');
  }
  const configProvider: RequestHeaderConfigProvider | undefined = options.requestHeader?.configProvider;
  const logger = options.logger ?? noopLogger;
  if (options.refusalLogLimit !== undefined) refusalLogFor(logger, options.refusalLogLimit);
  return authenticate;

  function authenticate(
    req: IncomingMessage,
    // The path for the refusal log line; a function is only called for a refusal (Koa's ctx.path parses the URL).
    path?: string | (() => string),
  ): AuthenticationStepResult | Promise<AuthenticationStepResult> {
    // Anything that throws (the authenticator, a malformed result, a subscriber, a header-stripping bug) is answered
    // the same way, on either path: a 500 with the cause in the log, never a rejection.
    let view: AuthnRequest;
    let started: number;
    let immediate: AuthenticationResult | undefined;
    try {
      view = toAuthnRequest(req);
      started = performance.now();
      immediate = authenticator.authenticateRequestSync?.(view);
    } catch (err) {
      return unexpectedError(logger, 'authentication', err, req.method ?? 'GET', req.url ?? '/');
    }
    if (immediate !== undefined) return conclude(req, path, view, started, immediate);
    return authenticateAsync(req, path, view, started);
  }

  async function authenticateAsync(
    req: IncomingMessage,
    path: string | (() => string) | undefined,
    view: AuthnRequest,
    started: number,
  ): Promise<AuthenticationStepResult> {
    let result: AuthenticationResult;
    try {
      result = await authenticator.authenticateRequest(view);
    } catch (err) {
      return unexpectedError(logger, 'authentication', err, req.method ?? 'GET', req.url ?? '/');
    }
    return conclude(req, path, view, started, result);
  }

  /** The authenticator's answer as the step's: published, logged when refused, identity headers stripped when not. */
  function conclude(
    req: IncomingMessage,
    path: string | (() => string) | undefined,
    view: AuthnRequest,
    started: number,
    result: AuthenticationResult,
  ): AuthenticationStepResult {
    try {
      if (typeof result !== 'object' || result === null) throw new TypeError('authenticator returned no result');
      if (authenticationChannel.hasSubscribers) {
        const event: AuthenticationEvent = {
          ...(result.ok
            ? { result: 'success', authenticator: result.authenticator, user: result.user }
            : { result: result.error ? 'error' : 'failure', ...(result.error && { error: result.error }) }),
          durationSeconds: (performance.now() - started) / 1000,
          get peerCertificates() {
            return view.peerCertificates;
          },
        };
        authenticationChannel.publish(event);
      }
      if (!result.ok) {
        logAuthenticationRefusal(
          logger,
          result,
          req.method ?? 'GET',
          typeof path === 'function' ? path() : (path ?? pathOf(req.url ?? '/')),
        );
        return { ok: false, response: unauthorized() };
      }
      // Go clears every identity header after any successful authentication, anonymous included.
      stripIdentityHeaders(req, configProvider?.current(), result.consumedHeaders);
      const { name, uid, groups, extra } = result.user;
      const identity: AuthenticatedIdentity = {
        user: { name, uid, groups, extra },
        authenticator: result.authenticator,
        ...(result.audiences && { audiences: result.audiences }),
      };
      return { ok: true, identity };
    } catch (err) {
      return unexpectedError(logger, 'authentication', err, req.method ?? 'GET', req.url ?? '/');
    }
  }
}

/** The path of a request URI (before `?`). */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

const causeFields = ['authenticator', 'check', 'subjectCN', 'issuer', 'caName', 'header'] as const;

function pickCause(d: KdaErrorDetails): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of causeFields) if (d[k] !== undefined) out[k] = d[k];
  return out;
}

/** One line per refusal: the precise cause as fields; the 401 body stays generic. */
export function logAuthenticationRefusal(
  logger: Logger,
  result: Extract<AuthenticationResult, { ok: false }>,
  method: string,
  path: string,
): void {
  const declined = result.declined ?? [];
  const { error } = result;
  const refusals = refusalLogFor(logger);
  if (!error && declined.length === 0) {
    refusals.log(
      'debug',
      'authentication',
      'no-credentials',
      { method, path, check: 'no-credentials' },
      'request refused: no credentials and anonymous disabled',
    );
    return;
  }
  // A declined front-proxy (verified certificate, missing username) explains the refusal better than the x509 error
  // that follows it, so it leads. The lead is the cause in every top-level field (check, code, error, msg); the
  // errors of the authenticators tried after it (e.g. the client-CA fallback's unknown authority) are only in `causes`.
  const all = error?.details.errors as readonly KdaErrorDetails[] | undefined;
  const primary = declined[0] ?? error!.details;
  const fields: Record<string, unknown> = { ...pickCause(primary) };
  if (declined.length > 0) {
    if (typeof primary.code === 'string') fields.code = primary.code;
    if (primary.message !== undefined) fields.error = primary.message;
  } else {
    fields.code = error!.code;
    fields.error = all?.[0]?.message ?? error!.message;
  }
  if (error) {
    fields.causes = (all ?? [{ ...error.details, message: error.message }]).map((d) => ({
      ...pickCause(d),
      message: d.message,
    }));
  }
  if (declined.length > 0) fields.declined = declined;
  fields.method = method;
  fields.path = path;
  const lead = declined[0]?.message as string | undefined;
  const cause = String(primary.check ?? error?.code ?? 'unknown');
  refusals.log(
    'warn',
    'authentication',
    cause,
    fields,
    `request refused: ${[lead, error?.message].filter(Boolean).join('; ')}`,
  );
}
