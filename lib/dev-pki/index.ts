// The `kube-delegated-auth/dev-pki` entry point: development certificates (node-forge), never needed in production.
export * from './certificates.js';
export * from './dev-pki.js';
