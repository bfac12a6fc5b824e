import type { UserInfo } from '../../lib/authn/interfaces.js';
import { Decision, authorizerFunc, type RequestAttributes } from '../../lib/authz/interfaces.js';

export const alice: UserInfo = { name: 'alice', uid: '', groups: ['developers', 'system:authenticated'], extra: {} };

/** Resource attributes for `alice get flunders/foo in default`, with overrides. */
export function resourceAttrs(over: Partial<RequestAttributes> = {}): RequestAttributes {
  return {
    user: alice,
    verb: 'get',
    resourceRequest: true,
    path: '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders/foo',
    apiGroup: 'wardle.example.com',
    apiVersion: 'v1alpha1',
    namespace: 'default',
    resource: 'flunders',
    subresource: '',
    name: 'foo',
    ...over,
  };
}

/** Non-resource attributes for `alice get <path>`. */
export function pathAttrs(path: string, over: Partial<RequestAttributes> = {}): RequestAttributes {
  return {
    user: alice,
    verb: 'get',
    resourceRequest: false,
    path,
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    ...over,
  };
}

/**
 * An authorizer that allows exactly what `allowed` says (NoOpinion with reason `nope` otherwise) and records every
 * attribute set it was asked about in `seen`.
 */
export function recordingAuthorizer(allowed: (a: RequestAttributes) => boolean) {
  const seen: RequestAttributes[] = [];
  return {
    seen,
    authorizer: authorizerFunc(async (a) => {
      seen.push(a);
      return allowed(a) ? { decision: Decision.Allow, reason: '' } : { decision: Decision.NoOpinion, reason: 'nope' };
    }),
  };
}
