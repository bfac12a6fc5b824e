// `kube-delegated-auth/webhook` (a subpath export of the package): the TokenReview and SubjectAccessReview webhook
// servers. The `webhook` CLI command lives in cli/webhook.ts (the program), outside the library.
export { TransientError } from './transient-error.js';
export {
  tokenReviewWebhook,
  tokenFingerprint,
  tokenReviewApiVersions,
  type ReviewWebhook,
  type TokenReviewApiVersion,
  type TokenReviewUser,
  type TokenReviewWebhookOptions,
  type VerifyResult,
  type VerifyToken,
} from './token-review-webhook.js';
export {
  authorizeWith,
  subjectAccessReviewApiVersions,
  subjectAccessReviewWebhook,
  toRequestAttributes,
  type AuthorizeResult,
  type AuthorizeReview,
  type LabelOrFieldSelector,
  type NonResourceAttributes,
  type ResourceAttributes,
  type SubjectAccessReviewApiVersion,
  type SubjectAccessReviewSpec,
  type SubjectAccessReviewWebhookOptions,
} from './subject-access-review-webhook.js';
export { reviewWebhookMiddleware, type ReviewWebhookContext, type ReviewWebhookMiddlewareOptions } from './koa.js';
export { loadTokenFile, parseTokenFile, staticTokenVerifier, type StaticTokenTable } from './static-tokens.js';
export {
  evaluateStaticPolicy,
  loadStaticPolicy,
  parseStaticPolicy,
  staticPolicyAuthorizer,
  type StaticPolicy,
} from './static-policy.js';
export { withIdentityMapping, type IdentityMapper, type MappedVerifyOptions } from './mapped-verify.js';
export { WebhookServer, webhookRouter, type WebhookRouterOptions, type WebhookServerOptions } from './server.js';
export {
  IdentityMapping,
  applyMapping,
  configMapMappingSource,
  fileMappingSource,
  parseMappingDocument,
  reservedPrefix,
  type ConfigMapMappingSourceOptions,
  type Identity,
  type IdentityMappingOptions,
  type IdentityMappingStatus,
  type MapOutcome,
  type MappingDocument,
  type MappingSource,
} from '../mapping/identity-mapping.js';
