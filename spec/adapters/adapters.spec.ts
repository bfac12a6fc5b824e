import { subscribe, unsubscribe } from 'node:diagnostics_channel';
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
  W,
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

      it('publishes the same kube-delegated-auth:authn and :authz diagnostics events as Koa', async () => {
        const events: string[] = [];
        const onAuthn = (m: unknown) => {
          const e = m as { result: string; authenticator?: string; peerCertificates?: readonly unknown[] };
          events.push(`authn ${e.result} ${e.authenticator ?? '-'} certs=${e.peerCertificates?.length}`);
        };
        const onAuthz = (m: unknown) => {
          const e = m as { result: string; attributes: { path: string } };
          events.push(`authz ${e.result} ${e.attributes.path}`);
        };
        subscribe('kube-delegated-auth:authn', onAuthn);
        subscribe('kube-delegated-auth:authz', onAuthz);
        try {
          for (const [agent, path, headers] of [
            [agents.proxy, `${W}/namespaces/default/flunders`, ['X-Remote-User', 'alice']],
            [agents.proxyOtherCN, '/whoami', ['X-Remote-User', 'alice']],
            [agents.none, '/metrics', []],
          ] as const) {
            const res = await agent.request({ origin: server.url, path, method: 'GET', headers: [...headers] });
            await res.body.text();
          }
        } finally {
          unsubscribe('kube-delegated-auth:authn', onAuthn);
          unsubscribe('kube-delegated-auth:authz', onAuthz);
        }
        expect(events).to.deep.equal([
          'authn success requestheader certs=1',
          `authz allowed ${W}/namespaces/default/flunders`,
          'authn error - certs=1',
          'authn success anonymous certs=0',
          'authz no-opinion /metrics',
        ]);
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
