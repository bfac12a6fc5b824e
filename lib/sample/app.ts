import Koa from 'koa';
import type { Context, Middleware } from 'koa';
import type { UserInfo } from '../authn/interfaces.js';
import { InvalidOptionError } from '../errors.js';
import { internalError, statusFailure, type HttpResponse } from '../http/status.js';
import { noopLogger, type Logger } from '../log.js';
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  openApiV2,
  openApiV3Discovery,
  openApiV3GroupVersion,
  rootPaths,
  sampleGroup,
  sampleGroupVersion,
  sampleVersion,
} from './discovery.js';
import { pingCheck, runHealthChecks, type HealthCheck } from './health.js';
import { WidgetStore, type Widget } from './widget-store.js';

export interface SampleAppOptions {
  /**
   * The auth pipeline, run in order before any route: normally `[requestInfo(), authenticate(...), authorize(...)]`
   * from `kube-delegated-auth/koa`. Required so that nobody runs the sample unauthenticated by accident; pass `[]`
   * explicitly in tests of the routes alone.
   */
  readonly pipeline: readonly Middleware[];
  /** Extra checks for /readyz (trust sources, shutdown); `ping` is always included. Default none. */
  readonly readinessChecks?: readonly HealthCheck[];
  /** Largest accepted JSON request body, in bytes. Default 1 MiB (kube-apiserver allows 3 MiB; widgets are small). */
  readonly maxBodyBytes?: number;
  /** The widget store; default a fresh in-memory one. */
  readonly store?: WidgetStore;
  readonly logger?: Logger;
}

type Params = Record<string, string>;
type Handler = (ctx: Context, params: Params) => Promise<void> | void;

interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

function send(ctx: Context, r: HttpResponse): void {
  ctx.status = r.status;
  for (const [k, v] of Object.entries(r.headers)) ctx.set(k, v);
  ctx.body = r.body;
}

function sendJson(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body) + '\n';
}

const notFound = (ctx: Context) =>
  send(ctx, statusFailure(404, 'NotFound', 'the server could not find the requested resource', {}));

/** Reads the request body up to `limit` bytes; `undefined` means a response was already written. */
async function readJson(ctx: Context, limit: number, required: boolean): Promise<Record<string, unknown> | undefined> {
  const type = ctx.get('content-type');
  if (type && !/^application\/json\s*(;|$)/i.test(type)) {
    send(
      ctx,
      statusFailure(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json`,
      ),
    );
    return undefined;
  }
  const declared = Number(ctx.get('content-length') || '0');
  const tooLarge = () =>
    send(ctx, statusFailure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`));
  if (declared > limit) {
    tooLarge();
    // Stop reading; the connection is closed after the reply so the rest of the upload is not parsed as a request.
    ctx.set('connection', 'close');
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      tooLarge();
      ctx.set('connection', 'close');
      return undefined;
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    if (!required) return {};
    send(ctx, statusFailure(400, 'BadRequest', 'the request body is empty'));
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    send(ctx, statusFailure(400, 'BadRequest', `the request body is not valid JSON: ${(err as Error).message}`));
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    send(ctx, statusFailure(400, 'BadRequest', 'the request body must be a JSON object'));
    return undefined;
  }
  return parsed as Record<string, unknown>;
}

/** Checks apiVersion/kind of a submitted object the way the apiserver's decoder does. */
function checkTypeMeta(ctx: Context, body: Record<string, unknown>, kind: string): boolean {
  const { apiVersion, kind: k } = body;
  if ((apiVersion !== undefined && apiVersion !== sampleGroupVersion) || (k !== undefined && k !== kind)) {
    send(
      ctx,
      statusFailure(
        400,
        'BadRequest',
        `the API version in the data (${String(apiVersion ?? '')}) or kind (${String(k ?? '')}) does not match the expected ${sampleGroupVersion}, Kind=${kind}`,
      ),
    );
    return false;
  }
  return true;
}

/** The identity `authenticate()` stored; absent only when the pipeline has no authenticator. */
function userOf(ctx: Context): UserInfo | undefined {
  return (ctx.state as { user?: UserInfo }).user;
}

/** authentication.k8s.io/v1 UserInfo JSON: `uid` and `extra` omitted when empty (Go's omitempty). */
function userInfoJson(u: UserInfo): object {
  const extra = Object.keys(u.extra).length > 0 ? { extra: u.extra } : {};
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: [...u.groups], ...extra };
}

const gvPrefix = `/apis/${sampleGroup}/${sampleVersion}`;

/**
 * The sample extension apiserver as a Koa app: discovery, OpenAPI, health, in-memory `widgets` and
 * `selfsubjectreviews`, behind the caller's auth pipeline (RequestInfo → authentication → authorization, Go's
 * filter order).
 */
export function createSampleApp(opts: SampleAppOptions): Koa {
  const problems: string[] = [];
  if (!Array.isArray(opts.pipeline)) problems.push('"pipeline" must be an array of Koa middleware');
  else if (opts.pipeline.some((m) => typeof m !== 'function')) problems.push('"pipeline" must contain only functions');
  if (opts.maxBodyBytes !== undefined && !(Number.isInteger(opts.maxBodyBytes) && opts.maxBodyBytes > 0)) {
    problems.push('"maxBodyBytes" must be a positive integer (bytes)');
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);
  const logger = opts.logger ?? noopLogger;
  const store = opts.store ?? new WidgetStore();
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const readiness = [pingCheck, ...(opts.readinessChecks ?? [])];

  const health =
    (endpoint: string, checks: readonly HealthCheck[]): Handler =>
    (ctx) => {
      const report = runHealthChecks(endpoint, checks, ctx.query.verbose !== undefined);
      for (const f of report.failures) logger.warn({ check: f.name, error: f.error }, `${endpoint} check failed`);
      ctx.status = report.status;
      ctx.set('content-type', 'text/plain; charset=utf-8');
      ctx.set('x-content-type-options', 'nosniff');
      ctx.body = report.body;
    };
  const json =
    (body: () => unknown): Handler =>
    (ctx) =>
      sendJson(ctx, 200, body());

  const widgetNotFound = (ctx: Context, name: string) =>
    send(
      ctx,
      statusFailure(404, 'NotFound', `widgets.${sampleGroup} ${JSON.stringify(name)} not found`, {
        name,
        group: sampleGroup,
        kind: 'widgets',
      }),
    );

  const listWidgets: Handler = (ctx, p) => {
    // `watch` is not in the advertised verbs; answering it with a plain list would confuse `kubectl get -w`.
    const watch = String(ctx.query.watch ?? '');
    if (watch === 'true' || watch === '1') {
      return send(
        ctx,
        statusFailure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {
          group: sampleGroup,
          kind: 'widgets',
        }),
      );
    }
    sendJson(ctx, 200, {
      kind: 'WidgetList',
      apiVersion: sampleGroupVersion,
      metadata: { resourceVersion: store.resourceVersion },
      items: store.list(p.namespace ?? ''),
    });
  };

  const createWidget: Handler = async (ctx, p) => {
    const body = await readJson(ctx, maxBody, true);
    if (!body || !checkTypeMeta(ctx, body, 'Widget')) return;
    const r = store.create(p.namespace!, body);
    if (r.ok) return sendJson(ctx, 201, r.widget);
    if (r.reason === 'AlreadyExists') {
      return send(
        ctx,
        statusFailure(409, 'AlreadyExists', `widgets.${sampleGroup} ${JSON.stringify(r.message)} already exists`, {
          name: r.message,
          group: sampleGroup,
          kind: 'widgets',
        }),
      );
    }
    const name = String((body.metadata as Record<string, unknown> | undefined)?.name ?? '');
    send(
      ctx,
      statusFailure(422, 'Invalid', `Widget.${sampleGroup} ${JSON.stringify(name)} is invalid: ${r.message}`, {
        name,
        group: sampleGroup,
        kind: 'Widget',
      }),
    );
  };

  const getWidget: Handler = (ctx, p) => {
    const w = store.get(p.namespace!, p.name!);
    if (!w) return widgetNotFound(ctx, p.name!);
    sendJson(ctx, 200, w);
  };

  const deleteWidget: Handler = (ctx, p) => {
    const w: Widget | undefined = store.delete(p.namespace!, p.name!);
    if (!w) return widgetNotFound(ctx, p.name!);
    sendJson(ctx, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: w.metadata.name, group: sampleGroup, kind: 'widgets', uid: w.metadata.uid },
    });
  };

  const createSelfSubjectReview: Handler = async (ctx) => {
    const body = await readJson(ctx, maxBody, false);
    if (!body || !checkTypeMeta(ctx, body, 'SelfSubjectReview')) return;
    const user = userOf(ctx);
    if (!user) {
      logger.error({ path: ctx.path }, 'no user on the request: the pipeline has no authenticate() middleware');
      return send(ctx, internalError(ctx.originalUrl, 'no user on request.'));
    }
    sendJson(ctx, 201, {
      kind: 'SelfSubjectReview',
      apiVersion: sampleGroupVersion,
      metadata: { creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      status: { userInfo: userInfoJson(user) },
    });
  };

  const routes: readonly Route[] = [
    { pattern: /^\/$/, methods: { GET: json(rootPaths) } },
    { pattern: /^\/healthz$/, methods: { GET: health('healthz', [pingCheck]) } },
    { pattern: /^\/livez$/, methods: { GET: health('livez', [pingCheck]) } },
    { pattern: /^\/readyz$/, methods: { GET: health('readyz', readiness) } },
    { pattern: /^\/openapi\/v2$/, methods: { GET: json(openApiV2) } },
    { pattern: /^\/openapi\/v3$/, methods: { GET: json(openApiV3Discovery) } },
    { pattern: new RegExp(`^/openapi/v3${gvPrefix}$`), methods: { GET: json(openApiV3GroupVersion) } },
    { pattern: /^\/apis$/, methods: { GET: json(apiGroupList) } },
    { pattern: new RegExp(`^/apis/${sampleGroup}$`), methods: { GET: json(() => apiGroup()) } },
    { pattern: new RegExp(`^${gvPrefix}$`), methods: { GET: json(apiResourceList) } },
    { pattern: new RegExp(`^${gvPrefix}/widgets$`), methods: { GET: listWidgets } },
    {
      pattern: new RegExp(`^${gvPrefix}/namespaces/(?<namespace>[^/]+)/widgets$`),
      methods: { GET: listWidgets, POST: createWidget },
    },
    {
      pattern: new RegExp(`^${gvPrefix}/namespaces/(?<namespace>[^/]+)/widgets/(?<name>[^/]+)$`),
      methods: { GET: getWidget, DELETE: deleteWidget },
    },
    { pattern: new RegExp(`^${gvPrefix}/selfsubjectreviews$`), methods: { POST: createSelfSubjectReview } },
  ];

  const router: Middleware = async function sampleRoutes(ctx) {
    for (const r of routes) {
      const m = r.pattern.exec(ctx.path);
      if (!m) continue;
      const handler = r.methods[ctx.method] ?? (ctx.method === 'HEAD' ? r.methods.GET : undefined);
      if (!handler) {
        ctx.set('allow', Object.keys(r.methods).join(', '));
        return send(
          ctx,
          statusFailure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}),
        );
      }
      const params: Params = {};
      try {
        for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) params[k] = decodeURIComponent(v);
      } catch {
        return notFound(ctx);
      }
      return handler(ctx, params);
    }
    return notFound(ctx);
  };

  const recover: Middleware = async function recoverPanics(ctx, next) {
    try {
      await next();
    } catch (err) {
      // Go's WithPanicRecovery: log the cause, answer a generic 500 in the apiserver's format.
      logger.error({ path: ctx.path, error: (err as Error).message }, 'request handler failed');
      send(ctx, internalError(ctx.originalUrl, 'an error on the server prevented the request from succeeding'));
    }
  };

  const app = new Koa();
  // Client aborts under load are normal; everything else is logged by recover().
  app.silent = true;
  app.use(recover);
  for (const m of opts.pipeline) app.use(m);
  app.use(router);
  return app;
}
