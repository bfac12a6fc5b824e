// The `kube-delegated-auth/pino` entry point: a pino-backed `Logger` with the library's redaction of credentials.
export * from '../log-pino.js';
