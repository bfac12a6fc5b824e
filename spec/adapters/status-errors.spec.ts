// Issue 13 items 2-3: one Status error API (`statusError()` / `KubeStatusError`) and one error handler behaviour in
// Koa, Express and Fastify (`statusErrorHandler()`): the Status as built, a 4xx client error as a Status with its
// message, anything else Go's panic text with nothing of the error in the body. Plus the Koa per-route guard
// (`authorizeRoute()`, with a tiny router since @koa/router is not installed) and Fastify's `authenticated()`.
// Real TLS; the route handlers are the test's.
import { expect } from 'chai';
import express from 'express';
import Koa, { type Middleware } from 'koa';
import { fetch, type Agent } from 'undici';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import { staticPolicyAuthorizer } from '../../lib/authz/static-policy.js';
import { KdaError } from '../../lib/errors.js';
import {
  authenticate as expressAuthenticate,
  authorizeRoute as expressAuthorizeRoute,
  delegatedAuthLocals,
  requestInfo as expressRequestInfo,
  statusErrorHandler as expressStatusErrorHandler,
} from '../../lib/express/index.js';
import {
  authenticated,
  authorizeRoute as fastifyAuthorizeRoute,
  delegatedAuth as fastifyDelegatedAuth,
  kubeErrorHandler,
  statusErrorHandler as fastifyStatusErrorHandler,
} from '../../lib/fastify/index.js';
import { KubeStatusError, panicResponse, statusError, statusFailure } from '../../lib/http/status.js';
import {
  authenticate,
  authorizeRoute,
  requestInfo,
  statusErrorHandler as koaStatusErrorHandler,
  type DelegatedAuthKoaState,
} from '../../lib/koa/index.js';
import { startFastifyTls } from '../support/adapters.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';

const secret = '/work/secret/internal/store.ts:42:7';

/** What each route throws, and the exact answer every framework must give. */
const cases: readonly { name: string; error: () => unknown; status: number; body: string; contentType: string }[] = [
  {
    name: 'statusError(404, NotFound, ..., details)',
    error: () =>
      statusError(404, 'NotFound', 'widgets "a" not found', { name: 'a', group: 'example.com', kind: 'widgets' }),
    status: 404,
    body: statusFailure(404, 'NotFound', 'widgets "a" not found', { name: 'a', group: 'example.com', kind: 'widgets' })
      .body,
    contentType: 'application/json',
  },
  {
    name: 'a 503 KubeStatusError with Retry-After',
    error: () =>
      new KubeStatusError(
        503,
        'ServiceUnavailable',
        'storage <warming up>',
        { retryAfterSeconds: 2 },
        {
          headers: { 'retry-after': '2' },
        },
      ),
    status: 503,
    // Go's HTML-safe JSON: < and > escaped.
    body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"storage \\u003cwarming up\\u003e","reason":"ServiceUnavailable","details":{"retryAfterSeconds":2},"code":503}\n',
    contentType: 'application/json',
  },
  {
    name: 'an http-errors style 409 (status + expose)',
    error: () => Object.assign(new Error('already there'), { status: 409, expose: true }),
    status: 409,
    body: statusFailure(409, 'Conflict', 'already there').body,
    contentType: 'application/json',
  },
  {
    name: 'an unexpected error (message naming a file, a stack)',
    error: () => new Error(`ENOENT: ${secret}`),
    status: 500,
    body: panicResponse.body,
    contentType: 'text/plain; charset=utf-8',
  },
  {
    name: 'a 4xx with expose: false',
    error: () => Object.assign(new Error(`bad ${secret}`), { status: 400, expose: false }),
    status: 500,
    body: panicResponse.body,
    contentType: 'text/plain; charset=utf-8',
  },
  {
    name: 'a thrown string',
    error: () => secret,
    status: 500,
    body: panicResponse.body,
    contentType: 'text/plain; charset=utf-8',
  },
];

let current: () => unknown = () => undefined;
const throwCurrent = () => {
  throw current();
};

const frameworks: readonly { name: string; start(): Promise<TestTlsServer> }[] = [
  {
    name: 'koa statusErrorHandler()',
    start() {
      const app = new Koa();
      app.silent = true;
      app.use(koaStatusErrorHandler());
      app.use(() => throwCurrent());
      return startTlsServer(app.callback());
    },
  },
  {
    name: 'express statusErrorHandler()',
    start() {
      const app = express();
      app.get('/{*splat}', () => throwCurrent());
      app.use(expressStatusErrorHandler());
      return startTlsServer(app);
    },
  },
  {
    name: 'fastify statusErrorHandler()',
    start: () =>
      startFastifyTls(async (app) => {
        app.setErrorHandler(fastifyStatusErrorHandler());
        app.get('/*', async () => throwCurrent());
      }),
  },
];

describe('adapters: Status errors and the framework error handlers', () => {
  let agent: Agent;
  before(() => {
    agent = clientAgent();
  });
  after(() => agent.close());

  it('KubeStatusError refuses a code that is not an HTTP error', () => {
    expect(() => statusError(200, 'OK', 'fine')).to.throw(RangeError);
    expect(() => statusError(600, '', 'x')).to.throw(RangeError);
    const e = statusError(422, 'Invalid', 'spec.size: must be positive');
    expect(e).to.include({ status: 422, statusCode: 422, expose: true, reason: 'Invalid' });
    expect(e).to.be.instanceOf(Error);
  });

  it("fastify's kubeErrorHandler is the same handler under its former name", () => {
    expect(kubeErrorHandler).to.equal(fastifyStatusErrorHandler);
  });

  for (const framework of frameworks) {
    describe(framework.name, () => {
      let server: TestTlsServer;
      before(async () => {
        server = await framework.start();
      });
      after(() => server.close());
      for (const c of cases) {
        it(`${c.name} → ${c.status}`, async () => {
          current = c.error;
          const r = await fetch(`${server.url}/x`, { dispatcher: agent });
          const body = await r.text();
          expect(r.status).to.equal(c.status);
          expect(r.headers.get('content-type')).to.equal(c.contentType);
          expect(body).to.equal(c.body);
          expect(body).to.not.contain('/work/');
          expect(body).to.not.match(/<html|at .*\.ts/i);
        });
      }
    });
  }
});

describe('koa: authorizeRoute() as a per-route guard', () => {
  let server: TestTlsServer;
  let agent: Agent;
  before(async () => {
    agent = clientAgent();
    const authorizer = staticPolicyAuthorizer({
      rules: [{ users: ['system:anonymous'], verbs: ['get'], nonResourceURLs: ['/metrics'] }],
    } as never);
    const authenticator = newDelegatingAuthenticator({ anonymous: true });
    const stack = { pipelineOptions: () => ({ authenticator, authorizer }) };
    // A tiny router in the shape of @koa/router's `router.get(path, ...middleware)` (not installed here).
    const routes = new Map<string, Middleware<DelegatedAuthKoaState>[]>();
    const get = (path: string, ...mw: Middleware<DelegatedAuthKoaState>[]) => routes.set(path, mw);
    get('/widgets', authorizeRoute(stack, { verb: 'get', path: '/metrics', resourceRequest: false }), (ctx) => {
      ctx.body = `hello ${ctx.state.user.name} (${ctx.state.attributes?.path})`;
    });
    get('/secrets', authorizeRoute(stack, { verb: 'get', path: '/secrets', resourceRequest: false }), (ctx) => {
      ctx.body = 'leaked';
    });
    const app = new Koa<DelegatedAuthKoaState>();
    app.silent = true;
    app.use(requestInfo(stack));
    app.use(authenticate(stack));
    app.use(async (ctx, next) => {
      const chain = routes.get(ctx.path);
      if (!chain) return next();
      let i = 0;
      const run = (): Promise<void> => Promise.resolve(chain[i++]?.(ctx, run));
      await run();
    });
    server = await startTlsServer(app.callback());
  });
  after(async () => {
    await server.close();
    await agent.close();
  });

  it("authorizes the route's own attributes and runs the route", async () => {
    const r = await fetch(`${server.url}/widgets`, { dispatcher: agent });
    expect(r.status).to.equal(200);
    expect(await r.text()).to.equal('hello system:anonymous (/metrics)');
  });

  it('refuses with the Kubernetes 403 when the route attributes are not allowed, without running the route', async () => {
    const r = await fetch(`${server.url}/secrets`, { dispatcher: agent });
    const body = await r.text();
    expect(r.status).to.equal(403);
    expect(JSON.parse(body)).to.include({ kind: 'Status', reason: 'Forbidden', code: 403 });
    expect(JSON.parse(body).message).to.contain('cannot get path "/secrets"');
    expect(body).to.not.contain('leaked');
  });

  it('refuses a bad override at construction', () => {
    const stack = { pipelineOptions: () => ({ authorizer: staticPolicyAuthorizer({ rules: [] } as never) }) };
    expect(() => authorizeRoute(stack, null as never)).to.throw(TypeError, /override/);
  });
});

describe('fastify: authenticated() gives routes a non-null kubeAuth', () => {
  let server: TestTlsServer;
  let agent: Agent;
  before(async () => {
    agent = clientAgent();
    const authenticator = newDelegatingAuthenticator({ anonymous: true });
    server = await startFastifyTls(async (app) => {
      await app.register(fastifyDelegatedAuth({ authenticator }));
      app.setErrorHandler(fastifyStatusErrorHandler());
      app.get(
        '/me',
        authenticated(async (request) => ({ user: request.kubeAuth.user.name })),
      );
    });
  });
  after(async () => {
    await server.close();
    await agent.close();
  });

  it('a guarded route reads request.kubeAuth.user', async () => {
    const r = await fetch(`${server.url}/me`, { dispatcher: agent });
    expect(r.status).to.equal(200);
    expect(await r.json()).to.deep.equal({ user: 'system:anonymous' });
  });

  it('fails closed on a request the plugin did not authenticate (kubeAuth null): ERR_KDA_NO_USER, never anonymous', () => {
    const route = authenticated(async (request) => request.kubeAuth.user.name);
    let thrown: unknown;
    try {
      void route({ kubeAuth: null } as never, {} as never);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(KdaError);
    expect((thrown as KdaError).code).to.equal('ERR_KDA_NO_USER');
  });
});

describe('express and fastify: authorizeRoute() answers as the Koa guard does', () => {
  const authorizer = staticPolicyAuthorizer({
    rules: [{ users: ['system:anonymous'], verbs: ['get'], nonResourceURLs: ['/metrics'] }],
  } as never);
  const authenticator = newDelegatingAuthenticator({ anonymous: true });
  const stack = { pipelineOptions: () => ({ authenticator, authorizer }) };
  const allowed = { verb: 'get', path: '/metrics', resourceRequest: false } as const;
  const denied = { verb: 'get', path: '/secrets', resourceRequest: false } as const;

  const servers: readonly { name: string; start(): Promise<TestTlsServer> }[] = [
    {
      name: 'express',
      start() {
        const app = express();
        app.use(expressRequestInfo(stack), expressAuthenticate(stack));
        app.get('/widgets', expressAuthorizeRoute(stack, allowed), (_req, res) => {
          const locals = delegatedAuthLocals(res);
          res.type('text/plain').send(`hello ${locals.user?.name} (${locals.attributes?.path})`);
        });
        app.get('/secrets', expressAuthorizeRoute(stack, denied), (_req, res) => void res.send('leaked'));
        return startTlsServer(app);
      },
    },
    {
      name: 'fastify',
      start: () =>
        startFastifyTls(async (app) => {
          // Authentication only in the plugin; authorization per route.
          await app.register(fastifyDelegatedAuth({ authenticator }));
          app.get(
            '/widgets',
            { onRequest: fastifyAuthorizeRoute(stack, allowed) },
            authenticated(async (request, reply) => {
              reply.type('text/plain');
              return `hello ${request.kubeAuth.user.name} (${request.kubeAuth.attributes?.path})`;
            }),
          );
          app.get('/secrets', { onRequest: fastifyAuthorizeRoute(stack, denied) }, async () => 'leaked');
        }),
    },
  ];

  let agent: Agent;
  before(() => {
    agent = clientAgent();
  });
  after(() => agent.close());

  for (const framework of servers) {
    it(`${framework.name}: the route's attributes are authorized; a refusal is the Kubernetes 403 and the route does not run`, async () => {
      const server = await framework.start();
      try {
        const ok = await fetch(`${server.url}/widgets`, { dispatcher: agent });
        expect(ok.status).to.equal(200);
        expect(await ok.text()).to.equal('hello system:anonymous (/metrics)');
        const no = await fetch(`${server.url}/secrets`, { dispatcher: agent });
        const body = await no.text();
        expect(no.status).to.equal(403);
        expect(no.headers.get('content-type')).to.equal('application/json');
        expect(JSON.parse(body)).to.include({ kind: 'Status', reason: 'Forbidden', code: 403 });
        expect(JSON.parse(body).message).to.contain('cannot get path "/secrets"');
        expect(body).to.not.contain('leaked');
      } finally {
        await server.close();
      }
    });
  }

  it('fastify: on a route outside the plugin the guard fails closed (500), never runs the route', async () => {
    const server = await startFastifyTls(async (app) => {
      app.get('/widgets', { onRequest: fastifyAuthorizeRoute(stack, allowed) }, async () => 'leaked');
    });
    try {
      const r = await fetch(`${server.url}/widgets`, { dispatcher: agent });
      const body = await r.text();
      expect(r.status).to.equal(500);
      expect(body).to.not.contain('leaked');
    } finally {
      await server.close();
    }
  });
});
