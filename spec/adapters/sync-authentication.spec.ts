// Issue 14: an identity known without I/O (a front-proxy or client certificate, a cached token) is answered through
// `authenticateRequestSync` on the path users take, `delegatedAuth(stack)` of every adapter, over real TLS with real
// client certificates; an authenticator without that method still works there, and refusals are the same bytes on
// both paths. The authenticator is the public `newDelegatingAuthenticator()` with its two methods counted; the SAR
// client is an in-process stand-in (allowed for everyone; the e2e suite covers the real review).
import { expect } from 'chai';
import express from 'express';
import Koa from 'koa';
import { fetch, type Agent } from 'undici';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import type { RequestAuthenticator } from '../../lib/authn/interfaces.js';
import { newDelegatingAuthorizer } from '../../lib/authz/delegating.js';
import { delegatedAuth as expressDelegatedAuth, delegatedAuthLocals } from '../../lib/express/index.js';
import { delegatedAuth as fastifyDelegatedAuth } from '../../lib/fastify/index.js';
import type { DelegatedAuthPipelineSource } from '../../lib/http/pipeline.js';
import { delegatedAuth as koaDelegatedAuth } from '../../lib/koa/index.js';
import { delegatedAuth as nodeDelegatedAuth } from '../../lib/node-http/index.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { startFastifyTls } from '../support/adapters.js';
import { testPki } from '../support/pki.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';

interface Counted {
  readonly stack: DelegatedAuthPipelineSource;
  readonly calls: { async: number; sync: number; syncAnswered: number };
}

/** The public delegating authenticator, its two paths counted; `withSync: false` hides the synchronous one. */
function countedStack(withSync: boolean): Counted {
  const pki = testPki();
  const calls = { async: 0, sync: 0, syncAnswered: 0 };
  const delegating = newDelegatingAuthenticator({
    requestHeader: {
      caProvider: staticCABundle(pki.frontProxyCA.certPem, 'requestheader-client-ca'),
      configProvider: staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] }),
    },
    clientCA: staticCABundle(pki.clientCA.certPem, 'client-ca'),
    anonymous: false,
  });
  expect(delegating.authenticateRequestSync, 'newDelegatingAuthenticator has the fast path').to.be.a('function');
  const authenticator: RequestAuthenticator = {
    authenticateRequest(req, signal) {
      calls.async++;
      return delegating.authenticateRequest(req, signal);
    },
  };
  if (withSync) {
    authenticator.authenticateRequestSync = (req) => {
      calls.sync++;
      const r = delegating.authenticateRequestSync!(req);
      if (r !== undefined) calls.syncAnswered++;
      return r;
    };
  }
  const authorizer = newDelegatingAuthorizer({ client: { create: async () => ({ allowed: true }) } });
  return { stack: { pipelineOptions: () => ({ authenticator, authorizer }) }, calls };
}

const factories: readonly {
  name: string;
  start(stack: DelegatedAuthPipelineSource): Promise<TestTlsServer>;
}[] = [
  {
    name: 'koa delegatedAuth(stack)',
    start(stack) {
      const app = new Koa();
      app.silent = true;
      app.use(koaDelegatedAuth(stack));
      app.use((ctx) => {
        ctx.body = `user=${(ctx.state as { user: { name: string } }).user.name}`;
      });
      return startTlsServer(app.callback());
    },
  },
  {
    name: 'express delegatedAuth(stack)',
    start(stack) {
      const app = express();
      app.use(expressDelegatedAuth(stack));
      app.use((_req, res) => {
        res.end(`user=${delegatedAuthLocals(res).user!.name}`);
      });
      return startTlsServer(app);
    },
  },
  {
    name: 'fastify delegatedAuth(stack)',
    start: (stack) =>
      startFastifyTls(async (app) => {
        await app.register(fastifyDelegatedAuth(stack));
        app.get('/*', async (request) => `user=${request.kubeAuth!.user.name}`);
      }),
  },
  {
    name: 'node:http delegatedAuth(stack)(handler)',
    start: (stack) =>
      startTlsServer(
        nodeDelegatedAuth(stack)((_req, res, state) => {
          res.end(`user=${state.user.name}`);
        }),
      ),
  },
];

describe('adapters: identities known without I/O take the synchronous authentication path', () => {
  let alice: Agent;
  let proxy: Agent;
  let stranger: Agent;
  before(() => {
    const pki = testPki();
    alice = clientAgent(pki.alice);
    proxy = clientAgent(pki.proxy);
    stranger = clientAgent(pki.proxyFromOtherCA);
  });
  after(async () => {
    await Promise.all([alice.close(), proxy.close(), stranger.close()]);
  });

  for (const factory of factories) {
    describe(factory.name, () => {
      it('a client-certificate user and a front-proxy user are answered without authenticateRequest', async () => {
        const { stack, calls } = countedStack(true);
        const server = await factory.start(stack);
        try {
          const url = `${server.url}/apis/example.com/v1/widgets`;
          for (let i = 0; i < 2; i++) {
            const r = await fetch(url, { dispatcher: alice });
            expect(await r.text()).to.equal('user=alice');
            expect(r.status).to.equal(200);
          }
          const viaProxy = await fetch(url, { dispatcher: proxy, headers: { 'x-remote-user': 'bob' } });
          expect(await viaProxy.text()).to.equal('user=bob');
          expect(calls).to.deep.equal({ async: 0, sync: 3, syncAnswered: 3 });
        } finally {
          await server.close();
        }
      });

      it('without authenticateRequestSync the same users get the same answers, through the promise', async () => {
        const { stack, calls } = countedStack(false);
        const server = await factory.start(stack);
        try {
          const url = `${server.url}/apis/example.com/v1/widgets`;
          const r = await fetch(url, { dispatcher: alice });
          expect(await r.text()).to.equal('user=alice');
          const viaProxy = await fetch(url, { dispatcher: proxy, headers: { 'x-remote-user': 'bob' } });
          expect(await viaProxy.text()).to.equal('user=bob');
          expect(calls).to.deep.equal({ async: 2, sync: 0, syncAnswered: 0 });
        } finally {
          await server.close();
        }
      });

      it('a certificate from an unknown CA gets the same 401 on both paths, never an identity', async () => {
        const bodies: string[] = [];
        for (const withSync of [true, false]) {
          const { stack, calls } = countedStack(withSync);
          const server = await factory.start(stack);
          try {
            const r = await fetch(`${server.url}/apis/example.com/v1/widgets`, {
              dispatcher: stranger,
              headers: { 'x-remote-user': 'mallory' },
            });
            expect(r.status).to.equal(401);
            expect(r.headers.get('content-type')).to.equal('application/json');
            bodies.push(await r.text());
            expect(calls.async, withSync ? 'refused at once' : 'refused via the promise').to.equal(withSync ? 0 : 1);
          } finally {
            await server.close();
          }
        }
        expect(bodies[0]).to.equal(bodies[1]);
        expect(bodies[0]).to.contain('Unauthorized').and.not.contain('mallory');
      });
    });
  }
});
