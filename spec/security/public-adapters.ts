// The four framework adapters exactly as a user wires them from the public entry points (kube-delegated-auth/koa,
// /express, /fastify, /node-http), each behind a real TLS server that requests but does not check client
// certificates (verification is the library's job), with a capturing logger. The handler echoes the identity it got.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import type { UserInfo } from '../../lib/authn/interfaces.js';
import { delegatedAuth as expressDelegatedAuth, delegatedAuthLocals } from '../../lib/express/index.js';
import { fastifyDelegatedAuth, kubeFrameworkErrors } from '../../lib/fastify/index.js';
import type { DelegatedAuthPipelineOptions } from '../../lib/http/pipeline.js';
import { authenticate, authorize, requestInfo } from '../../lib/koa/index.js';
import type { Logger } from '../../lib/log.js';
import { withDelegatedAuth } from '../../lib/node-http/index.js';
import { startTlsServer, type TestTlsServer } from '../support/tls-server.js';

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

export function captureLogger(): Logger & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (fields: object, msg: string): void => {
      entries.push({ level, fields: fields as Record<string, unknown>, msg });
    };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** What the echo handler answers for an admitted request. */
export interface EchoBody {
  readonly user: UserInfo;
  readonly authenticator: string;
}

function echo(res: ServerResponse, state: { user?: UserInfo; authenticator?: string }): void {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ user: state.user, authenticator: state.authenticator }));
}

export interface PublicAdapter {
  readonly name: string;
  start(options: DelegatedAuthPipelineOptions): Promise<TestTlsServer>;
}

export const publicAdapters: readonly PublicAdapter[] = [
  {
    name: 'koa requestInfo() + authenticate() + authorize()',
    start: (options) => {
      const app = new Koa();
      app.silent = true;
      app.use(requestInfo(options.logger ? { logger: options.logger } : {}));
      app.use(authenticate(options));
      if (options.authorizer) app.use(authorize({ authorizer: options.authorizer }));
      app.use((ctx) => {
        ctx.respond = false;
        echo(ctx.res, ctx.state as { user?: UserInfo; authenticator?: string });
      });
      return startTlsServer(app.callback());
    },
  },
  {
    name: 'express delegatedAuth()',
    start: (options) => {
      const app = express();
      app.use(expressDelegatedAuth(options));
      app.use((_req, res) => echo(res, delegatedAuthLocals(res)));
      return startTlsServer(app);
    },
  },
  {
    name: 'fastify fastifyDelegatedAuth',
    start: async (options) => {
      let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
      const app = Fastify({
        frameworkErrors: kubeFrameworkErrors,
        serverFactory: (h) => {
          handler = h;
          return createServer();
        },
      });
      await app.register(fastifyDelegatedAuth, options);
      app.all('/*', async (request, reply) => {
        reply.hijack();
        echo(reply.raw, request.kubeAuth ?? {});
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
    start: (options) => startTlsServer(withDelegatedAuth((_req, res, state) => echo(res, state), options)),
  },
];
