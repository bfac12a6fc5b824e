// The root entry point: the contracts and the core (authentication, authorization, trust, the request layer, errors,
// logging), with no heavy dependency: importing it loads none of @kubernetes/client-node, pino, node-forge, koa
// (spec/architecture/root-entry.spec.ts). Everything with a dependency or a process around it has its own subpath:
// kube-delegated-auth/cluster (createDelegatedAuth, the cluster clients and trust source), /server, /metrics, /pino,
// /dev-pki, /webhook, /doctor and one per framework (/koa, /express, /fastify, /node-http).
export * from './errors.js';
export * from './log.js';
export * from './defaults.js';
export * from './diagnostics.js';
export type { Clock } from './util/clock.js';
export { systemClock } from './util/clock.js';
export type { DelegatedAuth, DelegatedAuthOptions } from './delegated-auth.js';

export * from './authn/interfaces.js';
export * from './authn/anonymous.js';
export * from './authn/bearer-token.js';
export * from './authn/delegating.js';
export * from './authn/group-adder.js';
export * from './authn/path-unescape.js';
export * from './authn/request-header.js';
export * from './authn/token-cache.js';
export * from './authn/token-review.js';
export * from './authn/union.js';
export * from './authn/websocket-protocol.js';
export {
  credentialIdExtraKey,
  verifyRequestCertificate,
  chainError,
  commonNameUserConversion,
  x509Authenticator,
  type VerifyOutcome,
  type UserConversion,
  type X509AuthenticatorOptions,
} from './authn/x509.js';

export * from './authz/interfaces.js';
export * from './authz/always-allow-groups.js';
export * from './authz/always-allow-paths.js';
export {
  DecisionCache,
  maxStaleIfErrorTtl,
  type DecisionCacheOptions,
  type DecisionCacheStats,
} from './authz/decision-cache.js';
export * from './authz/delegating.js';
export * from './authz/static-policy.js';
export * from './authz/subject-access-review.js';
export * from './authz/union.js';

export * from './trust/interfaces.js';
export * from './trust/mutable-provider.js';
export * from './trust/pem.js';
export * from './trust/static.js';
export * from './trust/file-content.js';
export * from './trust/serving-cert.js';
export * from './trust/union.js';
export * from './trust/verify-chain.js';
export * from './trust/certificate-fields.js';

export * from './util/go-quote.js';
export * from './http/read-json-body.js';
export * from './http/request.js';
export * from './http/request-info.js';
// The RequestInfo filter as one step (refusal body included), for handlers that run without an adapter's chain.
export { requestInfoStep } from './http/pipeline.js';
export * from './http/request-target.js';
export * from './http/selectors.js';
export * from './util/refusal-log.js';
export * from './http/status.js';

export * from './util/review-retry.js';
export * from './util/duration.js';
export * from './util/pflag-values.js';
export * from './util/single-flight.js';
