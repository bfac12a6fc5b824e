import type {
  SubjectAccessReview,
  SubjectAccessReviewClient,
  SubjectAccessReviewSpec,
  SubjectAccessReviewStatus,
} from '../authz/interfaces.js';
import type { TokenReviewSpec, TokenReviewStatus } from '../authn/token-review.js';
import type { RestClient } from './rest-client.js';

export type { TokenReviewSpec, TokenReviewStatus } from '../authn/token-review.js';

/**
 * Creates TokenReviews; rejects with a `KubeApiError` (a KdaError whose details the retry predicate reads) on
 * transport or HTTP failures.
 */
export interface TokenReviewClient {
  create(spec: TokenReviewSpec, signal?: AbortSignal): Promise<TokenReviewStatus>;
}

export type { SubjectAccessReview, SubjectAccessReviewClient, SubjectAccessReviewSpec, SubjectAccessReviewStatus };

export const tokenReviewPath = '/apis/authentication.k8s.io/v1/tokenreviews';
export const subjectAccessReviewPath = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

/** One POST per call, no retries (the authenticator owns the retry policy). */
export function tokenReviewClient(client: RestClient): TokenReviewClient {
  return {
    async create(spec, signal) {
      const body = {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token: spec.token, ...(spec.audiences && spec.audiences.length > 0 && { audiences: spec.audiences }) },
      };
      const res = await client.post<{ status?: TokenReviewStatus }>(tokenReviewPath, body, signal ? { signal } : {});
      return res.status ?? {};
    },
  };
}

/** lib/authz's `SubjectAccessReviewClient` over HTTPS: one POST per call, no retries (the authorizer owns retries and caching). */
export function subjectAccessReviewClient(client: RestClient): SubjectAccessReviewClient {
  return {
    async create(sar: SubjectAccessReview, signal?: AbortSignal) {
      const body = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: sar.spec };
      const res = await client.post<{ status?: Partial<SubjectAccessReviewStatus> }>(
        subjectAccessReviewPath,
        body,
        signal ? { signal } : {},
      );
      const s = res.status ?? {};
      return {
        allowed: s.allowed === true,
        ...(s.denied !== undefined && { denied: s.denied }),
        ...(s.reason !== undefined && { reason: s.reason }),
        ...(s.evaluationError !== undefined && { evaluationError: s.evaluationError }),
      };
    },
  };
}
