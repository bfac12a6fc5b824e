// What users run: one framework (BENCH_SERVER_CONFIG.framework), either bare on node:https (the baseline) or with
// kube-delegated-auth wired exactly as README/docs show it, through the public entry points only (lib/<room>/index.ts,
// the sources of `kube-delegated-auth/<room>`): Koa `delegatedAuth()` on `createSecureServer`, Express
// `delegatedAuth(createDelegatedAuth())`, Fastify `register(delegatedAuth(stack))`,
// node:http `withDelegatedAuth(handler, …)`. Every variant returns the same JSON body as the bare server.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Middleware } from 'koa';
import type { CABundleProvider } from '../../lib/index.js';
import type { DelegatedAuthOptions } from '../../lib/cluster/index.js';
import { countVerifications, readConfig, serveListening, tlsOptions, trivialBody, type ServerConfig } from './child.js';

export type Framework = 'koa' | 'express' | 'fastify' | 'node-http';

const cfg = readConfig();
const framework = cfg.framework ?? 'koa';
const jsonHeaders = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(trivialBody)) };

/** The framework's app as a node request listener, with `auth` installed the way its docs show (or none: bare). */
async function app(auth: AuthWiring | undefined): Promise<{ listener: RequestListener; ready?: () => Promise<void> }> {
  switch (framework) {
    case 'koa': {
      const { default: Koa } = await import('koa');
      const koa = new Koa();
      koa.silent = true;
      if (auth) for (const m of await auth.koa()) koa.use(m);
      koa.use((ctx) => {
        ctx.type = 'application/json';
        ctx.body = trivialBody;
      });
      return { listener: koa.callback() };
    }
    case 'express': {
      const { default: express } = await import('express');
      const e = express();
      e.disable('x-powered-by');
      if (auth) e.use((await auth.express()) as Parameters<typeof e.use>[0]);
      e.use((_req, res) => {
        res.set('content-type', 'application/json');
        res.send(trivialBody);
      });
      return { listener: e as unknown as RequestListener };
    }
    case 'fastify': {
      const { default: Fastify } = await import('fastify');
      let listener: RequestListener | undefined;
      // serverFactory: Fastify's handler on the server we listen on (createSecureServer, or the bare node:https).
      const f = Fastify({
        serverFactory: (handler) => {
          listener = handler as RequestListener;
          return createServer();
        },
      });
      if (auth) await auth.fastify(f);
      f.all('/*', (_req, reply) => {
        void reply.header('content-type', 'application/json').send(trivialBody);
      });
      await f.ready();
      return { listener: (req, res) => listener!(req, res) };
    }
    case 'node-http': {
      const handler = (_req: IncomingMessage, res: ServerResponse) => {
        res.writeHead(200, jsonHeaders);
        res.end(trivialBody);
      };
      return { listener: auth ? await auth.nodeHttp(handler) : handler };
    }
  }
}

interface AuthWiring {
  koa(): Promise<Middleware[]>;
  express(): Promise<unknown>;
  fastify(f: FastifyInstance): Promise<void>;
  nodeHttp(h: (req: IncomingMessage, res: ServerResponse) => void): Promise<RequestListener>;
  trust: {
    clientCA: CABundleProvider;
    requestHeaderCA: CABundleProvider;
  };
}

/** Go's webhook-authorizer LRU bound (the default of every stack here). */
const authzCacheMaxEntries = 8192;
let stackStats: () => Record<string, unknown> = () => ({});
function statsOf(stack: {
  authorizer: { stats(): object | undefined };
  tokenAuthenticator?: { stats(): object } | undefined;
}): () => Record<string, unknown> {
  return () => ({
    authzCache: { ...stack.authorizer.stats(), max: authzCacheMaxEntries },
    ...(stack.tokenAuthenticator && { tokenCache: stack.tokenAuthenticator.stats() }),
  });
}

/** `createDelegatedAuth()` options as a user passes them (Go flag names); long TTLs keep the steady state cached. */
function stackOptions(c: ServerConfig): DelegatedAuthOptions {
  const ttl = c.authorizedTtlMs ?? 5 * 60_000;
  return {
    kubeconfig: c.reviewKubeconfigFile!,
    authorizationAlwaysAllowPaths: ['/healthz', '/readyz', '/livez'],
    authorizationWebhookCacheAuthorizedTtl: ttl,
    authorizationWebhookCacheUnauthorizedTtl: c.unauthorizedTtlMs ?? ttl,
    authenticationTokenWebhookCacheTtl: ttl,
    // The in-process review peer has no ConfigMap: the Go flags' files instead (each overrides its ConfigMap key).
    ...(c.trustFromFiles && {
      clientCaFile: c.clientCaFile,
      requestheaderClientCaFile: c.requestheaderClientCaFile,
      requestheaderAllowedNames: [...(c.requestheaderAllowedNames ?? [])],
    }),
  };
}

async function wiring(c: ServerConfig): Promise<{ auth: AuthWiring; start(): Promise<void> }> {
  if (!c.reviewKubeconfigFile) throw new Error('the delegated-auth variant needs reviewKubeconfigFile');
  if (c.reviewQps !== undefined || c.reviewConnections !== undefined) return assembled(c);
  const { createDelegatedAuth } = await import('../../lib/cluster/index.js');
  const opts = stackOptions(c);
  if (framework === 'koa') {
    // README's example: `delegatedAuth()` from /koa, `app.use(auth.middleware)`.
    const { delegatedAuth } = await import('../../lib/koa/index.js');
    const auth = delegatedAuth(opts);
    stackStats = statsOf(auth);
    return {
      auth: {
        koa: () => Promise.resolve([auth.middleware]),
        express: unsupported,
        fastify: unsupported,
        nodeHttp: unsupported,
        trust: auth.trust,
      },
      start: () => auth.start(),
    };
  }
  const stack = createDelegatedAuth(opts);
  stackStats = statsOf(stack);
  return {
    auth: {
      koa: unsupported,
      async express() {
        const m = await import('../../lib/express/index.js');
        return m.delegatedAuth(stack);
      },
      async fastify(f) {
        const m = await import('../../lib/fastify/index.js');
        await f.register(m.delegatedAuth(stack));
      },
      async nodeHttp(h) {
        const m = await import('../../lib/node-http/index.js');
        return m.withDelegatedAuth(h, stack);
      },
      trust: stack.trust,
    },
    start: () => stack.start(),
  };
}

/**
 * The review-client settings `createDelegatedAuth()` does not expose (QPS, connections to kube-apiserver), for the
 * cache-miss and memory runs: the same parts, assembled from the public exports (root, /cluster, /koa). Koa only.
 */
async function assembled(c: ServerConfig): Promise<{ auth: AuthWiring; start(): Promise<void> }> {
  const root = await import('../../lib/index.js');
  const cluster = await import('../../lib/cluster/index.js');
  const koa = await import('../../lib/koa/index.js');
  const o = stackOptions(c);
  const clients = cluster.createClusterClients({
    kubeconfig: o.kubeconfig!,
    qps: c.reviewQps ?? 200,
    ...(c.reviewConnections !== undefined && { connections: c.reviewConnections }),
  });
  const trust = cluster.extensionApiserverAuthentication({
    client: clients.authentication,
    ...(c.trustFromFiles && {
      clientCaFile: o.clientCaFile!,
      requestheaderClientCaFile: o.requestheaderClientCaFile!,
      requestheaderAllowedNames: o.requestheaderAllowedNames!,
    }),
  });
  const authenticator = root.newDelegatingAuthenticator({
    requestHeader: { caProvider: trust.requestHeaderCA, configProvider: trust.requestHeaderConfig },
    clientCA: trust.clientCA,
    tokenAuthenticator: cluster.delegatedTokenAuthenticator(clients.tokenReview, {
      authenticationTokenWebhookCacheTtl: o.authenticationTokenWebhookCacheTtl!,
    }),
  });
  const authorizer = root.newDelegatingAuthorizer({
    client: clients.subjectAccessReview,
    authorizationAlwaysAllowPaths: o.authorizationAlwaysAllowPaths!,
    authorizationWebhookCacheAuthorizedTtl: o.authorizationWebhookCacheAuthorizedTtl!,
    authorizationWebhookCacheUnauthorizedTtl: o.authorizationWebhookCacheUnauthorizedTtl!,
  });
  const chain = koa.delegatedAuth({
    authenticator,
    authorizer,
    requestHeader: { caProvider: trust.requestHeaderCA, configProvider: trust.requestHeaderConfig },
  });
  stackStats = statsOf({ authorizer });
  return {
    auth: {
      koa: () => Promise.resolve([chain as Middleware]),
      express: unsupported,
      fastify: unsupported,
      nodeHttp: unsupported,
      trust: { clientCA: trust.clientCA, requestHeaderCA: trust.requestHeaderCA },
    },
    async start() {
      await trust.runOnce();
      trust.start();
    },
  };
}

function unsupported(): never {
  throw new Error(`not wired for ${framework}`);
}

let server: Server;
let port: number;
if (cfg.bare && cfg.bareOnSecureServer) {
  const { listener } = await app(undefined);
  const { fileCABundle } = await import('../../lib/index.js');
  const clientCA = fileCABundle(cfg.clientCaFile);
  const requestHeaderCA = fileCABundle(cfg.requestheaderClientCaFile);
  await clientCA.runOnce();
  await requestHeaderCA.runOnce();
  const { createSecureServer } = await import('../../lib/server/index.js');
  const secure = createSecureServer({
    handler: listener,
    tlsCertFile: cfg.servingCertFile,
    tlsPrivateKeyFile: cfg.servingKeyFile,
    clientCA,
    requestHeaderCA,
    bindAddress: '127.0.0.1',
    securePort: 0,
  });
  await secure.listen();
  server = secure.server;
  port = secure.port;
} else if (cfg.bare) {
  const { listener } = await app(undefined);
  server = createServer(tlsOptions(cfg), listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
} else {
  const w = await wiring(cfg);
  await w.start();
  const { listener } = await app(w.auth);
  const { createSecureServer } = await import('../../lib/server/index.js');
  const secure = createSecureServer({
    handler: listener,
    tlsCertFile: cfg.servingCertFile,
    tlsPrivateKeyFile: cfg.servingKeyFile,
    clientCA: w.auth.trust.clientCA,
    requestHeaderCA: w.auth.trust.requestHeaderCA,
    bindAddress: '127.0.0.1',
    securePort: 0,
  });
  await secure.listen();
  server = secure.server;
  port = secure.port;
}
const verification = cfg.countVerifications ? await countVerifications(server) : () => ({});
serveListening(server, port, () => ({ ...verification(), ...stackStats() }));
