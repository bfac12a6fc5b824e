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
  /**
   * Optional fast path: the answer `authorize` would give, when it needs no I/O (a static rule, a cache hit), else
   * undefined. Lets a middleware skip the AbortController and `close` listener it only needs for a network call.
   */
  authorizeSync?(attrs: RequestAttributes): AuthorizationResult | undefined;
}

export function authorizerFunc(fn: Authorizer['authorize']): Authorizer {
  return { authorize: fn };
}

/** `authorization.k8s.io/v1` ResourceAttributes; empty strings are omitted (Go `omitempty`). */
export type SubjectAccessReviewResourceAttributes = {
  readonly namespace?: string;
  readonly verb?: string;
  readonly group?: string;
  readonly version?: string;
  readonly resource?: string;
  readonly subresource?: string;
  readonly name?: string;
  readonly fieldSelector?: { readonly requirements: readonly SelectorRequirement[] };
  readonly labelSelector?: { readonly requirements: readonly SelectorRequirement[] };
};

/** `authorization.k8s.io/v1` SubjectAccessReviewSpec, fields in Go's order (the JSON is the decision-cache key). */
export type SubjectAccessReviewSpec = {
  readonly resourceAttributes?: SubjectAccessReviewResourceAttributes;
  readonly nonResourceAttributes?: { readonly path?: string; readonly verb?: string };
  readonly user?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
  readonly uid?: string;
};

export type SubjectAccessReview = {
  readonly apiVersion: 'authorization.k8s.io/v1';
  readonly kind: 'SubjectAccessReview';
  readonly spec: SubjectAccessReviewSpec;
};

export type SubjectAccessReviewStatus = {
  readonly allowed: boolean;
  readonly denied?: boolean;
  readonly reason?: string;
  readonly evaluationError?: string;
};

/**
 * Creates one SubjectAccessReview (one POST, no retries, no cache: the authorizer owns those). A failed call
 * rejects with a lib/util/review-retry `webhookError` (KdaError whose details carry status / reason /
 * retryAfterSeconds / networkCode) so the authorizer can apply Go's `DefaultShouldRetry`.
 * lib/cluster `subjectAccessReviewClient(restClient)` implements it over HTTPS.
 */
export interface SubjectAccessReviewClient {
  create(sar: SubjectAccessReview, signal?: AbortSignal): Promise<SubjectAccessReviewStatus>;
}
