// The `kube-delegated-auth/startup` entry point: what an extension-apiserver binary needs between its flags and a
// listening server. Every failure to load a flag's file (serving pair, CA bundle, kubeconfig) becomes one line naming
// the flag or file, the cause and the fix (`StartupError`, `startupErrorLines`), as the bundled CLI prints them.
// Used by the `serve` and `webhook` commands and the sample apiserver; @kubernetes/client-node is loaded only when a
// kubeconfig is read.
export * from './startup-error.js';
export * from './kubeconfig-preflight.js';
