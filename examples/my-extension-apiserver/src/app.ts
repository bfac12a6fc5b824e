// The API: one namespaced resource, `greetings.hello.example.com/v1alpha1`, kept in memory (each replica has its
// own; a real server stores it somewhere shared, e.g. a CRD, a database or etcd), plus the discovery documents the
// aggregator and kubectl read. Every request is authenticated and authorized by `auth.middleware` first.
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Middleware } from 'koa';

export const group = 'hello.example.com';
export const version = 'v1alpha1';
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

export function greetingsApi(servedBy: string): Middleware {
  const store = new Map<string, Greeting>();
  return async function greetings(ctx, next) {
    // Which replica answered: lets you (and the e2e suite) see the load spread over the replicas.
    if (servedBy) ctx.set('x-served-by', servedBy);
    if (ctx.path === '/apis' && ctx.method === 'GET') {
      const gv = { groupVersion, version };
      ctx.body = {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [{ name: group, versions: [gv], preferredVersion: gv }],
      };
      return;
    }
    if (ctx.path === `/apis/${group}` && ctx.method === 'GET') {
      const gv = { groupVersion, version };
      ctx.body = { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: [gv], preferredVersion: gv };
      return;
    }
    if (ctx.path === gvPath && ctx.method === 'GET') {
      ctx.body = {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion,
        resources: [
          {
            name: 'greetings',
            singularName: 'greeting',
            namespaced: true,
            kind: 'Greeting',
            verbs: ['create', 'get', 'list'],
          },
        ],
      };
      return;
    }
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
