// my-extension-apiserver: a Koa extension API server behind the Kubernetes aggregator.
//   node dist/main.js --tls-cert-file serving.crt --tls-private-key-file serving.key [--kubeconfig ~/.kube/config]
//                     [--secure-port 8443] [--shutdown-delay-duration 10s] [-v 3]   (--help lists every flag)
import type { RequestListener } from 'node:http';
import type { Logger } from 'kube-delegated-auth';
import { gracefulShutdown, trustSourceChecks } from 'kube-delegated-auth/apiserver';
import { delegatedAuth } from 'kube-delegated-auth/koa';
import { createSecureServer } from 'kube-delegated-auth/server';
import { createApp } from './app.js';
import { parseFlags, usage, type Flags } from './flags.js';

/** One JSON line per event on stdout (what log collectors read). */
function jsonLogger(level: 'debug' | 'info' | 'warn' | 'error') {
  return (fields: object, msg: string) =>
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}
const logger: Logger = {
  debug: () => {},
  info: jsonLogger('info'),
  warn: jsonLogger('warn'),
  error: jsonLogger('error'),
};

let flags: Flags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (err) {
  // One line naming the flag, exit 2, as Go's binaries do.
  process.stderr.write(`Error: ${(err as Error).message}\nUsage: my-extension-apiserver [flags]; see --help\n`);
  process.exit(2);
}
if (flags.help) {
  process.stdout.write(usage);
  process.exit(0);
}

// Cluster mode: trust from kube-system/extension-apiserver-authentication (watched), TokenReview and
// SubjectAccessReview through --kubeconfig's (or the pod's service account's) identity; the other Go flags as given.
const auth = delegatedAuth({ ...flags.auth, logger });
await auth.start(); // fails with the exact `kubectl create rolebinding …` fix when the RBAC is missing

// The server first: gracefulShutdown() tracks its requests and gives /readyz its `shutdown` check, which the app needs.
// No request arrives before listen(), by which time `handle` (declared below) is the app's.
const server = createSecureServer({
  handler: (req, res) => handle(req, res),
  tlsCertFile: flags.tlsCertFile, // reloaded when the files change (cert-manager rotation)
  tlsPrivateKeyFile: flags.tlsPrivateKeyFile,
  clientCA: auth.trust.clientCA,
  requestHeaderCA: auth.trust.requestHeaderCA,
  bindAddress: flags.bindAddress,
  securePort: flags.securePort,
  logger,
});

// Created before listen() so every request is tracked. SIGTERM: /readyz fails at once, the server keeps serving for
// --shutdown-delay-duration (the endpoints controller takes the pod out of the Service meanwhile), then drains.
const shutdown = gracefulShutdown({
  server,
  shutdownDelayDuration: flags.shutdownDelayDuration,
  shutdownWatchTerminationGracePeriod: flags.shutdownWatchTerminationGracePeriod,
  logger,
});

const handle: RequestListener = createApp({
  auth,
  // /readyz: the front-proxy trust loaded (trust:request-header, trust:request-header-config), and not shutting down.
  readyzChecks: [...trustSourceChecks(auth), shutdown.readinessCheck],
  logger,
  servedBy: process.env.POD_NAME ?? '',
  logRequests: flags.verbosity >= 3,
}).callback();

await server.listen();
logger.info({ url: server.url }, `listening on ${server.url}`);

await shutdown.whenPhase('closed');
await auth.close(); // the ConfigMap watch, review clients' keep-alive sockets
logger.info({}, 'stopped');
