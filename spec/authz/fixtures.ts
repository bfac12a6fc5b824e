import type { UserInfo } from '../../lib/authn/interfaces.js';
import type { RequestAttributes } from '../../lib/authz/interfaces.js';

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
