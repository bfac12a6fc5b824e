// An extension apiserver from kube-delegated-auth/apiserver's blocks on plain node:https: the Go-named flags parsed
// with node:util parseArgs, delegated authn/authz, /healthz /livez /readyz with trust-source and informer checks,
// discovery (aggregated v2 included) and OpenAPI v2/v3 for examples/widgets-api.ts. docs/apiserver.md explains it.
//   npx kube-delegated-auth certs --dir certs
//   npx tsx examples/apiserver-blocks.ts --secure-port 8443 --tls-cert-file certs/serving.crt \
//     --tls-private-key-file certs/serving.key --client-ca-file certs/client-ca.crt \
//     --requestheader-client-ca-file certs/front-proxy-ca.crt --requestheader-allowed-names front-proxy-client
//   curl --cacert certs/serving-ca.crt 'https://localhost:8443/readyz?verbose'
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { InvalidOptionError, staticPolicyAuthorizer, statusFailure, type DelegatedAuth } from 'kube-delegated-auth';
import {
  delegatedAuthOptionsFromFlags,
  delegatedAuthParseArgsOptions,
  discoveryEndpoints,
  formatDelegatedAuthFlags,
  healthEndpoints,
  informerSyncCheck,
  openApiEndpoints,
  serveBlocks,
  trustSourceChecks,
} from 'kube-delegated-auth/apiserver';
import { createDelegatedAuth } from 'kube-delegated-auth/cluster';
import { withDelegatedAuth } from 'kube-delegated-auth/node-http';
import { createSecureServer } from 'kube-delegated-auth/server';
import { widgetsApi } from './widgets-api.js';

const usage = `Usage: apiserver-blocks [flags]

Flags:
      --secure-port int               The port on which to serve HTTPS (default 8443)
      --tls-cert-file string          Serving certificate (PEM)
      --tls-private-key-file string   Private key of --tls-cert-file
${formatDelegatedAuthFlags()}
`;

/** A flag mistake: one line naming the flag, exit 2, as Go's binaries do. */
function fail(message: string): never {
  console.error(`Error: ${message}\n${usage.split('\n')[0]}; see --help`);
  process.exit(2);
}

let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
try {
  values = parseArgs({
    options: {
      ...delegatedAuthParseArgsOptions(), // --client-ca-file, --requestheader-*, --authorization-* ...
      'secure-port': { type: 'string', default: '8443' },
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  fail((err as Error).message); // parseArgs' own: unknown flag, missing value
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const securePort = Number(values['secure-port']);
if (!Number.isInteger(securePort) || securePort < 0 || securePort > 65535) {
  fail(`invalid argument ${JSON.stringify(values['secure-port'])} for "--secure-port" flag: must be 0-65535`);
}

let stack: DelegatedAuth;
try {
  const flagOptions = delegatedAuthOptionsFromFlags(values); // throws naming the flag: --x-ttl 10x, --y=maybe
  const cluster = Boolean(flagOptions.kubeconfig || flagOptions.authenticationKubeconfig || process.env.KUBECONFIG);
  stack = createDelegatedAuth({
    ...flagOptions,
    ...(cluster
      ? {}
      : {
          mode: 'local' as const, // no cluster: trust from the CA files, authorization from this static policy
          additionalAuthorizers: [
            staticPolicyAuthorizer({
              rules: [
                { groups: ['developers'], verbs: ['get', 'list'], apiGroups: ['*'], resources: ['*'] },
                // Discovery and OpenAPI for every authenticated user, as kube-apiserver's system:discovery role.
                {
                  groups: ['system:authenticated'],
                  verbs: ['get'],
                  nonResourceURLs: ['/apis', '/apis/*', '/openapi/*'],
                },
              ],
            }),
          ],
        }),
  });
} catch (err) {
  if (err instanceof InvalidOptionError) fail(err.problems.join('; '));
  throw err;
}

// Informer-style readiness: your caches filled (here: a store that loads once at startup).
let storeLoaded = false;
const blocks = serveBlocks(
  healthEndpoints({
    readyzChecks: [...trustSourceChecks(stack), informerSyncCheck(() => storeLoaded, 'widget-store')],
  }),
  discoveryEndpoints([widgetsApi]),
  openApiEndpoints([widgetsApi], { title: 'widgets' }),
);

async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (await blocks(req, res)) return; // health, discovery, OpenAPI
  const notFound = statusFailure(404, 'NotFound', 'the server could not find the requested resource');
  res.writeHead(notFound.status, notFound.headers).end(notFound.body); // your resources' handlers go here
}

await stack.start(); // reads the CA files (or the cluster's ConfigMap), failing with the fix in its message
const server = createSecureServer({
  // Authentication and authorization first, as Go's handler chain: /healthz, /livez, /readyz are always allowed.
  handler: withDelegatedAuth(handler, stack),
  ...(typeof values['tls-cert-file'] === 'string' && { tlsCertFile: values['tls-cert-file'] }),
  ...(typeof values['tls-private-key-file'] === 'string' && { tlsPrivateKeyFile: values['tls-private-key-file'] }),
  clientCA: stack.trust.clientCA,
  requestHeaderCA: stack.trust.requestHeaderCA,
  bindAddress: '127.0.0.1',
  securePort,
});
await server.listen();
storeLoaded = true;
console.log(`listening on ${server.url}`);

const stop = async () => {
  await server.close();
  await stack.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
