// kube-delegated-auth/apiserver: the building blocks of an extension apiserver that Go's generic apiserver gives
// its users, framework-agnostic (node:http, Koa, Express, Fastify serve them alike): /healthz /livez /readyz with named
// checks, discovery (APIGroupList, APIGroup, APIResourceList, aggregated v2/v2beta1), OpenAPI v2/v3 documents, and
// the Go-named delegated authn/authz flags for a user's own binary, and graceful shutdown (Go's
// --shutdown-delay-duration). Loads no framework and no cluster client.
export * from './handler.js';
export * from './health.js';
export * from './resources.js';
export * from './discovery.js';
export * from './openapi.js';
export * from './flags.js';
export * from './shutdown.js';
