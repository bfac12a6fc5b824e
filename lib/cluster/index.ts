// The `kube-delegated-auth/cluster` entry point: the cluster stack (`createDelegatedAuth`, the composition root of
// Go's delegating authentication + authorization options) and the pieces it is built from (kube-apiserver client,
// review clients, the extension-apiserver-authentication trust source). @kubernetes/client-node is loaded only when
// a kubeconfig file is read (lib/cluster/kubeconfig.ts).
export * from '../delegated-auth.js';
export * from './clients.js';
export * from './configmap-parsing.js';
export * from './errors.js';
export * from './extension-apiserver-authentication.js';
export * from './kubeconfig.js';
export * from './proxy.js';
export * from './qps-limiter.js';
export * from './rest-client.js';
export * from './review-clients.js';
export * from './watch-one.js';
