// The `kube-delegated-auth/server` entry point: the HTTPS server of an extension apiserver (serving certificate from a
// lib/trust provider, live client-CA hint, graceful close). Loads node-forge only through `selfSigned` (lib/dev-pki).
export * from './secure-server.js';
