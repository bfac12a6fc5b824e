// The four framework adapters, each built through its public factory exactly as a user wires it (Koa
// delegatedAuth(stack) or requestInfo() + authenticate() + authorize(), Express delegatedAuth() or its three steps, the
// Fastify plugin, node:http withDelegatedAuth()), behind a real TLS server that requests but does not check client
// certificates (verification is the library's job), each ending in a handler the spec gives. On top of it:
// {@link publicAdapters} (an echo of the identity, for the refusal and certificate specs) and
// {@link startAdapterStack} (a report of the routed path, the authorized attributes and the headers still visible;
// raw TLS sockets write the request line as given, since HTTP clients normalise targets).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import express from 'express';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import Koa from 'koa';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import { tokenAuthenticatorFunc, type UserInfo } from '../../lib/authn/interfaces.js';
import { Decision, authorizerFunc, type Authorizer, type RequestAttributes } from '../../lib/authz/interfaces.js';
import {
  authenticate as expressAuthenticate,
  authorize as expressAuthorize,
  delegatedAuth as expressDelegatedAuth,
  delegatedAuthLocals,
  requestInfo as expressRequestInfo,
} from '../../lib/express/index.js';
import { fastifyDelegatedAuth, kubeFrameworkErrors } from '../../lib/fastify/index.js';
import { authenticate, authorize, delegatedAuth as koaDelegatedAuth, requestInfo } from '../../lib/koa/index.js';
import { withDelegatedAuth } from '../../lib/node-http/index.js';
import type { DelegatedAuthPipelineOptions } from '../../lib/http/pipeline.js';
import type { RequestHeaderConfig } from '../../lib/trust/interfaces.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { testPki, type TestCert } from './pki.js';
import { startTlsServer, type TestTlsServer } from './tls-server.js';

/**
 * How the adapter is wired: `koa` delegatedAuth(stack) (over a stack without a cluster), `koa-steps` requestInfo() + authenticate() + authorize() (authorize() only with an authorizer),
 * `express` delegatedAuth(), `express-steps` requestInfo() + authenticate() + authorize(), `fastify` the plugin,
 * `node-http` withDelegatedAuth().
 */
export type AdapterKind = 'koa' | 'koa-steps' | 'express' | 'express-steps' | 'fastify' | 'node-http';

/** What the adapter hands the final handler. */
export interface AdapterView {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Koa `ctx.state`, Express `delegatedAuthLocals(res)`, Fastify `request.kubeAuth`, node:http's state. */
  readonly state: { user?: UserInfo; authenticator?: string; attributes?: RequestAttributes };
  /** The path the framework routed on: Koa `ctx.path`, Express `req.path`, Fastify `/` + the `*` param, node:http `new URL(req.url, 'http://x').pathname`. */
  readonly routedPath: string;
  /** Fastify's is already decoded (find-my-way decodes before matching); the others are raw. */
  readonly routedDecoded: boolean;
}

export interface AdapterWiring {
  /** Express: end in a route (`app.all('/{*splat}')`, `req.path` as a route sees it) instead of a middleware. */
  readonly expressRoute?: boolean;
  /** Fastify's `routerOptions`. */
  readonly fastifyRouterOptions?: Record<string, unknown>;
}

/** A Fastify app served by the test's TLS server: Fastify contributes only its request handler. */
export async function startFastifyTls(
  setup: (app: FastifyInstance) => Promise<void>,
  options: Omit<FastifyServerOptions, 'serverFactory'> = {},
): Promise<TestTlsServer> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const app = Fastify({
    ...options,
    serverFactory: (h) => {
      handler = h;
      return createServer();
    },
  });
  await setup(app);
  await app.ready();
  const server = await startTlsServer((req, res) => handler!(req, res));
  return {
    ...server,
    async close() {
      await server.close();
      await app.close();
    },
  };
}

/** One adapter wired from the public entry points with `options`, ending in `handler`, on real TLS. */
export async function startAdapter(
  kind: AdapterKind,
  options: DelegatedAuthPipelineOptions,
  handler: (view: AdapterView) => void,
  wiring: AdapterWiring = {},
): Promise<TestTlsServer> {
  const express5 = (app: express.Express) => {
    const end = (req: express.Request, res: express.Response) =>
      handler({ req, res, state: delegatedAuthLocals(res), routedPath: req.path, routedDecoded: false });
    if (wiring.expressRoute) app.all('/{*splat}', end);
    else app.use(end);
    return startTlsServer(app);
  };
  switch (kind) {
    case 'koa':
    case 'koa-steps': {
      const app = new Koa();
      app.silent = true;
      if (kind === 'koa') {
        // A stack as createDelegatedAuth() hands it to every adapter: its pipeline options.
        const stack = {
          pipelineOptions: () => ({ ...options, authenticator: newDelegatingAuthenticator(options) }),
        };
        app.use(koaDelegatedAuth(stack));
      } else {
        app.use(requestInfo(options.logger ? { logger: options.logger } : {}));
        app.use(authenticate(options));
        if (options.authorizer) app.use(authorize({ authorizer: options.authorizer }));
      }
      app.use((ctx) => {
        ctx.respond = false;
        handler({ req: ctx.req, res: ctx.res, state: ctx.state, routedPath: ctx.path, routedDecoded: false });
      });
      return startTlsServer(app.callback());
    }
    case 'express': {
      const app = express();
      app.use(expressDelegatedAuth(options));
      return express5(app);
    }
    case 'express-steps': {
      const app = express();
      app.use(
        expressRequestInfo(),
        expressAuthenticate(options),
        expressAuthorize({ authorizer: options.authorizer! }),
      );
      return express5(app);
    }
    case 'fastify':
      return startFastifyTls(
        async (app) => {
          await app.register(fastifyDelegatedAuth, options);
          app.all('/*', async (request, reply) => {
            reply.hijack();
            const wildcard = (request.params as Record<string, string>)['*'] ?? '';
            handler({
              req: request.raw,
              res: reply.raw,
              state: request.kubeAuth ?? {},
              routedPath: `/${wildcard}`,
              routedDecoded: true,
            });
          });
        },
        {
          frameworkErrors: kubeFrameworkErrors,
          ...(wiring.fastifyRouterOptions && { routerOptions: wiring.fastifyRouterOptions }),
        },
      );
    case 'node-http':
      return startTlsServer(
        withDelegatedAuth(
          (req, res, state) =>
            handler({ req, res, state, routedPath: new URL(req.url!, 'http://x').pathname, routedDecoded: false }),
          options,
        ),
      );
  }
}

// ---- publicAdapters: the identity echo ----

/** What the echo handler answers for an admitted request. */
export interface EchoBody {
  readonly user: UserInfo;
  readonly authenticator: string;
}

function echo({ res, state }: AdapterView): void {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ user: state.user, authenticator: state.authenticator }));
}

export interface PublicAdapter {
  readonly name: string;
  start(options: DelegatedAuthPipelineOptions): Promise<TestTlsServer>;
}

/**
 * The test PKI's trust as the public adapters take it: front-proxy CA (allowed name `front-proxy-client`, Go's
 * header flag defaults) and client CA, each named `request-header::<label>` / `client-ca::<label>`, anonymous on.
 */
export function testTrustOptions(label: string): DelegatedAuthPipelineOptions {
  const pki = testPki();
  return {
    requestHeader: {
      caProvider: staticCABundle(pki.frontProxyCA.certPem, `request-header::${label}`),
      configProvider: staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] }),
    },
    clientCA: staticCABundle(pki.clientCA.certPem, `client-ca::${label}`),
    anonymous: true,
  };
}

/** The four adapters from the public entry points, each ending in the identity echo. */
export const publicAdapters: readonly PublicAdapter[] = (
  [
    ['koa requestInfo() + authenticate() + authorize()', 'koa-steps'],
    ['express delegatedAuth()', 'express'],
    ['fastify fastifyDelegatedAuth', 'fastify'],
    ['node:http withDelegatedAuth()', 'node-http'],
  ] as const
).map(([name, kind]) => ({ name, start: (options) => startAdapter(kind, options, echo) }));

// ---- startAdapterStack: the routing report over raw TLS ----

export type AdapterName = 'koa' | 'express' | 'express-steps' | 'fastify' | 'node-http';
/** `express-steps`: Express `requestInfo()` + `authenticate()` + `authorize()` as separate middleware. */
export const adapterNames: readonly AdapterName[] = ['koa', 'express', 'express-steps', 'fastify', 'node-http'];

/** What the handler saw. */
export interface Routed {
  /** The path the framework routed on (see {@link AdapterView.routedPath}). */
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

  const server = await startAdapter(
    name,
    authOptions,
    (view) => send(view.res, reportOf(view.req, view.routedPath, view.routedDecoded, view.state)),
    { expressRoute: true, ...(options.fastifyRouterOptions && { fastifyRouterOptions: options.fastifyRouterOptions }) },
  );
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
