// my-extension-apiserver: a Koa extension API server behind the Kubernetes aggregator.
//   node dist/main.js --tls-cert-file serving.crt --tls-private-key-file serving.key [--kubeconfig ~/.kube/config]
//                     [--secure-port 8443] [--shutdown-delay-duration 10s]
import Koa from 'koa';
import { gracefulShutdown } from 'kube-delegated-auth/apiserver';
import { delegatedAuth } from 'kube-delegated-auth/koa';
import { createSecureServer } from 'kube-delegated-auth/server';
import type { Logger } from 'kube-delegated-auth';
import { greetingsApi } from './app.js';
import { parseFlags } from './flags.js';
import { healthEndpoints, type HealthCheck } from './health.js';

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

let flags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`my-extension-apiserver: ${(err as Error).message}\n`);
  process.exit(2);
}

// Cluster mode: trust from kube-system/extension-apiserver-authentication (watched), TokenReview and
// SubjectAccessReview through the kubeconfig's (or the pod's service account's) identity.
const auth = delegatedAuth({
  ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
  logger,
});
await auth.start(); // fails with the exact `kubectl create rolebinding …` fix when the RBAC is missing

// /readyz: the trust sources are loaded, and (added below, once the server exists) the process is not shutting down.
const readyz: HealthCheck[] = [
  {
    name: 'extension-apiserver-authentication',
    check() {
      const notLoaded = auth.status().filter((s) => !s.loaded);
      if (notLoaded.length > 0) throw new Error(`not loaded: ${notLoaded.map((s) => s.name).join(', ')}`);
    },
  },
];

const app = new Koa();
app.silent = true; // errors are answered as Status bodies and logged by us, never with a stack
app.use(auth.middleware); // /healthz, /livez, /readyz are always allowed (Go's --authorization-always-allow-paths)
app.use(healthEndpoints({ livez: [], readyz }));
app.use(greetingsApi(process.env.POD_NAME ?? ''));

const server = createSecureServer({
  handler: app.callback(), // composes the middleware now: app.use() after this line would never run
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

readyz.push(shutdown.readinessCheck);

await server.listen();
logger.info({ url: server.url }, `listening on ${server.url}`);

await shutdown.whenPhase('closed');
await auth.close(); // the ConfigMap watch, review clients' keep-alive sockets
logger.info({}, 'stopped');
