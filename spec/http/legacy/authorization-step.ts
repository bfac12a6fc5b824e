// Frozen copy (commit bb4b911, lib/http/pipeline.ts and lib/koa/authorize.ts) of the authorization sequence as it was
// written before `authorizeRequest()`: the reference of spec/http/authorize-request-differential.spec.ts. Do not
// change it to follow lib/.
import type { ServerResponse } from 'node:http';
import type { UserInfo } from '../../../lib/authn/interfaces.js';
import {
  Decision,
  type AuthorizationResult,
  type Authorizer,
  type RequestAttributes,
  type RequestInfo,
} from '../../../lib/authz/interfaces.js';
import { authorizationChannel, type AuthorizationEvent } from '../../../lib/diagnostics.js';
import { applyAttributesOverride, unexpectedError, type AttributesOverride } from '../../../lib/http/pipeline.js';
import type { PipelineRefusal } from '../../../lib/http/pipeline.js';
import { authorizerAttributes } from '../../../lib/http/request-info.js';
import { forbidden, internalError, type HttpResponse } from '../../../lib/http/status.js';
import { noopLogger, type Logger } from '../../../lib/log.js';
import { refusalLogFor } from '../../../lib/util/refusal-log.js';

function resultLabel(r: AuthorizationResult): AuthorizationEvent['result'] {
  if (r.decision === Decision.Allow) return 'allowed';
  if (r.error) return 'error';
  return r.decision === Decision.Deny ? 'denied' : 'no-opinion';
}

type AuthorizationStepResult =
  | { readonly ok: true; readonly result: AuthorizationResult }
  | (PipelineRefusal & { readonly result?: AuthorizationResult })
  /** The client went away while the review ran: write nothing. */
  | { readonly ok: false; readonly aborted: true; readonly result: AuthorizationResult; readonly response?: undefined };

/**
 * WithAuthorization for one request. Allow → ok (an error alongside Allow is ignored, as in Go); an error with
 * Deny/NoOpinion → 500 `Internal Server Error: "<uri>": <error>`; otherwise 403 with the Kubernetes `Status` body.
 * Stops waiting for the review when `res` closes before it is answered.
 */
function authorizationStep(
  authorizer: Authorizer,
  attrs: RequestAttributes,
  uri: string,
  res: ServerResponse | undefined,
  logger: Logger = noopLogger,
): Promise<AuthorizationStepResult> {
  return authorize(authorizer, attrs, uri, res, logger).catch((err: unknown) =>
    unexpectedError(logger, 'authorization', err, res?.req?.method ?? attrs?.verb ?? 'GET', uri),
  );
}

async function authorize(
  authorizer: Authorizer,
  attrs: RequestAttributes,
  uri: string,
  res: ServerResponse | undefined,
  logger: Logger,
): Promise<AuthorizationStepResult> {
  const started = performance.now();
  let result: AuthorizationResult | undefined;
  let controller: AbortController | undefined;
  try {
    // Cached and static answers need no I/O, hence no AbortController or `close` listener (≈10 µs a request).
    result = authorizer.authorizeSync?.(attrs);
    if (result === undefined) {
      // Stop waiting for the review when the client goes away (the shared review itself carries on for others).
      const c = (controller = new AbortController());
      const onClose = () => {
        if (!res!.writableEnded) c.abort(new Error('client disconnected'));
      };
      res?.once('close', onClose);
      try {
        result = await authorizer.authorize(attrs, c.signal);
      } finally {
        res?.off('close', onClose);
      }
    }
    if (typeof result !== 'object' || result === null) throw new TypeError('authorizer returned no result');
  } catch (err) {
    return unexpectedError(logger, 'authorization', err, res?.req?.method ?? attrs.verb, uri);
  }
  if (controller?.signal.aborted && result.decision !== Decision.Allow) {
    logger.debug({ uri }, 'client disconnected while authorizing');
    return { ok: false, aborted: true, result };
  }
  if (authorizationChannel.hasSubscribers) {
    const event: AuthorizationEvent = {
      attributes: attrs,
      decision: result.decision,
      reason: result.reason,
      ...(result.error && { error: result.error }),
      result: resultLabel(result),
      durationSeconds: (performance.now() - started) / 1000,
    };
    authorizationChannel.publish(event);
  }
  if (result.decision === Decision.Allow) return { ok: true, result };
  const fields = {
    user: attrs.user?.name,
    verb: attrs.verb,
    ...(attrs.resourceRequest
      ? {
          apiGroup: attrs.apiGroup,
          resource: attrs.resource,
          subresource: attrs.subresource,
          namespace: attrs.namespace,
          name: attrs.name,
        }
      : { path: attrs.path }),
    decision: result.decision,
    reason: result.reason,
  };
  const refusals = refusalLogFor(logger);
  if (result.error) {
    refusals.log(
      'error',
      'authorization',
      `error:${result.error.code ?? result.error.name}`,
      { ...fields, code: result.error.code, error: result.error.message },
      `authorization error: ${result.error.message}`,
    );
    return { ok: false, response: internalError(uri, result.error.message), result };
  }
  refusals.log(
    'info',
    'authorization',
    `forbidden:${attrs.user?.name ?? ''}`,
    fields,
    `forbidden${result.reason ? `: ${result.reason}` : ''}`,
  );
  return { ok: false, response: forbidden(attrs, result.reason), result };
}

/** The old Koa `authorize()` body (lib/koa/authorize.ts:60-72), without Koa: the outcome it left in ctx. */
export async function oldAuthorizeSequence(
  authorizer: Authorizer,
  info: RequestInfo | undefined,
  user: UserInfo | undefined,
  uri: string,
  method: string,
  hooks: { attributes?: (d: RequestAttributes) => RequestAttributes; override?: AttributesOverride },
  logger: Logger = noopLogger,
): Promise<{
  ok: boolean;
  response?: HttpResponse;
  attributes?: RequestAttributes;
  result?: AuthorizationResult;
}> {
  if (!info) {
    logger.error({ uri }, 'no RequestInfo found in the context (install requestInfo() before authorize())');
    return { ok: false, response: internalError(uri, 'no RequestInfo found in the context') };
  }
  let attrs: RequestAttributes;
  try {
    attrs = authorizerAttributes(user, info);
    if (hooks.attributes) attrs = hooks.attributes(attrs);
    attrs = applyAttributesOverride(attrs, hooks.override);
  } catch (err) {
    return { ok: false, response: unexpectedError(logger, 'authorization attributes', err, method, uri).response };
  }
  const outcome = await authorizationStep(authorizer, attrs, uri, undefined, logger);
  if (outcome.ok) return { ok: true, attributes: attrs, result: outcome.result };
  return {
    ok: false,
    attributes: attrs,
    ...(outcome.response && { response: outcome.response }),
    ...(outcome.result && { result: outcome.result }),
  };
}
