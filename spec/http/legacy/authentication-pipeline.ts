// Frozen copy (commit 5a0a8d1, lib/http/authentication.ts and lib/http/pipeline.ts) of WithAuthentication and of the
// pipeline's run() before the synchronous path: one async step awaiting `authenticateRequest`. The reference of
// spec/http/authentication-sync-differential.spec.ts. Do not change it to follow lib/.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthenticationResult, RequestAuthenticator } from '../../../lib/authn/interfaces.js';
import type { AuthorizationResult, Authorizer, RequestAttributes, RequestInfo } from '../../../lib/authz/interfaces.js';
import { authenticationChannel, type AuthenticationEvent } from '../../../lib/diagnostics.js';
import { logAuthenticationRefusal, pathOf, type AuthenticatedIdentity } from '../../../lib/http/authentication.js';
import { authorizeRequest } from '../../../lib/http/authorization.js';
import {
  requestInfoStep,
  useOriginForm,
  type DelegatedAuthState,
  type PipelineRunHooks,
} from '../../../lib/http/pipeline.js';
import { stripIdentityHeaders, toAuthnRequest } from '../../../lib/http/request.js';
import type { RequestInfoOptions } from '../../../lib/http/request-info.js';
import { unauthorized, type HttpResponse } from '../../../lib/http/status.js';
import { unexpectedError, type PipelineRefusal } from '../../../lib/http/unexpected-error.js';
import { noopLogger, type Logger } from '../../../lib/log.js';
import type { RequestHeaderConfigProvider } from '../../../lib/trust/interfaces.js';

export interface LegacyOptions {
  readonly authenticator: RequestAuthenticator;
  readonly authorizer?: Authorizer;
  readonly requestHeader?: { readonly configProvider: RequestHeaderConfigProvider };
  readonly logger?: Logger;
}

export function legacyAuthenticationStep(
  options: LegacyOptions,
): (
  req: IncomingMessage,
  path?: string | (() => string),
) => Promise<{ readonly ok: true; readonly identity: AuthenticatedIdentity } | PipelineRefusal> {
  const authenticator = options.authenticator;
  const configProvider: RequestHeaderConfigProvider | undefined = options.requestHeader?.configProvider;
  const logger = options.logger ?? noopLogger;
  return authenticate;
  async function authenticate(
    req: IncomingMessage,
    path?: string | (() => string),
  ): Promise<{ readonly ok: true; readonly identity: AuthenticatedIdentity } | PipelineRefusal> {
    try {
      const view = toAuthnRequest(req);
      const started = performance.now();
      const result: AuthenticationResult = await authenticator.authenticateRequest(view);
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

function stateOf(
  requestInfo: RequestInfo,
  identity: AuthenticatedIdentity,
  attributes?: RequestAttributes,
  authorization?: AuthorizationResult,
): DelegatedAuthState {
  const state: { -readonly [K in keyof DelegatedAuthState]: DelegatedAuthState[K] } = {
    requestInfo,
    user: identity.user,
    authenticator: identity.authenticator,
  };
  if (identity.audiences) state.audiences = identity.audiences;
  if (attributes) state.attributes = attributes;
  if (authorization) state.authorization = authorization;
  return state;
}

export type LegacyRunResult =
  | { readonly ok: true; readonly state: DelegatedAuthState }
  | { readonly ok: false; readonly response?: HttpResponse | undefined; readonly state?: Partial<DelegatedAuthState> };

export function legacyPipeline(options: LegacyOptions): {
  run(
    req: IncomingMessage,
    res: ServerResponse | undefined,
    uri: string,
    hooks?: PipelineRunHooks,
  ): Promise<LegacyRunResult>;
} {
  const authenticate = legacyAuthenticationStep(options);
  const authorizer = options.authorizer;
  const logger = options.logger ?? noopLogger;
  const infoOptions: RequestInfoOptions = { authorizationSelectors: false };
  return {
    async run(req, res, uri, hooks = {}) {
      const method = req.method ?? 'GET';
      const info = requestInfoStep(method, uri, infoOptions, logger, hooks.requestTarget);
      if (!info.ok) return { ok: false, response: info.response };
      if (hooks.requestTarget?.rewriteAbsoluteForm !== false) useOriginForm(req, info.target);
      const authn = await authenticate(req, info.target.path);
      if (!authn.ok) return { ok: false, response: authn.response, state: { requestInfo: info.info } };
      const identity = authn.identity;
      if (!authorizer) return { ok: true, state: stateOf(info.info, identity) };
      const pending = authorizeRequest(
        authorizer,
        { requestInfo: info.info, user: identity.user, uri, method, res },
        { attributes: hooks.attributes, override: hooks.override?.() },
        logger,
      );
      const authz = pending instanceof Promise ? await pending : pending;
      const state = stateOf(info.info, identity, authz.attributes, authz.result);
      if (authz.ok) return { ok: true, state };
      return { ok: false, response: authz.response, state };
    },
  };
}
