// The four framework adapters, each built through its public factory exactly as a user wires it (Koa
// delegatedAuthChain(), Express delegatedAuth(), the Fastify plugin, node:http withDelegatedAuth()), on real TLS, each
// ending in a handler that reports the path its framework routed on, the attributes that were authorized and the
// headers it can still see. Raw TLS sockets write the request line as given (HTTP clients normalise targets).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import { tokenAuthenticatorFunc, type UserInfo } from '../../lib/authn/interfaces.js';
import { Decision, authorizerFunc, type Authorizer, type RequestAttributes } from '../../lib/authz/interfaces.js';
import type { DelegatingAuthorizer } from '../../lib/authz/delegating.js';
import {
  authenticate as expressAuthenticate,
  authorize as expressAuthorize,
  delegatedAuth as expressDelegatedAuth,
  delegatedAuthLocals,
  requestInfo as expressRequestInfo,
} from '../../lib/express/index.js';
import { fastifyDelegatedAuth, kubeFrameworkErrors } from '../../lib/fastify/index.js';
import { delegatedAuthChain } from '../../lib/koa/index.js';
import { withDelegatedAuth } from '../../lib/node-http/index.js';
import type { DelegatedAuthPipelineOptions } from '../../lib/http/pipeline.js';
import type { RequestHeaderConfig, TrustSource } from '../../lib/trust/interfaces.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { testPki, type TestCert } from '../support/pki.js';
import { startTlsServer, type TestTlsServer } from '../support/tls-server.js';

export type AdapterName = 'koa' | 'express' | 'express-steps' | 'fastify' | 'node-http';
/** `express-steps`: Express `requestInfo()` + `authenticate()` + `authorize()` as separate middleware. */
export const adapterNames: readonly AdapterName[] = ['koa', 'express', 'express-steps', 'fastify', 'node-http'];

/** What the handler saw. */
export interface Routed {
  /** The path the framework routed on: Koa `ctx.path`, Express `req.path` (in a route), Fastify `/` + the `*` param, node:http `new URL(req.url, 'http://x').pathname`. */
  readonly routedPath: string;
  /** Fastify's is already decoded (find-my-way decodes before matching); the others are raw. */
  readonly routedDecoded: boolean;
  readonly url: string;
  readonly attributes: RequestAttributes;
  readonly user: UserInfo;
  readonly authenticator: string;
  /** Lower-case header names of `req.headers`, `req.headersDistinct` and `req.rawHeaders` together. */
  readonly headerNames: readonly string[];
  readonly rawHeaders: readonly string[];
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The handler's report, when the request reached it. */
  readonly routed?: Routed;
}

export interface AdapterStack {
  readonly name: AdapterName;
  readonly url: string;
  /** Every attribute set the authorizer was asked about, in order. */
  readonly authorized: RequestAttributes[];
  /** Writes one request (request line with `target` as given, `headers` as given) on a fresh TLS socket. */
  raw(
    method: string,
    target: string,
    headers?: readonly (readonly [string, string])[],
    cert?: TestCert,
  ): Promise<RawAnswer>;
  close(): Promise<void>;
}

export interface AdapterStackOptions {
  /** Front-proxy header configuration. Default: Go's flag defaults with allowed names `[front-proxy-client]`. */
  readonly config?: Partial<RequestHeaderConfig>;
  /** Decides after recording. Default: allow everything. */
  readonly allow?: (attrs: RequestAttributes) => boolean;
  /** Fastify's `routerOptions`. */
  readonly fastifyRouterOptions?: Record<string, unknown>;
}

/** The bearer token the in-process token authenticator accepts (as user `token-user`). */
export const adapterGoodToken = 'good-token';

function reportOf(req: IncomingMessage, routedPath: string, routedDecoded: boolean, state: object): Routed {
  const names = new Set<string>([
    ...Object.keys(req.headers),
    ...Object.keys(req.headersDistinct),
    ...req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()),
  ]);
  const s = state as { attributes: RequestAttributes; user: UserInfo; authenticator: string };
  return {
    routedPath,
    routedDecoded,
    url: req.url ?? '',
    attributes: s.attributes,
    user: s.user,
    authenticator: s.authenticator,
    headerNames: [...names],
    rawHeaders: [...req.rawHeaders],
  };
}

function send(res: ServerResponse, report: Routed): void {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(report));
}

export async function startAdapterStack(name: AdapterName, options: AdapterStackOptions = {}): Promise<AdapterStack> {
  const pki = testPki();
  const authorized: RequestAttributes[] = [];
  const allow = options.allow ?? (() => true);
  const authorizer: Authorizer = authorizerFunc(async (attrs) => {
    authorized.push(attrs);
    return allow(attrs) ? { decision: Decision.Allow, reason: '' } : { decision: Decision.NoOpinion, reason: '' };
  });
  const requestHeader = {
    caProvider: staticCABundle(pki.frontProxyCA.certPem),
    configProvider: staticRequestHeaderConfig(options.config ?? { allowedNames: ['front-proxy-client'] }),
  };
  const authOptions: DelegatedAuthPipelineOptions & { authorizer: Authorizer } = {
    requestHeader,
    clientCA: staticCABundle(pki.clientCA.certPem),
    tokenAuthenticator: tokenAuthenticatorFunc(async (token) =>
      token === adapterGoodToken
        ? { ok: true, authenticator: 'tokenreview', user: { name: 'token-user', uid: '', groups: [], extra: {} } }
        : { ok: false },
    ),
    anonymous: true,
    authorizer,
  };

  let server: TestTlsServer;
  let closeApp: () => Promise<void> = async () => {};
  switch (name) {
    case 'koa': {
      // delegatedAuth()'s middleware over a stack without a cluster: the same chain, the public entry point.
      const stack = {
        authenticator: newDelegatingAuthenticator(authOptions),
        authorizer: authorizer as DelegatingAuthorizer,
        trust: {
          requestHeaderCA: requestHeader.caProvider,
          requestHeaderConfig: requestHeader.configProvider,
        } as TrustSource,
      };
      const app = new Koa();
      app.silent = true;
      for (const m of delegatedAuthChain(stack)) app.use(m);
      app.use((ctx) => {
        ctx.respond = false;
        send(ctx.res, reportOf(ctx.req, ctx.path, false, ctx.state));
      });
      server = await startTlsServer(app.callback());
      break;
    }
    case 'express': {
      const app = express();
      app.use(expressDelegatedAuth(authOptions));
      app.all('/{*splat}', (req, res) => send(res, reportOf(req, req.path, false, delegatedAuthLocals(res))));
      server = await startTlsServer(app);
      break;
    }
    case 'express-steps': {
      const app = express();
      app.use(expressRequestInfo(), expressAuthenticate(authOptions), expressAuthorize({ authorizer }));
      app.all('/{*splat}', (req, res) => send(res, reportOf(req, req.path, false, delegatedAuthLocals(res))));
      server = await startTlsServer(app);
      break;
    }
    case 'fastify': {
      let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
      const app = Fastify({
        frameworkErrors: kubeFrameworkErrors,
        ...(options.fastifyRouterOptions && { routerOptions: options.fastifyRouterOptions }),
        serverFactory: (h) => {
          handler = h;
          return createServer();
        },
      });
      await app.register(fastifyDelegatedAuth, authOptions);
      app.all('/*', async (request, reply) => {
        reply.hijack();
        const wildcard = (request.params as Record<string, string>)['*'] ?? '';
        send(reply.raw, reportOf(request.raw, `/${wildcard}`, true, request.kubeAuth ?? {}));
      });
      await app.ready();
      server = await startTlsServer((req, res) => handler!(req, res));
      closeApp = () => app.close();
      break;
    }
    case 'node-http': {
      server = await startTlsServer(
        withDelegatedAuth(
          (req, res, state) => send(res, reportOf(req, new URL(req.url!, 'http://x').pathname, false, state)),
          authOptions,
        ),
      );
      break;
    }
  }
  const port = (server.server.address() as AddressInfo).port;
  const sockets = new Set<TLSSocket>();

  return {
    name,
    url: server.url,
    authorized,
    raw(method, target, headers = [], cert) {
      const head = [`${method} ${target} HTTP/1.1`, 'Host: localhost', 'Connection: close'];
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') head.push('Content-Length: 0');
      for (const [k, v] of headers) head.push(`${k}: ${v}`);
      const bytes = Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'utf8');
      return new Promise((resolve, reject) => {
        const s = connect({
          host: '127.0.0.1',
          port,
          ca: pki.servingCA.certPem,
          servername: 'localhost',
          ...(cert && { cert: cert.chainPem, key: cert.keyPem }),
        });
        sockets.add(s);
        const chunks: Buffer[] = [];
        let settled = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          sockets.delete(s);
          resolve(parseResponse(Buffer.concat(chunks).toString('utf8')));
        };
        s.on('secureConnect', () => s.end(bytes));
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('error', (err: NodeJS.ErrnoException) => {
          // A server that answers and closes may reset before we read everything; what we got is the answer.
          if (chunks.length > 0 || err.code === 'ECONNRESET') finish();
          else if (!settled) {
            settled = true;
            reject(err);
          }
        });
        s.on('close', finish);
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await server.close();
      await closeApp();
    },
  };
}

/** Status, headers (lower-case names, last wins) and body of one HTTP/1.1 response (`Connection: close`). */
function parseResponse(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  let body = end < 0 ? '' : text.slice(end + 4);
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  if (headers['transfer-encoding'] === 'chunked') body = unchunk(body);
  let routed: Routed | undefined;
  if (status === 200 && headers['content-type'] === 'application/json') {
    try {
      const parsed = JSON.parse(body) as Partial<Routed>;
      if (typeof parsed.routedPath === 'string') routed = parsed as Routed;
    } catch {
      // Not the handler's report.
    }
  }
  return { status, headers, body, ...(routed && { routed }) };
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) return out;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!(size > 0)) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}
