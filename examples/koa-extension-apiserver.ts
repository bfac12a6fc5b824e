// The README's minimal extension apiserver, runnable:
//   KUBECONFIG=… TLS_CERT_FILE=serving.crt TLS_PRIVATE_KEY_FILE=serving.key PORT=8443 npx tsx examples/koa-extension-apiserver.ts
import Koa from 'koa';
import { createSecureServer } from 'kube-delegated-auth/server';
import { delegatedAuth } from 'kube-delegated-auth/koa';

// Go-named options; everything else comes from kube-system/extension-apiserver-authentication.
const auth = delegatedAuth({
  ...(process.env.KUBECONFIG ? { kubeconfig: process.env.KUBECONFIG } : {}), // omit in a pod: the service account is used
  authorizationAlwaysAllowPaths: ['/healthz', '/readyz', '/livez'],
});
await auth.start(); // reads the ConfigMap (fails with the exact `kubectl create rolebinding …` fix if forbidden), then watches it

const app = new Koa();
app.use(auth.middleware); // requestInfo → authenticate → authorize, in Go's order
app.use((ctx) => {
  // ctx.state.user = { name, uid, groups, extra }; ctx.state.attributes = the authorized request attributes
  ctx.body = { hello: ctx.state.user.name };
});

const server = createSecureServer({
  handler: app.callback(),
  tlsCertFile: process.env.TLS_CERT_FILE ?? 'serving.crt',
  tlsPrivateKeyFile: process.env.TLS_PRIVATE_KEY_FILE ?? 'serving.key', // reloaded when the files change
  clientCA: auth.trust.clientCA, // the TLS acceptable-CA hint follows the ConfigMap live
  requestHeaderCA: auth.trust.requestHeaderCA,
  securePort: Number(process.env.PORT ?? 8443),
});
await server.listen();
console.log(`listening on ${server.url}`);

const stop = async () => {
  await server.close();
  await auth.close(); // watch, timers, keep-alive sockets
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
