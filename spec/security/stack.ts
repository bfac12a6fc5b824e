// The full Koa stack (requestInfo → authenticate → authorize) behind lib/server's secure server, over real TLS, with
// a handler that records exactly what reached it. Shared by the spoof matrix and the header fuzzing properties.
import Koa from 'koa';
import { connect, type TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { Agent } from 'undici';
import { tokenAuthenticatorFunc, type UserInfo } from '../../lib/authn/interfaces.js';
import { Decision, authorizerFunc, type RequestAttributes } from '../../lib/authz/interfaces.js';
import { authenticate } from '../../lib/koa/authenticate.js';
import { authorize } from '../../lib/koa/authorize.js';
import { requestInfo } from '../../lib/koa/request-info.js';
import { createSecureServer, type SecureServer } from '../../lib/server/secure-server.js';
import type {
  CABundle,
  CABundleProvider,
  Listener,
  RequestHeaderConfig,
  RequestHeaderConfigProvider,
} from '../../lib/trust/interfaces.js';
import { parsePemBundle } from '../../lib/trust/pem.js';
import { staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { testPki, type TestCert } from '../support/pki.js';

/** What the handler saw for one request. */
export interface Seen {
  readonly user: UserInfo;
  readonly authenticator: string;
  /** Lower-case header names of `req.headers`, `req.headersDistinct` and `req.rawHeaders` together. */
  readonly headerNames: readonly string[];
  readonly rawHeaders: readonly string[];
}

/** A CA provider the test swaps (a rotation), bumping the version as a ConfigMap update does. */
export interface SwappableCA extends CABundleProvider {
  swap(pem: string): void;
}

export function swappableCA(name: string, pem: string): SwappableCA {
  const listeners = new Set<Listener>();
  const make = (p: string, version: number): CABundle => {
    const parsed = parsePemBundle(p, name);
    return { pem: parsed.pem, certificates: parsed.certificates, version };
  };
  let bundle = make(pem, 1);
  return {
    name,
    current: () => bundle,
    addListener(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    swap(p) {
      bundle = make(p, bundle.version + 1);
      for (const l of [...listeners]) l();
    },
  };
}

export interface SecurityStack {
  readonly url: string;
  readonly port: number;
  /** PEM clients must trust for the serving certificate. */
  readonly servingCaPem: string;
  readonly frontProxyCA: SwappableCA;
  readonly clientCA: SwappableCA;
  /** Every request that reached the handler, in order. */
  readonly seen: Seen[];
  /** Every user the authorizer was asked about. */
  readonly authorized: RequestAttributes[];
  /** An agent presenting `cert` (chain included), trusting the serving CA; closed with the stack. */
  agent(cert?: TestCert, extra?: { allowH2?: boolean }): Agent;
  /** Writes `raw` (bytes of one or more HTTP/1.1 requests) on a fresh TLS socket; resolves with everything read. */
  raw(raw: Buffer | string, cert?: TestCert): Promise<string>;
  close(): Promise<void>;
}

/** The bearer token the in-process token authenticator accepts (as user `token-user`). */
export const goodToken = 'good-token';

export const identityHeaderPattern = /^(authorization|x-remote-|impersonate-)/;

export interface SecurityStackOptions {
  /** Front-proxy header configuration. Default: Go's flag defaults with allowed names `[front-proxy-client]`. */
  readonly config?: Partial<RequestHeaderConfig>;
  /** A live configuration instead of `config` (tests that change allowed names mid-connection). */
  readonly configProvider?: RequestHeaderConfigProvider;
  /** Client CA bundle. Default: the test client CA. */
  readonly clientCaPem?: string;
  /** The authenticators' clock (certificate validity per request). Default: Date.now. */
  readonly clock?: () => number;
}

/** A request-header configuration the test replaces, notifying listeners as a ConfigMap update would. */
export function swappableConfig(
  config: Partial<RequestHeaderConfig>,
): RequestHeaderConfigProvider & { swap(c: Partial<RequestHeaderConfig>): void } {
  const listeners = new Set<Listener>();
  let value = staticRequestHeaderConfig(config).current()!;
  return {
    name: 'test-request-header-config',
    current: () => value,
    addListener(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    swap(c) {
      value = staticRequestHeaderConfig(c).current()!;
      for (const l of [...listeners]) l();
    },
  };
}

export async function startSecurityStack(options: SecurityStackOptions = {}): Promise<SecurityStack> {
  const pki = testPki();
  const frontProxyCA = swappableCA('test-front-proxy-ca', pki.frontProxyCA.certPem);
  const clientCA = swappableCA('test-client-ca', options.clientCaPem ?? pki.clientCA.certPem);
  const configProvider =
    options.configProvider ?? staticRequestHeaderConfig(options.config ?? { allowedNames: ['front-proxy-client'] });
  const seen: Seen[] = [];
  const authorized: RequestAttributes[] = [];

  const app = new Koa();
  app.use(requestInfo());
  app.use(
    authenticate({
      requestHeader: { caProvider: frontProxyCA, configProvider },
      clientCA,
      ...(options.clock && { clock: options.clock }),
      tokenAuthenticator: tokenAuthenticatorFunc(async (token) =>
        token === goodToken
          ? {
              ok: true,
              authenticator: 'tokenreview',
              user: { name: 'token-user', uid: '', groups: ['token-group'], extra: {} },
            }
          : { ok: false },
      ),
    }),
  );
  app.use(
    authorize({
      authorizer: authorizerFunc(async (attrs) => {
        authorized.push(attrs);
        return { decision: Decision.Allow, reason: '' };
      }),
    }),
  );
  app.use((ctx) => {
    const req: IncomingMessage = ctx.req;
    const names = new Set<string>([
      ...Object.keys(req.headers),
      ...Object.keys(req.headersDistinct),
      ...req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()),
    ]);
    const state = ctx.state as { user: UserInfo; authenticator: string };
    seen.push({
      user: state.user,
      authenticator: state.authenticator,
      headerNames: [...names],
      rawHeaders: [...req.rawHeaders],
    });
    ctx.body = { user: state.user, authenticator: state.authenticator };
  });

  const server: SecureServer = createSecureServer({
    handler: app.callback(),
    selfSigned: {},
    bindAddress: '127.0.0.1',
    securePort: 0,
    clientCA,
    requestHeaderCA: frontProxyCA,
    shutdownTimeout: 2_000,
  });
  await server.listen();
  const servingCaPem = server.selfSignedCaPem!;
  const agents: Agent[] = [];
  const sockets = new Set<TLSSocket>();

  return {
    url: `https://127.0.0.1:${server.port}`,
    port: server.port,
    servingCaPem,
    frontProxyCA,
    clientCA,
    seen,
    authorized,
    agent(cert, extra = {}) {
      const a = new Agent({
        connect: cert ? { ca: servingCaPem, cert: cert.chainPem, key: cert.keyPem } : { ca: servingCaPem },
        ...(extra.allowH2 !== undefined && { allowH2: extra.allowH2 }),
      });
      agents.push(a);
      return a;
    },
    raw(bytes, cert) {
      return new Promise((resolve, reject) => {
        const s = connect({
          host: '127.0.0.1',
          port: server.port,
          ca: servingCaPem,
          servername: 'localhost',
          ...(cert && { cert: cert.chainPem, key: cert.keyPem }),
        });
        sockets.add(s);
        const chunks: Buffer[] = [];
        s.on('secureConnect', () => s.end(bytes));
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('error', (err: NodeJS.ErrnoException) => {
          // A server that answers and closes may reset before we read everything; what we got is the answer.
          if (chunks.length > 0 || err.code === 'ECONNRESET') resolve(Buffer.concat(chunks).toString('latin1'));
          else reject(err);
        });
        s.on('close', () => {
          sockets.delete(s);
          resolve(Buffer.concat(chunks).toString('latin1'));
        });
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(agents.splice(0).map((a) => a.close()));
      await server.close();
    },
  };
}
