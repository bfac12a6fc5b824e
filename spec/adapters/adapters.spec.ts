import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import type { Agent } from 'undici';
import type { UserInfo } from '../../lib/authn/interfaces.js';
import { delegatedAuth as expressDelegatedAuth, delegatedAuthLocals } from '../../lib/express/delegated-auth.js';
import { fastifyDelegatedAuth, kubeFrameworkErrors } from '../../lib/fastify/delegated-auth.js';
import { authenticate } from '../../lib/koa/authenticate.js';
import { authorize } from '../../lib/koa/authorize.js';
import { requestInfo } from '../../lib/koa/request-info.js';
import { withDelegatedAuth } from '../../lib/node-http/with-delegated-auth.js';
import { testPki } from '../support/pki.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';
import {
  adapterCases,
  adapterOptions,
  identityHeaderLines,
  pickHeaders,
  type ClientIdentity,
  type Echo,
} from './table.js';

/** The handler every adapter ends in: echoes what it was given and which identity headers it can still see. */
function echo(req: IncomingMessage, res: ServerResponse, state: { user?: UserInfo; authenticator?: string }): void {
  const headerObjectLeft = Object.keys(req.headers).filter((n) => n === 'authorization' || n.startsWith('x-remote-'));
  const body: Echo = {
    user: state.user!,
    authenticator: state.authenticator!,
    identityHeaders: [...identityHeaderLines(req.rawHeaders), ...headerObjectLeft.map((n) => `headers.${n}`)],
  };
  // Koa presets 404 until a body is set; this handler bypasses Koa's response.
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

type Start = () => Promise<TestTlsServer>;

const adapters: readonly { name: string; start: Start }[] = [
  {
    name: 'koa (reference)',
    start: () => {
      const opts = adapterOptions();
      const app = new Koa();
      app.silent = true;
      app.use(requestInfo());
      app.use(authenticate(opts));
      app.use(authorize({ authorizer: opts.authorizer }));
      app.use((ctx) => {
        ctx.respond = false;
        echo(ctx.req, ctx.res, ctx.state as { user?: UserInfo; authenticator?: string });
      });
      return startTlsServer(app.callback());
    },
  },
  {
    name: 'express delegatedAuth()',
    start: () => {
      const app = express();
      app.use(expressDelegatedAuth(adapterOptions()));
      app.use((req, res) => echo(req, res, delegatedAuthLocals(res)));
      return startTlsServer(app);
    },
  },
  {
    name: 'fastify plugin',
    start: async () => {
      let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
      // The TLS server is the test's; Fastify only contributes its request handler.
      const app = Fastify({
        frameworkErrors: kubeFrameworkErrors,
        serverFactory: (h) => {
          handler = h;
          return createServer();
        },
      });
      await app.register(fastifyDelegatedAuth, adapterOptions());
      app.all('/*', async (request, reply) => {
        reply.hijack();
        echo(request.raw, reply.raw, request.kubeAuth ?? {});
      });
      await app.ready();
      const server = await startTlsServer((req, res) => handler!(req, res));
      return {
        ...server,
        async close() {
          await server.close();
          await app.close();
        },
      };
    },
  },
  {
    name: 'node:http withDelegatedAuth()',
    start: () => startTlsServer(withDelegatedAuth((req, res, state) => echo(req, res, state), adapterOptions())),
  },
];

describe('adapters: one authentication/authorization table over HTTPS', () => {
  const pki = testPki();
  const agents: Record<ClientIdentity, Agent> = {
    none: clientAgent(),
    proxy: clientAgent(pki.proxy),
    proxyOtherCN: clientAgent(pki.proxyOtherCN),
    alice: clientAgent(pki.alice),
  };
  after(async () => {
    await Promise.all(Object.values(agents).map((a) => a.close()));
  });

  for (const adapter of adapters) {
    describe(adapter.name, () => {
      let server: TestTlsServer;
      before(async () => {
        server = await adapter.start();
      });
      after(async () => {
        await server?.close();
      });

      for (const c of adapterCases) {
        it(c.name, async () => {
          const res = await agents[c.client].request({
            origin: server.url,
            path: c.path,
            method: c.method ?? 'GET',
            headers: (c.headers ?? []).flat(),
          });
          const text = await res.body.text();
          expect(res.statusCode, text).to.equal(c.status);
          if (c.body !== undefined) expect(text).to.equal(c.body);
          if (c.echo) expect(JSON.parse(text)).to.deep.equal(c.echo);
          if (c.responseHeaders) {
            const names = Object.keys(c.responseHeaders);
            expect(pickHeaders(res.headers, names)).to.deep.equal(c.responseHeaders);
          }
        });
      }
    });
  }
});
