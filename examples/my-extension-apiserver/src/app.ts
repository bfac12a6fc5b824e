// The app: the delegated authn/authz middleware first (Go's handler chain), then kube-delegated-auth/apiserver's
// blocks (/healthz /livez /readyz, discovery with aggregated v2, OpenAPI v2/v3, all built from src/api.ts), then one
// namespaced resource, `greetings.hello.example.com/v1alpha1`, kept in memory (each replica has its own; a real server
// stores it somewhere shared, e.g. a CRD, a database or etcd).
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import type { Middleware } from 'koa';
import type { Logger } from 'kube-delegated-auth';
import {
  discoveryEndpoints,
  healthEndpoints,
  openApiEndpoints,
  serveBlocks,
  type HealthCheck,
} from 'kube-delegated-auth/apiserver';
import { group, helloApi, version } from './api.js';

const groupVersion = `${group}/${version}`;

interface Greeting {
  apiVersion: string;
  kind: 'Greeting';
  metadata: { name: string; namespace: string; uid: string; creationTimestamp: string };
  spec: { message: string };
}

/** A Kubernetes Status error body, as kubectl expects it. */
function status(ctx: Koa.Context, code: number, reason: string, message: string): void {
  ctx.status = code;
  ctx.body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const gvPath = `/apis/${groupVersion}`;
const collection = new RegExp(`^${gvPath.replace(/\./g, '\\.')}/namespaces/([a-z0-9-]+)/greetings/?$`);
const item = new RegExp(`^${gvPath.replace(/\./g, '\\.')}/namespaces/([a-z0-9-]+)/greetings/([a-z0-9.-]+)$`);

async function readJson(ctx: Koa.Context, limit = 64 * 1024): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function greetingsApi(): Middleware {
  const store = new Map<string, Greeting>();
  return async function greetings(ctx, next) {
    const list = collection.exec(ctx.path);
    if (list) {
      const namespace = list[1]!;
      if (ctx.method === 'GET') {
        ctx.body = {
          kind: 'GreetingList',
          apiVersion: groupVersion,
          metadata: {},
          items: [...store.values()].filter((g) => g.metadata.namespace === namespace),
        };
        return;
      }
      if (ctx.method === 'POST') {
        let body: { metadata?: { name?: unknown }; spec?: { message?: unknown } };
        try {
          body = (await readJson(ctx)) as typeof body;
        } catch (err) {
          const tooLarge = (err as { status?: number }).status === 413;
          status(ctx, tooLarge ? 413 : 400, tooLarge ? 'RequestEntityTooLarge' : 'BadRequest', (err as Error).message);
          return;
        }
        const name = body?.metadata?.name;
        const message = body?.spec?.message;
        if (typeof name !== 'string' || !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name)) {
          status(ctx, 422, 'Invalid', 'metadata.name: must be a DNS subdomain');
          return;
        }
        if (typeof message !== 'string') {
          status(ctx, 422, 'Invalid', 'spec.message: must be a string');
          return;
        }
        const key = `${namespace}/${name}`;
        if (store.has(key)) {
          status(ctx, 409, 'AlreadyExists', `greetings.${group} "${name}" already exists`);
          return;
        }
        const greeting: Greeting = {
          apiVersion: groupVersion,
          kind: 'Greeting',
          metadata: { name, namespace, uid: randomUUID(), creationTimestamp: new Date().toISOString() },
          spec: { message },
        };
        store.set(key, greeting);
        ctx.status = 201;
        ctx.body = greeting;
        return;
      }
      status(ctx, 405, 'MethodNotAllowed', `${ctx.method} is not supported on greetings`);
      return;
    }
    const one = item.exec(ctx.path);
    if (one && ctx.method === 'GET') {
      const found = store.get(`${one[1]}/${one[2]}`);
      if (found) ctx.body = found;
      else status(ctx, 404, 'NotFound', `greetings.${group} "${one[2]}" not found`);
      return;
    }
    await next();
    if (ctx.status === 404 && ctx.body === undefined)
      status(ctx, 404, 'NotFound', 'the server could not find the requested resource');
  };
}

/**
 * The blocks as one Koa middleware: answered requests are written as the block built them (Koa would set its own
 * content-type for a string body); the others go on to the resources.
 */
function apiserverBlocks(readyzChecks: readonly HealthCheck[], logger: Logger): Middleware {
  const serve = serveBlocks(
    healthEndpoints({ readyzChecks, logger }), // failing checks are logged with their cause (the answer withholds it)
    discoveryEndpoints([helloApi]),
    openApiEndpoints([helloApi], { title: 'my-extension-apiserver' }),
  );
  return async (ctx, next) => {
    if (!(await serve(ctx.req, ctx.res))) return next();
    ctx.respond = false;
  };
}

/** Go's httplog at `-v=3`: one line per request (the verb, URI, status, client, and the Accept it negotiated). */
function accessLog(logger: Logger): Middleware {
  return (ctx, next) => {
    const start = process.hrtime.bigint();
    // On finish: the blocks write their answer themselves (ctx.respond = false), Koa writes the others after next().
    ctx.res.once('finish', () =>
      logger.info(
        {
          verb: ctx.method,
          URI: ctx.originalUrl,
          resp: ctx.res.statusCode,
          latency: `${Number(process.hrtime.bigint() - start) / 1e6}ms`,
          userAgent: ctx.get('user-agent'),
          accept: ctx.get('accept'),
          user: (ctx.state as { user?: { name?: string } }).user?.name,
        },
        'HTTP',
      ),
    );
    return next();
  };
}

export interface AppOptions {
  /** The delegated authn/authz middleware (`delegatedAuth()` of kube-delegated-auth/koa). */
  readonly auth: Middleware;
  /** /readyz's checks besides `ping`: the trust sources and the graceful shutdown's `shutdown`. */
  readonly readyzChecks: readonly HealthCheck[];
  readonly logger: Logger;
  /** `X-Served-By` on every response (the pod name), to see the load spread over replicas. Empty: none. */
  readonly servedBy?: string;
  /** Log every request (`-v=3` and up). */
  readonly logRequests?: boolean;
}

export function createApp(opts: AppOptions): Koa {
  const app = new Koa();
  app.silent = true; // errors are answered as Status bodies and logged by us, never with a stack
  if (opts.logRequests) app.use(accessLog(opts.logger));
  if (opts.servedBy) {
    const servedBy = opts.servedBy;
    app.use((ctx, next) => {
      ctx.set('x-served-by', servedBy);
      return next();
    });
  }
  app.use(opts.auth); // /healthz, /livez, /readyz are always allowed (Go's --authorization-always-allow-paths)
  app.use(apiserverBlocks(opts.readyzChecks, opts.logger));
  app.use(greetingsApi());
  return app;
}
