// The `kube-delegated-auth/apiserver` entry point: the generic-apiserver building blocks.
export * from './shutdown.js';
