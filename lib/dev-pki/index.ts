// The `kube-delegated-auth/dev-pki` entry point: development certificates (node-forge), never needed in production.
// TODO(restructure): lib/pki moves here when the programs leave lib/ (issue 12 step 1).
export * from '../pki/index.js';
