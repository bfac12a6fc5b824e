import type { UserInfo } from '../authn/interfaces.js';
import type { KdaError } from '../errors.js';

export const Decision = { Deny: 'Deny', Allow: 'Allow', NoOpinion: 'NoOpinion' } as const;
export type Decision = (typeof Decision)[keyof typeof Decision];

/** A selector requirement as sent in a SubjectAccessReview (1.31+). */
export interface SelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

/** What a request is, as Go's RequestInfo; verb is the kube verb, or the lower-case HTTP method for non-resource paths. */
export interface RequestInfo {
  readonly isResourceRequest: boolean;
  readonly path: string;
  readonly verb: string;
  readonly apiPrefix: string;
  readonly apiGroup: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly resource: string;
  readonly subresource: string;
  readonly name: string;
  readonly parts: readonly string[];
  /** Raw `fieldSelector` / `labelSelector` (list, watch, deletecollection only; not for path verbs). */
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
}

export interface RequestAttributes {
  readonly user: UserInfo;
  readonly verb: string;
  readonly resourceRequest: boolean;
  readonly path: string;
  readonly apiGroup: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly resource: string;
  readonly subresource: string;
  readonly name: string;
  readonly fieldSelectorRequirements?: readonly SelectorRequirement[];
  readonly labelSelectorRequirements?: readonly SelectorRequirement[];
}

export interface AuthorizationResult {
  readonly decision: Decision;
  readonly reason: string;
  readonly error?: KdaError;
}

export interface Authorizer {
  authorize(attrs: RequestAttributes, signal?: AbortSignal): Promise<AuthorizationResult>;
}

export function authorizerFunc(fn: Authorizer['authorize']): Authorizer {
  return { authorize: fn };
}
