// The full stack under test: createSecureServer (TLS) + authenticate() (front-proxy, x509, optional cached
// TokenReview) + authorize() (cached SubjectAccessReview authorizer) + the same trivial handler as the baselines.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { cachedTokenAuthenticator } from '../../lib/authn/token-cache.js';
import { TokenReviewAuthenticator } from '../../lib/authn/token-review.js';
import { loadConnectionConfig } from '../../lib/cluster/kubeconfig.js';
import { RestClient } from '../../lib/cluster/rest-client.js';
import { subjectAccessReviewClient, tokenReviewClient } from '../../lib/cluster/review-clients.js';
import { authenticate } from '../../lib/koa/authenticate.js';
import { createSecureServer } from '../../lib/server/secure-server.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { chainVerifierStats } from '../../lib/trust/verify-chain.js';
import { authorize } from '../../lib/koa/authorize.js';
import { requestInfo } from '../../lib/koa/request-info.js';
import { authorizer as buildAuthorizer } from './full-stack-authz.js';
import {
  countVerifications,
  onReset,
  readConfig,
  serveListening,
  tlsOptions,
  trivialBody,
  type StatsFn,
} from './child.js';

const cfg = readConfig();
if (!cfg.reviewKubeconfigFile) throw new Error('full-stack needs reviewKubeconfigFile');

const connection = loadConnectionConfig({ kubeconfig: cfg.reviewKubeconfigFile, purpose: 'authorization' });
const rest = new RestClient({
  connection,
  qps: cfg.reviewQps ?? 200,
  ...(cfg.reviewConnections !== undefined && { connections: cfg.reviewConnections }),
});

// Count reviews as the server sends them (the audit log counts them again on the kube-apiserver side).
const reviews = { sar: 0, tokenReview: 0 };
onReset(() => {
  reviews.sar = 0;
  reviews.tokenReview = 0;
});
const sarClient = subjectAccessReviewClient(rest);
const countedSar: typeof sarClient = {
  create: (sar, signal) => {
    reviews.sar++;
    return sarClient.create(sar, signal);
  },
};
const trClient = tokenReviewClient(rest);
const tokenAuthenticator = cfg.tokenReview
  ? cachedTokenAuthenticator(
      new TokenReviewAuthenticator({
        client: {
          create: (spec, signal) => {
            reviews.tokenReview++;
            return trClient.create(spec, signal);
          },
        },
      }),
      // Long TTLs keep the steady state cached for a whole run (Go's default is 10 s).
      { authenticationTokenWebhookCacheTtl: 5 * 60_000 },
    )
  : undefined;

const requestHeaderCA = staticCABundle(readFileSync(cfg.requestheaderClientCaFile), 'requestheader-client-ca-file');
const clientCA = staticCABundle(readFileSync(cfg.clientCaFile), 'client-ca-file');
const authz = buildAuthorizer(countedSar, {
  authorizedTtlMs: cfg.authorizedTtlMs ?? 5 * 60_000,
  unauthorizedTtlMs: cfg.unauthorizedTtlMs ?? 5 * 60_000,
});

// Ablation switches for profiling (BENCH_ABLATE=authn,authz,server): which layer costs what.
const ablate = new Set((process.env.BENCH_ABLATE ?? '').split(',').filter(Boolean));
const app = new Koa();
app.silent = true;
// Go's handler chain order: WithRequestInfo, WithAuthentication, WithAuthorization, handler.
if (!ablate.has('authz')) app.use(requestInfo());
if (!ablate.has('authn'))
  app.use(
    authenticate({
      requestHeader: {
        caProvider: requestHeaderCA,
        configProvider: staticRequestHeaderConfig({ allowedNames: cfg.requestheaderAllowedNames ?? [] }),
      },
      clientCA,
      ...(tokenAuthenticator && { tokenAuthenticator }),
    }),
  );
if (!ablate.has('authz')) app.use(authorize({ authorizer: authz.authorizer }));
app.use((ctx) => {
  ctx.type = 'application/json';
  ctx.body = trivialBody;
});

const plain = ablate.has('server') ? createServer(tlsOptions(cfg), app.callback()) : undefined;
if (plain) await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
const secure = plain
  ? { server: plain, port: (plain.address() as AddressInfo).port }
  : createSecureServer({
      handler: app.callback(),
      tlsCertFile: cfg.servingCertFile,
      tlsPrivateKeyFile: cfg.servingKeyFile,
      clientCA,
      requestHeaderCA,
      bindAddress: '127.0.0.1',
      securePort: 0,
    });
if (!plain) await (secure as ReturnType<typeof createSecureServer>).listen();
const verification: StatsFn = cfg.countVerifications ? await countVerifications(secure.server) : () => ({});
onReset(() => {
  chainVerifierStats.verifications = 0;
});
serveListening(secure.server, secure.port, () => ({
  ...verification(),
  chainVerifications: chainVerifierStats.verifications,
  reviews: { ...reviews },
  authzCache: authz.stats(),
  ...(tokenAuthenticator && { tokenCache: tokenAuthenticator.stats() }),
}));
