// Issue 12 step 5 / issue 14: a cached SubjectAccessReview answer is given synchronously on the path users take. Each
// adapter is built through its public factory, `delegatedAuth(stack)`, over a stack whose authorizer is the public
// `newDelegatingAuthorizer()` (always-allow groups and paths, then the cached SAR authorizer). The SAR client is an
// in-process counter standing in for kube-apiserver (a real one cannot report how often it was asked; the e2e suite
// covers the real review). Real TLS between the test and each adapter.
import { expect } from 'chai';
import express from 'express';
import Koa from 'koa';
import { fetch, type Agent } from 'undici';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import { newDelegatingAuthorizer } from '../../lib/authz/delegating.js';
import type { Authorizer, SubjectAccessReviewClient } from '../../lib/authz/interfaces.js';
import { staticPolicyAuthorizer } from '../../lib/authz/static-policy.js';
import { createDelegatedAuth } from '../../lib/delegated-auth.js';
import { delegatedAuth as expressDelegatedAuth } from '../../lib/express/index.js';
import { delegatedAuth as fastifyDelegatedAuth } from '../../lib/fastify/index.js';
import type { DelegatedAuthPipelineSource } from '../../lib/http/pipeline.js';
import { delegatedAuth as koaDelegatedAuth } from '../../lib/koa/index.js';
import { delegatedAuth as nodeDelegatedAuth } from '../../lib/node-http/index.js';
import { startFastifyTls } from '../support/adapters.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';

interface Counted {
  readonly stack: DelegatedAuthPipelineSource;
  /** SubjectAccessReviews sent, `authorize()` (async path) and `authorizeSync()` (fast path) calls. */
  readonly calls: { reviews: number; authorize: number; authorizeSync: number; syncAnswered: number };
}

/** A stack as createDelegatedAuth() hands it to adapters, with the delegating authorizer's two paths counted. */
function countedStack(allowed = true): Counted {
  const calls = { reviews: 0, authorize: 0, authorizeSync: 0, syncAnswered: 0 };
  const client: SubjectAccessReviewClient = {
    async create() {
      calls.reviews++;
      return { allowed, reason: allowed ? 'rbac says yes' : 'rbac says no' };
    },
  };
  const delegating = newDelegatingAuthorizer({ client, authorizationAlwaysAllowPaths: [] });
  expect(delegating.authorizeSync, 'newDelegatingAuthorizer keeps the fast path').to.be.a('function');
  const authorizer: Authorizer = {
    authorize(attrs, signal) {
      calls.authorize++;
      return delegating.authorize(attrs, signal);
    },
    authorizeSync(attrs) {
      calls.authorizeSync++;
      const r = delegating.authorizeSync!(attrs);
      if (r !== undefined) calls.syncAnswered++;
      return r;
    },
  };
  const authenticator = newDelegatingAuthenticator({ anonymous: true });
  return { stack: { pipelineOptions: () => ({ authenticator, authorizer }) }, calls };
}

const ok = (res: { statusCode: number; setHeader(k: string, v: string): unknown; end(b: string): unknown }) => {
  res.statusCode = 200;
  res.setHeader('content-type', 'text/plain');
  res.end('ok');
};

const factories: readonly { name: string; start(stack: DelegatedAuthPipelineSource): Promise<TestTlsServer> }[] = [
  {
    name: 'koa delegatedAuth(stack)',
    start(stack) {
      const app = new Koa();
      app.silent = true;
      app.use(koaDelegatedAuth(stack));
      app.use((ctx) => {
        ctx.body = 'ok';
      });
      return startTlsServer(app.callback());
    },
  },
  {
    name: 'express delegatedAuth(stack)',
    start(stack) {
      const app = express();
      app.use(expressDelegatedAuth(stack));
      app.use((_req, res) => ok(res));
      return startTlsServer(app);
    },
  },
  {
    name: 'fastify delegatedAuth(stack)',
    start: (stack) =>
      startFastifyTls(async (app) => {
        await app.register(fastifyDelegatedAuth(stack));
        app.get('/*', async () => 'ok');
      }),
  },
  {
    name: 'node:http delegatedAuth(stack)(handler)',
    start: (stack) => startTlsServer(nodeDelegatedAuth(stack)((_req, res) => ok(res))),
  },
];

describe('adapters: a cached SubjectAccessReview answer takes the synchronous path', () => {
  let agent: Agent;
  before(() => {
    agent = clientAgent();
  });
  after(() => agent.close());

  for (const factory of factories) {
    describe(factory.name, () => {
      it('sends one review, then answers the same request from the cache without awaiting authorize()', async () => {
        const { stack, calls } = countedStack(true);
        const server = await factory.start(stack);
        try {
          const first = await fetch(`${server.url}/apis/example.com/v1/widgets`, { dispatcher: agent });
          expect(first.status).to.equal(200);
          await first.text();
          expect(calls).to.deep.include({ reviews: 1, authorize: 1 });
          for (let i = 0; i < 3; i++) {
            const again = await fetch(`${server.url}/apis/example.com/v1/widgets`, {
              dispatcher: agent,
            });
            expect(again.status).to.equal(200);
            expect(await again.text()).to.equal('ok');
          }
          expect(calls.reviews, 'no new review').to.equal(1);
          expect(calls.authorize, 'the async path is not taken for a cached answer').to.equal(1);
          expect(calls.syncAnswered).to.equal(3);
        } finally {
          await server.close();
        }
      });

      it('a cached denial is answered synchronously too, with the same 403', async () => {
        const { stack, calls } = countedStack(false);
        const server = await factory.start(stack);
        try {
          const bodies: string[] = [];
          for (let i = 0; i < 2; i++) {
            const r = await fetch(`${server.url}/api/v1/namespaces/a/pods`, { dispatcher: agent });
            expect(r.status).to.equal(403);
            bodies.push(await r.text());
          }
          expect(bodies[1]).to.equal(bodies[0]);
          expect(bodies[0]).to.contain('rbac says no');
          expect(calls).to.deep.include({ reviews: 1, authorize: 1, syncAnswered: 1 });
        } finally {
          await server.close();
        }
      });

      it('a different request is not answered from the cache (one more review)', async () => {
        const { stack, calls } = countedStack(true);
        const server = await factory.start(stack);
        try {
          for (const path of ['/api/v1/namespaces/a/pods', '/api/v1/namespaces/b/pods']) {
            const r = await fetch(`${server.url}${path}`, { dispatcher: agent });
            expect(r.status).to.equal(200);
            await r.text();
          }
          expect(calls).to.deep.include({ reviews: 2, authorize: 2, syncAnswered: 0 });
        } finally {
          await server.close();
        }
      });
    });
  }

  it('createDelegatedAuth() (local mode) hands adapters an authorizer with the fast path for its static rules', () => {
    const stack = createDelegatedAuth({
      mode: 'local',
      requestheaderClientCaFile: '/nonexistent/ca.crt',
      additionalAuthorizers: [staticPolicyAuthorizer({ rules: [] } as never)],
    });
    const { authorizer } = stack.pipelineOptions();
    expect(authorizer?.authorizeSync).to.be.a('function');
    expect(authorizer).to.equal(stack.authorizer);
  });
});
