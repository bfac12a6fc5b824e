// The README's first example: your own Koa server with Kubernetes delegated auth and no cluster. Trust comes from CA
// files (re-read when they change), authorization from a static policy. Dev certificates:
//   npx kube-delegated-auth certs --dir certs
//   CERT_DIR=certs PORT=8443 npx tsx examples/koa-local.ts
//   curl --cacert certs/serving-ca.crt --cert certs/alice.crt --key certs/alice.key https://localhost:8443/apis/sample.example.com/v1/namespaces/default/widgets
import { join } from 'node:path';
import Koa from 'koa';
import { staticPolicyAuthorizer } from 'kube-delegated-auth';
import { delegatedAuth } from 'kube-delegated-auth/koa';
import { createSecureServer } from 'kube-delegated-auth/server';

const certs = process.env.CERT_DIR ?? 'certs';
const auth = delegatedAuth({
  mode: 'local', // no kubeconfig, no cluster: the Go flags' CA files instead of kube-system's ConfigMap
  clientCaFile: join(certs, 'client-ca.crt'), // --client-ca-file: users with client certificates
  requestheaderClientCaFile: join(certs, 'front-proxy-ca.crt'), // --requestheader-client-ca-file
  requestheaderAllowedNames: ['front-proxy-client'], // --requestheader-allowed-names
  additionalAuthorizers: [
    staticPolicyAuthorizer({
      rules: [{ groups: ['developers'], verbs: ['get', 'list'], apiGroups: ['sample.example.com'], resources: ['*'] }],
    }),
  ], // system:masters and /healthz, /readyz, /livez are always allowed; everything else is 403
});
await auth.start(); // reads the CA files (fails naming the file), then re-reads them when they change

const app = new Koa();
app.use(auth.middleware);
app.use((ctx) => {
  ctx.body = { user: ctx.state.user.name, groups: ctx.state.user.groups };
});

const server = createSecureServer({
  handler: app.callback(),
  tlsCertFile: join(certs, 'serving.crt'),
  tlsPrivateKeyFile: join(certs, 'serving.key'),
  clientCA: auth.trust.clientCA, // the TLS acceptable-CA hint follows the files
  requestHeaderCA: auth.trust.requestHeaderCA,
  bindAddress: '127.0.0.1',
  securePort: Number(process.env.PORT ?? 8443),
});
await server.listen();
console.log(`listening on ${server.url}`);

const stop = async () => {
  await server.close();
  await auth.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
