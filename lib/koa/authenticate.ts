import type { X509Certificate } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Middleware } from 'koa';
import { newDelegatingAuthenticator, type DelegatingAuthenticatorOptions } from '../authn/delegating.js';
import type { AuthenticationResult, RequestAuthenticator, UserInfo } from '../authn/interfaces.js';
import type { KdaError, KdaErrorDetails } from '../errors.js';
import { stripIdentityHeaders, toAuthnRequest } from '../http/request.js';
import { unauthorized } from '../http/status.js';
import { noopLogger, type Logger } from '../log.js';
import type { RequestHeaderConfigProvider } from '../trust/interfaces.js';

export interface AuthenticateOptions extends DelegatingAuthenticatorOptions {
  /**
   * A ready authenticator; when set, `requestHeader.caProvider`, `clientCA`, `tokenAuthenticator`, `anonymous` and
   * `apiAudiences` are not used (only `requestHeader.configProvider`, for header stripping).
   */
  readonly authenticator?: RequestAuthenticator;
  /** Where refusals are logged (warn with the cause; no credentials at debug). Default: silent, NODE_DEBUG-able. */
  readonly logger?: Logger;
}

/** What `authenticate()` stores in `ctx.state`. */
export interface AuthenticatedState {
  user: UserInfo;
  /** Which authenticator accepted the request: `requestheader`, `x509`, `tokenreview`, `anonymous`, ... */
  authenticator: string;
  /** Audiences the token was valid for, when a token authenticator reports them. */
  audiences?: readonly string[];
}

/**
 * Published once per request (when someone subscribes): `{ result, authenticator, user, error, durationSeconds }`,
 * `result` being Go's `authentication_attempts` label (`success`, `failure` = no credentials accepted, `error`).
 * Metrics subscribe here instead of wrapping the middleware.
 */
export const authenticationChannel = channel('kube-delegated-auth:authn');

export interface AuthenticationEvent {
  readonly result: 'success' | 'failure' | 'error';
  /** The authenticator that accepted the request (absent on failure). */
  readonly authenticator?: string;
  readonly user?: UserInfo;
  readonly error?: KdaError;
  readonly durationSeconds: number;
  /**
   * The client certificate chain, leaf first ([] without one); lib/metrics reads the leaf's expiry for Go's
   * `apiserver_client_certificate_expiration_seconds`. Read lazily from the socket, so it costs nothing unless used.
   */
  readonly peerCertificates?: readonly X509Certificate[];
}

/**
 * Koa middleware: authenticates the request (k8s.io/apiserver's WithAuthentication), stores the user in
 * `ctx.state.user`, removes every identity header (Authorization, X-Remote-*, the configured front-proxy headers)
 * before downstream middleware runs, and answers the Kubernetes 401 `Status` on failure. All logic lives in
 * lib/authn and lib/http; this is the adapter.
 */
export function authenticate(options: AuthenticateOptions = {}): Middleware<Partial<AuthenticatedState>> {
  const authenticator = options.authenticator ?? newDelegatingAuthenticator(options);
  if (typeof authenticator.authenticateRequest !== 'function') {
    throw new TypeError('"authenticator" must implement authenticateRequest');
  }
  const configProvider: RequestHeaderConfigProvider | undefined = options.requestHeader?.configProvider;
  const logger = options.logger ?? noopLogger;

  return async function authenticate(ctx, next) {
    const req = toAuthnRequest(ctx.req);
    const started = performance.now();
    const result = await authenticator.authenticateRequest(req);
    if (authenticationChannel.hasSubscribers) {
      const event: AuthenticationEvent = result.ok
        ? { result: 'success', authenticator: result.authenticator, user: result.user, durationSeconds: 0 }
        : { result: result.error ? 'error' : 'failure', error: result.error, durationSeconds: 0 };
      authenticationChannel.publish({
        ...event,
        durationSeconds: (performance.now() - started) / 1000,
        get peerCertificates() {
          return req.peerCertificates;
        },
      });
    }
    if (!result.ok) {
      logRefusal(logger, result, ctx.method, ctx.path);
      const res = unauthorized();
      for (const [k, v] of Object.entries(res.headers)) ctx.set(k, v);
      ctx.status = res.status;
      ctx.body = res.body;
      return;
    }
    stripIdentityHeaders(ctx.req, configProvider?.current(), result.consumedHeaders);
    const { name, uid, groups, extra } = result.user;
    ctx.state.user = { name, uid, groups, extra };
    ctx.state.authenticator = result.authenticator;
    if (result.audiences) ctx.state.audiences = result.audiences;
    await next();
  };
}

const causeFields = ['authenticator', 'check', 'subjectCN', 'issuer', 'caName', 'header'] as const;

function pickCause(d: KdaErrorDetails): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of causeFields) if (d[k] !== undefined) out[k] = d[k];
  return out;
}

/** One line per refusal: the precise cause as fields; the 401 body stays generic. */
function logRefusal(
  logger: Logger,
  result: Extract<AuthenticationResult, { ok: false }>,
  method: string,
  path: string,
): void {
  const declined = result.declined ?? [];
  const { error } = result;
  if (!error && declined.length === 0) {
    logger.debug({ method, path, check: 'no-credentials' }, 'request refused: no credentials and anonymous disabled');
    return;
  }
  // A declined front-proxy (verified certificate, missing username) explains the refusal better than the x509 error
  // that follows it, so it leads.
  const primary = declined[0] ?? error!.details;
  const fields: Record<string, unknown> = { ...pickCause(primary) };
  if (error) {
    fields.code = error.code;
    fields.error = error.message;
    const all = error.details.errors as readonly KdaErrorDetails[] | undefined;
    fields.causes = (all ?? [{ ...error.details, message: error.message }]).map((d) => ({
      ...pickCause(d),
      message: d.message,
    }));
  }
  if (declined.length > 0) fields.declined = declined;
  fields.method = method;
  fields.path = path;
  const lead = declined[0]?.message as string | undefined;
  logger.warn(fields, `request refused: ${[lead, error?.message].filter(Boolean).join('; ')}`);
}
